"""One executor layer for every multi-run command: serial, local processes, Dask distributed.

An executor maps a picklable top-level function over a list of items and yields
`(index, value, error)` as each task completes (not in submission order), so that callers
can store results immediately. Tasks are usually *chunks* of jobs (see `plan_chunks`), which
keeps per-task overhead small for short simulation runs.

Config node (`configs/executor/*.yaml`, key `executor`)::

    kind: serial | processes | dask
    workers: int or null    # null: all usable cores (ignored when connecting to a scheduler)
    address: str or null    # dask only: tcp://host:port of an existing scheduler
    chunk_size: int or null # jobs per task; null: decreasing sizes chosen from workers

Executors never touch random state: each job carries its own seed, so results do not depend
on the executor, the worker count or the order in which tasks finish.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from experiments.config import ConfigError

KINDS = ("serial", "processes", "dask")
_KEYS = ("kind", "workers", "address", "chunk_size")

#: Largest automatic chunk: bounds the work lost when a study is killed mid-chunk.
MAX_AUTO_CHUNK = 16
#: Dask settings for the LocalCluster a study starts itself (see `DaskExecutor.start`).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.scheduler.work-stealing": False,
}


@dataclass(frozen=True)
class ExecutorSpec:
    """A validated `executor` config node.

    Attributes:
        kind: "serial", "processes" or "dask".
        workers: number of worker processes (1 for serial).
        address: Dask scheduler address, or None for a fresh LocalCluster.
        chunk_size: jobs per task, or None for automatic (decreasing) chunk sizes.
    """

    kind: str = "serial"
    workers: int = 1
    address: str | None = None
    chunk_size: int | None = None


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """In a worker process: exit as soon as `parent` (the study's process) is gone.

    A study killed with SIGKILL cannot stop its workers; without this they would keep
    computing for nobody. A daemon thread polls the parent's pid (re-parenting changes it).

    Args:
        parent: pid of the process that started this worker.
        interval: seconds between checks.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    if os.getppid() == parent:
        threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parse_executor(cfg: dict[str, Any] | ExecutorSpec | None) -> ExecutorSpec:
    """Validate an `executor` config node.

    Args:
        cfg: mapping with keys kind, workers, address, chunk_size (missing keys take
            defaults), an `ExecutorSpec`, or None for serial.

    Returns:
        The validated spec.

    Raises:
        ConfigError: unknown key, unknown kind, bad worker count, chunk size or address.
    """
    if cfg is None:
        return ExecutorSpec()
    if isinstance(cfg, ExecutorSpec):
        return cfg
    if not isinstance(cfg, dict):
        raise ConfigError(f"executor: expected a mapping with keys {', '.join(_KEYS)}")
    unknown = sorted(set(cfg) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"executor.{unknown[0]}: unknown key; allowed: {', '.join(_KEYS)}"
        )
    kind = cfg.get("kind", "serial")
    if kind not in KINDS:
        raise ConfigError(f"executor.kind: unknown kind '{kind}'; allowed: {', '.join(KINDS)}")
    workers = cfg.get("workers")
    if workers is None:
        workers = 1 if kind == "serial" else usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"executor.workers: must be a positive integer or null, got {workers!r}")
    if kind == "serial" and workers != 1:
        raise ConfigError(
            "executor.workers: serial runs with 1 worker; use executor=processes or "
            "executor=dask for more"
        )
    address = cfg.get("address")
    if address is not None:
        if kind != "dask":
            raise ConfigError("executor.address: only allowed with executor=dask")
        from experiments.validation import check_address

        check_address(address)
    chunk = cfg.get("chunk_size")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ConfigError(f"executor.chunk_size: must be a positive integer or null, got {chunk!r}")
    return ExecutorSpec(kind=kind, workers=workers, address=address, chunk_size=chunk)


def plan_chunks(n_jobs: int, workers: int, chunk_size: int | None = None) -> list[range]:
    """Split `n_jobs` job indices into consecutive chunks, one chunk per task.

    With `chunk_size` set, every chunk has that size (the last may be shorter). Otherwise
    chunk sizes decrease ("guided" scheduling): each chunk takes 1/(4 x workers) of the
    jobs still unassigned, capped at `MAX_AUTO_CHUNK`, so that few tasks are needed while
    the last tasks are small and all workers finish at about the same time.

    Args:
        n_jobs: number of jobs.
        workers: number of parallel workers.
        chunk_size: fixed chunk size, or None for automatic sizes.

    Returns:
        Consecutive ranges covering 0..n_jobs-1 exactly once.
    """
    chunks: list[range] = []
    start = 0
    while start < n_jobs:
        remaining = n_jobs - start
        if chunk_size:
            size = chunk_size
        else:
            size = min(MAX_AUTO_CHUNK, math.ceil(remaining / (4 * max(1, workers))))
        size = max(1, min(size, remaining))
        chunks.append(range(start, start + size))
        start += size
    return chunks


#: What an executor yields per finished task: (item index, return value, exception or None).
TaskResult = tuple[int, Any, BaseException | None]


