"""Where results go, and the manifest that makes them reproducible.

`staged_output_dir` builds a run's files in a hidden sibling folder and renames it into
place only when everything is written, so a failed or killed run leaves no half-written
output folder behind.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import json
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pandas as pd

from experiments.config import ConfigError

#: Packages whose versions every manifest records.
MANIFEST_PACKAGES = ("handover-sim", "mesa", "numpy", "scipy", "pandas", "pyarrow", "SALib",
                     "hydra-core", "matplotlib", "dask", "distributed")


def default_output_dir(command: str) -> Path:
    """outputs/<command>/<UTC timestamp>."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("outputs") / command / stamp


def resolve_output_dir(cfg: Mapping[str, Any], command: str) -> Path:
    """The `output_dir` of a composed config, or the default for `command`.

    Args:
        cfg: composed config; a missing, null or empty `output_dir` means the default.
        command: the command's name (`run`, `compare`, `stress`, ...).

    Returns:
        `Path(cfg["output_dir"])`, or outputs/<command>/<UTC timestamp %Y%m%d-%H%M%S>.
    """
    return Path(cfg["output_dir"]) if cfg.get("output_dir") else default_output_dir(command)


def collect_series(
    jobs: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> pd.DataFrame:
    """Concatenate the per-run monthly series kept by a study into one long table.

    Jobs without a `series_path`, or whose file does not exist, are skipped. Key columns
    already in a series file are dropped and replaced by the job spec's values.

    Args:
        jobs: job specs, each with the `keys` and optionally `series_path` (Parquet).
        keys: spec keys that identify a run, e.g. ("scenario", "replication", "seed");
            they become the first columns, in this order.

    Returns:
        DataFrame with the key columns, then the series columns (one row per run x
        month); empty if no series were found.
    """
    parts = []
    for spec in jobs:
        path = spec.get("series_path")
        if not path or not Path(path).exists():
            continue
        df = pd.read_parquet(path)
        df = df.drop(columns=[c for c in keys if c in df])
        for key in reversed(keys):
            df.insert(0, key, spec[key])
        parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


@contextlib.contextmanager
def staged_output_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success move it to `final` (which must not hold files).

    Raises:
        ConfigError: `final` exists and is not an empty folder.
    """
    final = Path(final)
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise ConfigError(f"output_dir: '{final}' already exists and is not empty; choose a new folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            final.rmdir()
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def git_commit() -> str | None:
    """The repository's HEAD commit (with '+dirty' if files changed), or None."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def manifest(cfg: dict[str, Any], seed: int | list[int] | None, command: str) -> dict[str, Any]:
    """Resolved config, seed(s), package versions, Python, platform and git commit."""
    versions = {}
    for pkg in MANIFEST_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "command": command,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "config": cfg,
    }


def write_json(path: Path, data: Any) -> None:
    """Write JSON with stable key order and NaN as null."""
    path.write_text(json.dumps(_clean(data), indent=2, sort_keys=True) + "\n")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
