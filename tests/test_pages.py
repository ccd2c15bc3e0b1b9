"""The huge-page setting of study processes (experiments/study/pages.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import os, sys
import numpy as np
from experiments.study.pages import use_small_pages
print(use_small_pages(), np._core.multiarray._get_madvise_hugepage())
"""


def _child(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if env_value is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = env_value
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return out.stdout.strip()


def test_advice_turned_off_unless_the_environment_decides():
    assert _child(None) == "True False"
    assert _child("1") == "False True"  # the user's choice is kept
    assert _child("0") == "True False"
