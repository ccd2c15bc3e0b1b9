"""Where results go, and the manifest that makes them reproducible.

`staged_output_dir` builds a run's files in a hidden sibling folder and renames it into
place only when everything is written, so a failed or killed run leaves no half-written
output folder behind.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import json
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence


from experiments.config import ConfigError
from experiments.study.atomic import TEMP_PREFIX

#: Packages whose versions every manifest records.
MANIFEST_PACKAGES = ("handover-sim", "mesa", "numpy", "scipy", "pandas", "pyarrow", "SALib",
                     "hydra-core", "matplotlib", "dask", "distributed")


def default_output_dir(command: str) -> Path:
    """outputs/<command>/<UTC timestamp>."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("outputs") / command / stamp


def resolve_output_dir(cfg: Mapping[str, Any], command: str) -> Path:
    """The `output_dir` of a composed config, or the default for `command`, checked usable.

    Args:
        cfg: composed config; a missing or null `output_dir` means the default.
        command: the command's name (`run`, `compare`, `stress`, ...).

    Returns:
        `Path(cfg["output_dir"])`, or outputs/<command>/<UTC timestamp %Y%m%d-%H%M%S>.

    Raises:
        ConfigError: see `check_output_dir`.
    """
    value = cfg.get("output_dir")
    return check_output_dir(value) if value is not None else default_output_dir(command)


#: Longest file or folder name most file systems accept (bytes).
NAME_MAX = 255


def check_output_dir(value: Any) -> Path:
    """Refuse an `output_dir` that cannot become a study folder, before anything is written.

    Args:
        value: the configured value.

    Returns:
        The folder as a Path.

    Raises:
        ConfigError: not a non-empty string (e.g. `output_dir=123` or a list: quote a
            numeric name as `output_dir="'123'"`), a name longer than 255 bytes, an
            existing file or device, or a path below a file.
    """
    if not isinstance(value, str) or not value.strip():
        hint = (" (quote a numeric name: output_dir=\"'123'\")"
                if isinstance(value, (int, float)) else "")
        raise ConfigError(f"output_dir: expected a folder path (a string), got {value!r}{hint}")
    if "\0" in value:
        raise ConfigError("output_dir: a path cannot contain a NUL character")
    path = Path(value)
    long = [p for p in path.parts if len(p.encode()) > NAME_MAX]
    if long:
        raise ConfigError(
            f"output_dir: the name '{long[0][:40]}...' is {len(long[0].encode())} bytes long; "
            f"at most {NAME_MAX} are allowed"
        )
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output_dir: '{value}' exists and is not a folder (a file or device)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"output_dir: '{parent}' is a file, so '{value}' cannot be "
                                  "created below it")
            break
    return path


@contextlib.contextmanager
def staged_output_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success move it to `final` (which must not hold files).

    Raises:
        ConfigError: `final` exists and is not an empty folder (checked before and after).
    """
    final = Path(final)
    require_empty(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{final.name}.", dir=final.parent))
    try:
        yield tmp
        try:
            if final.exists():
                final.rmdir()
            tmp.rename(final)
        except OSError:  # another run filled `final` meanwhile: keep its files, drop ours
            raise ConfigError(
                f"output_dir: '{final}' was filled by another run at the same time; "
                "nothing was written, choose a new folder"
            ) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def require_empty(final: Path) -> None:
    """Refuse an `output_dir` that already holds files (single-run commands never mix).

    Raises:
        ConfigError: naming the folder.
    """
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise ConfigError(f"output_dir: '{final}' already exists and is not empty; "
                          "choose a new folder")


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


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second (manifest time stamps)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def config_hash(cfg: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config as canonical JSON (sorted keys): equal configs, equal hash."""
    text = json.dumps(_clean(dict(cfg)), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(
    cfg: dict[str, Any],
    seed: int | None,
    command: str,
    *,
    seeds: Sequence[int] = (),
    started_utc: str | None = None,
    counts: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The one manifest record every command writes (manifest.json; see `write_manifest`).

    Args:
        cfg: the resolved (composed) config.
        seed: the study seed (one run's seed for `handover run`).
        command: the command's name.
        seeds: the per-replication run seeds (`replication_seeds`), if several runs.
        started_utc: when the command started (`utc_now()`); finished is now.
        counts: numbers of runs, jobs, failures, points... as the command counts them.
        **extra: command-specific keys (plan, problem, space, ...).

    Returns:
        dict with command, config, config_hash, seed, seeds, started_utc, finished_utc,
        counts, git_commit, python, platform, packages, then `extra`.
    """
    versions = {}
    for pkg in MANIFEST_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    now = utc_now()
    return {
        "command": command,
        "config": cfg,
        "config_hash": config_hash(cfg),
        "seed": seed,
        "seeds": [int(s) for s in seeds],
        "started_utc": started_utc or now,
        "finished_utc": now,
        "counts": dict(counts or {}),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        **extra,
    }


def write_manifest(out: Path, record: Mapping[str, Any]) -> Path:
    """Write `record` (from `manifest`) atomically as out/manifest.json (NaN as null)."""
    from experiments.study.atomic import atomic_write_text

    text = json.dumps(_clean(dict(record)), indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write_text(Path(out) / "manifest.json", text)


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
