"""Small memory pages for the simulator's arrays: a speed setting that leaves results unchanged.

NumPy advises Linux to back every large array with transparent huge pages (2 MiB). Where the
kernel compacts memory on the spot to find them (`/sys/kernel/mm/transparent_hugepage/defrag`
set to `madvise`, a common default), each first touch of a new array can stall in the
kernel. A simulator run allocates its population (hundreds of MiB at 1:1) and many
temporaries every run, so the stalls add up: on the 2-core development machine a 1:1 run
spent about 1.5 s of its 6 s in the kernel with the advice and 0.15 s without it, and a 1:2
run 0.4 s and 0.1 s, with the same user time (docs/scaling.md). Every process that runs
simulator jobs (the `handover` commands, their worker processes and Dask workers) imports
`experiments.study.jobs`, which turns the advice off. Set `NUMPY_MADVISE_HUGEPAGE=1` (NumPy's
own switch) in the environment to keep NumPy's default.
"""

from __future__ import annotations

import os

from numpy._core.multiarray import _set_madvise_hugepage


def use_small_pages() -> bool:
    """Stop NumPy from advising huge pages, unless `NUMPY_MADVISE_HUGEPAGE` says otherwise.

    Returns:
        True if the advice is now off.
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return os.environ["NUMPY_MADVISE_HUGEPAGE"] == "0"
    _set_madvise_hugepage(False)
    return True
