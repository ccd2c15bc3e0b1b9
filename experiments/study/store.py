"""Result store of a study: finished jobs as Parquet files in `<output_dir>/store/`.

Layout and rules:

- Every finished chunk of jobs is one file `part-<time_ns>-<pid>-<n>.parquet`, written to a
  hidden temporary file, flushed to disk and renamed with `os.replace`: a killed process
  leaves at most a `.tmp-*` file, which is never read (and deleted on the next open).
- One row per job: `job` (key, see `job_key`), `version` (see `code_version`), `error`
  (None when the job succeeded, else "ExceptionType: message"), `traceback`, `seconds`
  (wall time of the run), then the job's outcome columns.
- A file that cannot be read, or lacks the key columns, is moved to `store/corrupt/` and its
  jobs count as not done: they are run again.
- Rows of another code version are ignored (results of changed model code are not reused).
  For one job, a success wins over a failure, and a later file wins over an earlier one.
- A job's monthly series (when the study keeps it) is `series/<job key>.parquet`, written
  atomically before the row that records it. A row whose series file is missing or
  unreadable counts as not done, so the job runs again and the file is rebuilt.
- One study at a time per store: `ResultStore.lock()` takes an exclusive lock
  (`store/.lock`), released by the OS even when the process is killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from experiments.config import ConfigError

log = logging.getLogger(__name__)

#: Columns of every store row besides the outcomes (`series`: the job's monthly series is
#: kept in `store/series/<job>.parquet`).
META_COLUMNS = ("job", "version", "error", "traceback", "seconds", "series")

#: Packages whose files define the model: a change in any of them changes the code version.
MODEL_PACKAGES = ("sim", "scenarios")
_SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json", ".csv")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    if hasattr(obj, "tolist"):  # numpy array
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable in a job spec: {type(obj).__name__}")


def canonical_json(obj: Any) -> str:
    """Canonical JSON text of a job spec: sorted keys, no spaces, numpy scalars as Python.

    Floats are written with `repr` (shortest round-trip form), so equal specs give equal
    text on every machine.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_json_default
    )


def job_key(spec: dict[str, Any]) -> str:
    """Stable key of a job: the first 20 hex digits of SHA-256 of its canonical JSON.

    Args:
        spec: the job spec (config, seed and tags).

    Returns:
        A 20-character hex string; equal specs give equal keys.
    """
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:20]


def _package_files(name: str) -> list[Path]:
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if found is None or not found.submodule_search_locations:
        return []
    files: list[Path] = []
    for root in found.submodule_search_locations:
        files += [
            p
            for p in Path(root).rglob("*")
            if p.suffix in _SOURCE_SUFFIXES and "__pycache__" not in p.parts and p.is_file()
        ]
    return sorted(files)


def code_version(
    fn: Callable[..., Any] | None = None, packages: tuple[str, ...] = MODEL_PACKAGES
) -> str:
    """Hash of the code that produces results: model packages plus the job function.

    It covers the source and data files (.py, .yaml, .json, .csv) of `packages`, the
    function's module and qualified name, and the source file that defines it. Stored
    results are reused only under the same version.

    Args:
        fn: the job function (its identity and defining file are part of the version).
        packages: importable packages whose files are hashed.

    Returns:
        A 16-character hex string.
    """
    h = hashlib.sha256()
    for name in packages:
        for path in _package_files(name):
            h.update(f"{name}/{path.name}:{len(path.parts)}\0".encode())
            h.update(path.read_bytes())
    if fn is not None:
        h.update(f"fn={getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', fn)}\0".encode())
        try:
            source = inspect.getsourcefile(fn)
        except TypeError:
            source = None
        if source and os.path.exists(source):
            h.update(Path(source).read_bytes())
    return h.hexdigest()[:16]


#: Study folders whose lock this process holds -> (open lock file, nesting depth).
_HELD: dict[Path, list[Any]] = {}