class Executor:
    """Base class: a context manager that maps a function over items, yielding as completed.

    Use `make_executor(cfg)` to build one. `workers` is the parallelism actually available
    (for a remote Dask scheduler: its number of worker threads when the executor starts).
    """

    kind = "serial"

    def __init__(self, spec: ExecutorSpec):
        self.spec = spec
        self.workers = spec.workers

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Acquire workers (no-op for serial)."""

    def close(self) -> None:
        """Release workers (and a cluster this executor created)."""

    def map_unordered(
        self, func: Callable[..., Any], items: Sequence[Any], *args: Any
    ) -> Iterator[TaskResult]:
        """Run `func(item, *args)` for every item; yield results as tasks complete.

        A task that raises yields its exception instead of a value; the other tasks go on.

        Args:
            func: picklable top-level function.
            items: task inputs; yielded indices refer to positions in this sequence.
            *args: extra arguments passed to every call (shipped once per task).

        Yields:
            (index, value, None) on success or (index, None, exception) on failure.
        """
        for i, item in enumerate(items):
            try:
                yield i, func(item, *args), None
            except Exception as err:  # noqa: BLE001 - reported to the caller
                yield i, None, err


class SerialExecutor(Executor):
    """Runs tasks one by one in this process, in order."""

    kind = "serial"


class ProcessExecutor(Executor):
    """A local pool of worker processes started with the 'spawn' method.

    'spawn' gives every worker a fresh interpreter: no random state or module state is
    inherited from the parent, and it behaves the same on Linux and macOS. Tasks are
    submitted in order, at most `4 x workers` at a time, so memory stays bounded.
    """

    kind = "processes"

    def __init__(self, spec: ExecutorSpec):
        super().__init__(spec)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        import multiprocessing

        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                             initializer=watch_parent,
                                             initargs=(os.getpid(),))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map_unordered(
        self, func: Callable[..., Any], items: Sequence[Any], *args: Any
    ) -> Iterator[TaskResult]:
        from concurrent.futures.process import BrokenProcessPool

        self.start()
        window = 4 * self.workers
        pending: dict[Any, int] = {}
        next_item = 0
        while next_item < len(items) or pending:
            broken = False
            while next_item < len(items) and len(pending) < window:
                assert self._pool is not None
                try:
                    fut = self._pool.submit(func, items[next_item], *args)
                except BrokenProcessPool:
                    broken = True
                    break
                pending[fut] = next_item
                next_item += 1
            # after a break every future in flight ends at once: collect them all
            done, _ = wait(pending, return_when=ALL_COMPLETED if broken else FIRST_COMPLETED)
            for fut in done:
                index = pending.pop(fut)
                err = fut.exception()
                broken = broken or isinstance(err, BrokenProcessPool)
                yield (index, None, err) if err is not None else (index, fut.result(), None)
            if broken:
                # A worker died abruptly (crash, out of memory, killed): the tasks in flight
                # are lost and reported as failed; carry on with a fresh pool.
                done, _ = wait(pending)
                for fut in done:
                    index = pending.pop(fut)
                    err = fut.exception()
                    yield (index, None, err) if err is not None else (index, fut.result(), None)
                self.close()
                self.start()


class DaskExecutor(Executor):
    """Dask distributed: a fresh `LocalCluster`, or an existing scheduler at `address`.

    The LocalCluster runs `workers` single-threaded worker processes (the simulator is
    CPU-bound Python, threads would contend for the GIL) and no dashboard. With an address,
    the executor connects to that scheduler and leaves the cluster running on close.
    """

    kind = "dask"

    def __init__(self, spec: ExecutorSpec):
        super().__init__(spec)
        self._client: Any = None
        self._cluster: Any = None

    def start(self) -> None:
        if self._client is not None:
            return
        from distributed import Client, LocalCluster

        if self.spec.address:
            try:
                self._client = Client(self.spec.address, timeout="20s")
            except OSError as err:
                raise ConfigError(
                    f"executor.address: cannot reach Dask scheduler {self.spec.address}: {err}"
                ) from None
            threads = sum(self._client.nthreads().values())
            self.workers = max(1, threads)
        else:
            import dask

            # Workers copy this config when they start. The statistical profiler (a stack
            # sample every 10 ms), the memory and system monitors, event-loop ticks and work
            # stealing cost ~20 % of a busy 2-core machine; our tasks are CPU-bound chunks of
            # short runs, so none of them is worth it here.
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    memory_limit=0,
                    # no dashboard; the scheduler's small HTTP server takes a free local port
                    # instead of 8787, which other clusters on the machine may hold
                    dashboard_address="127.0.0.1:0",
                    scheduler_kwargs={"dashboard": False},
                )
            self._client = Client(self._cluster)
            # workers of our own cluster die with this process (even on kill -9)
            from experiments.study.dask_plugins import ParentWatch

            self._client.register_plugin(ParentWatch(os.getpid()))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map_unordered(
        self, func: Callable[..., Any], items: Sequence[Any], *args: Any
    ) -> Iterator[TaskResult]:
        from distributed import as_completed

        self.start()
        client = self._client
        futures = {}
        n = len(items)
        for i, item in enumerate(items):
            # Higher priority first: tasks start roughly in submission order, so the
            # large early chunks of `plan_chunks` run first and the small ones last.
            fut = client.submit(func, item, *args, pure=False, priority=n - i)
            futures[fut] = i
        try:
            for fut in as_completed(list(futures)):
                index = futures.pop(fut)
                try:
                    value = fut.result()
                except Exception as err:  # noqa: BLE001 - reported to the caller
                    yield index, None, err
                else:
                    yield index, value, None
                fut.release()
        finally:
            for fut in futures:
                fut.cancel()


def make_executor(cfg: dict[str, Any] | ExecutorSpec | None) -> Executor:
    """Build an executor from an `executor` config node (not started yet: use `with`).

    Args:
        cfg: the `executor` node: {kind, workers, address, chunk_size}; None for serial.

    Returns:
        A `SerialExecutor`, `ProcessExecutor` or `DaskExecutor`.

    Raises:
        ConfigError: invalid node (see `parse_executor`).

    Example:
        >>> with make_executor({"kind": "serial"}) as ex:
        ...     [v for _, v, _ in ex.map_unordered(abs, [-1, -2])]
        [1, 2]
    """
    spec = parse_executor(cfg)
    cls = {"serial": SerialExecutor, "processes": ProcessExecutor, "dask": DaskExecutor}
    return cls[spec.kind](spec)
