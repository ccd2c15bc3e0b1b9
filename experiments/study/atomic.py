"""Atomic output files: write to a temp file in the destination folder, then `os.replace`.

Every writer here creates the parent folders, writes the complete content to a hidden
temporary sibling, gives it the permissions an ordinary `open()` would (`publish`) and
renames it into place, so a reader never sees a half-written file and a failed write
leaves no temp file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd


def publish(tmp: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Give a finished temp file normal permissions (0666 minus umask) and move it in place.

    `tempfile.mkstemp` creates files readable by the owner only; outputs are meant to be
    shared, so they get the permissions an ordinary `open()` would give.

    Args:
        tmp: the complete temporary file (same folder as `dest`).
        dest: final path.
    """
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, dest)


#: Name prefix of every temporary file this project writes (store parts, tables, figures).
TEMP_PREFIX = ".tmp-"


def remove_temp_files(folder: str | os.PathLike) -> int:
    """Delete temporary files a killed process left under `folder` (recursively).

    Only files named with `TEMP_PREFIX` are touched; call it while holding the study's
    lock, so no live writer owns them.

    Returns:
        How many files were deleted.
    """
    root = Path(folder)
    if not root.is_dir():
        return 0
    count = 0
    for tmp in root.rglob(f"{TEMP_PREFIX}*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            count += 1
    return count


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], Any], suffix: str = ".tmp"
) -> Path:
    """Write a file through a temporary sibling and `os.replace` (never half-written).

    Args:
        path: destination file; parent folders are created.
        write: called with the temporary path; must create the complete file there.
        suffix: suffix of the temporary file (e.g. ".png" when the writer infers the
            format from the file name).

    Returns:
        The destination path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        publish(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text to `path` via a temp file and `os.replace` (never half-written).

    Args:
        path: destination file; parent folders are created.
        text: content, written as UTF-8.

    Returns:
        The destination path.
    """
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_parquet_atomic(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame to Parquet (no index) via a temp file and `os.replace`.

    Args:
        df: the table.
        path: destination; parent folders are created.

    Returns:
        The destination path.
    """
    return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike, index: bool = False,
                     **to_csv: Any) -> Path:
    """Write a DataFrame to CSV via a temp file and `os.replace`.

    Args:
        df: the table.
        path: destination; parent folders are created.
        index: also write the index (as the first column).
        **to_csv: further `DataFrame.to_csv` options (e.g. `float_format`).

    Returns:
        The destination path.
    """
    return atomic_write_text(path, df.to_csv(index=index, **to_csv))


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure as PNG atomically, then close it (also on failure).

    Args:
        fig: the `matplotlib.figure.Figure`.
        path: destination `.png`; parent folders are created.
        dpi: resolution.
        **savefig_kwargs: further `Figure.savefig` arguments; `bbox_inches` defaults to
            "tight".

    Returns:
        The destination path.
    """
    import matplotlib.pyplot as plt

    savefig_kwargs.setdefault("bbox_inches", "tight")
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, dpi=dpi, **savefig_kwargs), suffix=".png"
        )
    finally:
        plt.close(fig)