@contextlib.contextmanager
def study_lock(output_dir: Path | str) -> Iterator[None]:
    """Exclusive lock on a study folder (`<output_dir>/store/.lock`), reentrant in-process.

    Every command holds it from its first write (futures, store parts, series, tables,
    figures, report) to its last, so a second command on the same folder is refused before
    it writes anything. The OS releases the lock when the process dies, even on kill -9.

    A study refused with a `ConfigError` inside the lock (e.g. an unreachable scheduler)
    before any run finished leaves nothing behind: the folders this lock created (the
    study folder, or only `store/` in a folder that existed before) are removed.

    Raises:
        ConfigError: another process holds the lock (a study is running there).
    """
    root = Path(output_dir).resolve() / "store"
    held = _HELD.get(root)
    if held is not None:  # nested use in this process (driver, then run_study)
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    created = None  # the outermost folder this lock creates (removed if refused, see above)
    for folder in (root, *root.parents):
        if folder.exists():
            break
        created = folder
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; single-writer rule is documented
        yield
        return
    with open(root / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"output_dir: {root.parent} is in use by another running study "
                f"(lock {root / '.lock'}); wait for it or choose another output_dir"
            ) from None
        _HELD[root] = [fh, 1]
        try:
            from experiments.study.atomic import remove_temp_files

            remove_temp_files(root.parent)  # left by a killed writer; none is live now
            yield
        except ConfigError:
            if created is not None and not any(created.rglob("part-*.parquet")):
                shutil.rmtree(created, ignore_errors=True)  # refused before any result
            raise
        finally:
            del _HELD[root]
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class ResultStore:
    """Finished jobs of one study output directory (see the module docstring).

    Args:
        root: the store folder, usually `<output_dir>/store`.
        version: the code version rows must carry to be reused.
    """

    def __init__(self, root: Path, version: str):
        self.root = Path(root)
        self.version = version
        self._count = 0
        self.stale_rows = 0
        self.corrupt_files: list[Path] = []
        self.missing_series: list[str] = []

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the study folder's exclusive lock (see `study_lock`) while a study runs.

        Raises:
            ConfigError: another process holds the lock (a study is running there).
        """
        with study_lock(self.root.parent):
            yield

    def files(self) -> list[Path]:
        """Finished part files, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("part-*.parquet"))

    def series_file(self, key: str) -> Path:
        """Where the monthly series of job `key` is kept."""
        return self.root / "series" / f"{key}.parquet"

    def series_ok(self, key: str) -> bool:
        """True when job `key`'s series file exists and its Parquet footer reads."""
        import pyarrow.parquet as pq

        path = self.series_file(key)
        if not path.is_file():
            return False
        try:
            pq.read_metadata(path)
        except Exception as err:  # noqa: BLE001 - a damaged file is moved aside, job re-run
            self._quarantine(path, err)
            return False
        return True

    def load(self, need_series: set[str] | frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
        """Read the store: the best row per job key, for this code version.

        Deletes leftover temporary files, moves unreadable files to `corrupt/` (their jobs
        will run again) and counts rows of other versions in `stale_rows`.

        Args:
            need_series: job keys whose monthly series the study needs; a successful row
                of such a job without a readable series file is left out (run again).

        Returns:
            job key -> row (a dict with the meta columns and the outcomes).
        """
        import pyarrow.parquet as pq

        for tmp in self.root.glob(".tmp-*") if self.root.is_dir() else []:
            tmp.unlink(missing_ok=True)
        best: dict[str, dict[str, Any]] = {}
        self.stale_rows = 0
        for path in self.files():
            try:
                table = pq.read_table(path)
                missing = {"job", "version", "error"} - set(table.column_names)
                if missing:
                    raise ValueError(f"lacks columns {sorted(missing)}")
                rows = table.to_pylist()
            except Exception as err:  # noqa: BLE001 - any unreadable file is quarantined
                self._quarantine(path, err)
                continue
            for row in rows:
                if row["version"] != self.version:
                    self.stale_rows += 1
                    continue
                old = best.get(row["job"])
                if old is not None and old["error"] is None and row["error"] is not None:
                    continue  # a failure never replaces a success; otherwise later wins
                best[row["job"]] = _drop_nulls_outcomes(row)
        self.missing_series = [
            k for k in need_series
            if k in best and best[k]["error"] is None and not self.series_ok(k)
        ]
        for key in self.missing_series:
            del best[key]
        return best

    def _quarantine(self, path: Path, err: Exception) -> None:
        target = self.root / "corrupt"
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)
        self.corrupt_files.append(target / path.name)
        log.warning("result store: %s is unreadable (%s); moved to %s, its jobs will run again",
                    path.name, err, target)

    def write(
        self, rows: list[dict[str, Any]], series: dict[str, bytes] | None = None
    ) -> Path | None:
        """Write finished jobs as one new part file, atomically (their series first).

        Args:
            rows: one dict per job with at least `job` and `error`; `version` is set here.
            series: job key -> its monthly series as Parquet bytes; each is written to
                `series_file(key)` before the part file, and the row's `series` is True.

        Returns:
            The new file, or None when `rows` is empty.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        series = series or {}
        for key, data in series.items():
            _write_bytes(self.series_file(key), data)
        rows = [{**row, "series": row["job"] in series} for row in rows]
        columns: dict[str, list[Any]] = {k: [] for k in META_COLUMNS}
        for row in rows:
            for key in row:
                columns.setdefault(key, [])
        for row in rows:
            full = {**row, "version": self.version}
            for key, values in columns.items():
                values.append(full.get(key))
        table = pa.table(
            {k: pa.array(v, type=pa.string()) if k in ("job", "version", "error", "traceback")
             else v for k, v in columns.items()}
        )
        self._count += 1
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{self._count:06d}.parquet"
        tmp = self.root / f".tmp-{name}"
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        final = self.root / name
        os.replace(tmp, final)
        return final


def _write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a flushed temporary file and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _drop_nulls_outcomes(row: dict[str, Any]) -> dict[str, Any]:
    """Outcome columns absent from a job (null in a shared file) are dropped from its row."""
    return {k: v for k, v in row.items() if k in META_COLUMNS or v is not None}
