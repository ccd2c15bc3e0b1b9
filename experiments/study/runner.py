"""Run a study: many jobs over an executor, streamed to a resumable result store.

Every multi-run command (compare, sweep, sensitivity, stress) builds a list of job specs and
calls `run_study`. A job spec is a dict::

    {"config": <run config: model/country/scenario>, "seed": int, <tag>: <scalar>, ...}

`fn(spec) -> dict[str, scalar]` runs one job (usually `experiments.study.jobs.run_job`). Finished
jobs are written to `<output_dir>/store/` as soon as their chunk completes; re-running the
same study with the same `output_dir` skips them (resume). A job that raises is recorded
with its error and the study goes on. At the end, `<output_dir>/runs.parquet` holds one row
per job, in the order of the input jobs, whatever the executor.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.study.executors import make_executor, parse_executor, plan_chunks
from experiments.study.jobs import spinup_group
from experiments.study.progress import Progress
from experiments.study.store import META_COLUMNS, ResultStore, code_version, job_key

#: Name of the per-run table written in the output directory.
RUNS_FILE = "runs.parquet"
#: Key of a result row that carries the job's series (Parquet bytes) back from a worker.
SERIES_BYTES = "_series_parquet"

_SCALARS = (bool, int, float, str, type(None))


#: spawn keys of a study's named streams: children of `SeedSequence(study seed)`.
#: `replications` gives the per-replication run seeds of every multi-run command;
#: sensitivity draws its sample and bootstrap from `sample` and `analysis`, stress its
#: futures from `futures`. Fixed numbers, so adding a stream changes no existing one.
STUDY_STREAMS = {"sample": 0, "analysis": 1, "replications": 2, "futures": 6}


def study_stream(study_seed: int, name: str) -> np.random.SeedSequence:
    """The named child stream of a study seed (see `STUDY_STREAMS`)."""
    return np.random.SeedSequence(int(study_seed), spawn_key=(STUDY_STREAMS[name],))


def replication_seeds(study_seed: int, replications: int) -> list[int]:
    """Seeds of replications 0..R-1, spawned from the study seed with numpy's SeedSequence.

    Replication r's seed is the first 32-bit word of child r of the study's
    `replications` stream. Different study seeds give statistically independent
    replications (seed 1 and seed 2 share none); the same study seed gives the same list
    for every setting, scenario, future and executor, so differences between them are
    paired (common random numbers).

    Args:
        study_seed: the study's `seed` (>= 0).
        replications: number of replications R (>= 0).

    Returns:
        R seeds (non-negative ints below 2**32).
    """
    children = study_stream(study_seed, "replications").spawn(int(replications))
    return [int(c.generate_state(1)[0]) for c in children]


def tag_columns(jobs: Sequence[dict[str, Any]]) -> list[str]:
    """Tag columns of a study: every spec key except "config", in first-seen order."""
    seen: dict[str, None] = {}
    for spec in jobs:
        for key in spec:
            if key != "config":
                seen.setdefault(key, None)
    return list(seen)


def _as_scalar(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, _SCALARS):
        try:
            value = value.item()  # numpy scalar -> Python scalar
        except (ValueError, TypeError):
            pass
    return value


def run_chunk(
    items: list[tuple[str, dict[str, Any], bool]], fn: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """Run a chunk of jobs in a worker; one store row per job (never raises for a job).

    Args:
        items: (job key, spec, keep series) triples.
        fn: the job function: returns the outcomes dict, or (outcomes, monthly series
            DataFrame) when it also produces a series.

    Returns:
        Rows with `job`, `error` (None on success), `traceback`, `seconds` and the outcomes;
        a kept series travels as Parquet bytes under `SERIES_BYTES` (the store writes it).
    """
    rows = []
    for key, spec, keep in items:
        start = time.perf_counter()
        row: dict[str, Any] = {"job": key, "error": None, "traceback": None}
        try:
            out = fn(spec)
            series = None
            if isinstance(out, tuple) and len(out) == 2:
                out, series = out
            row.update(_check_outcomes(out, spec))
            if keep:
                if series is None:
                    raise ValueError("the study keeps series but the job returned none")
                row[SERIES_BYTES] = _parquet_bytes(series)
        except Exception as err:  # noqa: BLE001 - recorded, the study goes on
            row = {
                "job": key,
                "error": f"{type(err).__name__}: {err}",
                "traceback": "".join(traceback.format_exception(err))[-8000:],
            }
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows


def _parquet_bytes(series: Any) -> bytes:
    import io

    buf = io.BytesIO()
    pd.DataFrame(series).to_parquet(buf, index=False)
    return buf.getvalue()


def _check_outcomes(out: Any, spec: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(out, dict):
        raise TypeError(f"job function must return a dict of outcomes, got {type(out).__name__}")
    clean = {}
    for name, value in out.items():
        if not isinstance(name, str):
            raise TypeError(f"outcome names must be strings, got {name!r}")
        if name in META_COLUMNS or name in spec:
            raise ValueError(f"outcome name '{name}' clashes with a job tag or store column")
        value = _as_scalar(value)
        if not isinstance(value, _SCALARS):
            raise TypeError(f"outcome '{name}' is not a scalar: {type(value).__name__}")
        clean[name] = value
    return clean


def _check_jobs(jobs: Sequence[dict[str, Any]]) -> None:
    for i, spec in enumerate(jobs):
        if not isinstance(spec, dict):
            raise ValueError(f"job {i}: a job spec must be a dict, got {type(spec).__name__}")
        for key, value in spec.items():
            if key != "config" and not isinstance(_as_scalar(value), _SCALARS):
                raise ValueError(
                    f"job {i}: tag '{key}' must be a scalar (str, int, float, bool, None), "
                    f"got {type(value).__name__}"
                )


def run_study(
    jobs: Sequence[dict[str, Any]],
    fn: Callable[[dict[str, Any]], dict[str, Any]],
    output_dir: Path | str,
    executor: dict[str, Any] | None = None,
    label: str = "study",
    *,
    progress: bool = True,
    retry_failed: bool = True,
    keep_series: Sequence[bool] | None = None,
) -> pd.DataFrame:
    """Run every job (or only those not already in the store) and return the run table.

    Args:
        jobs: job specs: dicts with "config", "seed" and scalar tag keys.
        fn: picklable top-level function `fn(spec) -> dict of scalar outcomes`.
        output_dir: study folder; holds `store/` and, at the end, `runs.parquet`.
            Re-running with the same folder resumes.
        executor: the `executor` config node ({kind, workers, address, chunk_size}).
        label: short name for progress lines (e.g. the command name).
        progress: show a progress bar / periodic lines on stderr.
        retry_failed: run jobs that failed in an earlier session again.
        keep_series: per job, whether its monthly series is kept (`fn` then returns
            (outcomes, series)); kept series are checked on resume and rebuilt when
            missing or damaged (read them with `load_series`).

    Returns:
        One row per input job, in input order: `job` (key), the tag columns, the outcome
        columns, `error` (missing when the job succeeded); equal to `runs.parquet`.
        `attrs["study"]` holds counts: total, resumed, ran, failed, seconds, version.

    Raises:
        ConfigError: invalid executor node, or `output_dir` is locked by another study.
        ValueError: malformed job specs, or `fn` cannot be sent to worker processes.
    """
    started = time.monotonic()
    jobs = list(jobs)
    _check_jobs(jobs)
    spec = parse_executor(executor)
    if spec.kind == "processes":
        try:
            pickle.dumps(fn)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"fn must be a top-level function to run in processes: {err}"
            ) from None
    output_dir = Path(output_dir)
    keys = [job_key(s) for s in jobs]
    unique: dict[str, dict[str, Any]] = {}
    for key, s in zip(keys, jobs):
        unique.setdefault(key, s)
    keep = set() if keep_series is None else {k for k, w in zip(keys, keep_series) if w}
    store = ResultStore(output_dir / "store", code_version(fn))
    table = _run_locked(jobs, keys, unique, fn, spec, store, output_dir, label,
                        progress, retry_failed, keep)
    pending = table.attrs.pop("pending")

    failed = int(table["error"].notna().sum())
    table.attrs["study"] = {
        "total": len(jobs),
        "resumed": len(unique) - len(pending),
        "ran": len(pending),
        "failed": failed,
        "seconds": round(time.monotonic() - started, 3),
        "version": store.version,
    }
    if progress:
        _print_summary(table, label, output_dir, store)
    return table


def _run_locked(jobs, keys, unique, fn, spec, store, output_dir, label, progress, retry_failed,
                keep):
    """The body of `run_study` while holding the store lock."""
    with store.lock():  # refused before any result (scheduler unreachable): nothing left
        found = store.load(need_series=keep)
        results = {
            k: row for k, row in found.items()
            if k in unique and (row["error"] is None or not retry_failed)
        }
        pending = by_spinup_group([(k, s, k in keep) for k, s in unique.items() if k not in results])
        bar = Progress(len(unique), label=label, resumed=len(results), enabled=progress)
        try:
            if pending:
                _run_pending(pending, fn, spec, store, results, bar)
        finally:
            bar.close()
        _write_table(_assemble(jobs, keys, results), output_dir / RUNS_FILE)
        # return what the file holds, so callers and later readers see identical dtypes
        table = pd.read_parquet(output_dir / RUNS_FILE)
    table.attrs["pending"] = pending
    return table


def load_series(output_dir: Path | str, table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The kept monthly series of a study's jobs, as one long table.

    Reads `store/series/<job>.parquet` for every row of `table` (the run table returned by
    `run_study`) whose series was kept, so what a report shows always comes from the very
    jobs of this study, never from another configuration run into the same folder.

    Args:
        output_dir: the study folder.
        table: the run table (`job` column and the `keys` tag columns).
        keys: tag columns that identify a run (e.g. scenario, replication, seed); they
            become the first columns, in this order.

    Returns:
        Key columns, then the series columns (one row per run x month); empty if none.
    """
    store = ResultStore(Path(output_dir) / "store", "")
    parts = []
    for rec in table.drop_duplicates("job").to_dict("records"):
        path = store.series_file(rec["job"])
        if isinstance(rec.get("error"), str) or not path.is_file():
            continue
        df = pd.read_parquet(path)
        df = df.drop(columns=[c for c in keys if c in df])
        for key in reversed(keys):
            df.insert(0, key, rec[key])
        parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def by_spinup_group(pending: list[tuple[str, dict[str, Any], bool]]) -> list[tuple[str, dict[str, Any], bool]]:
    """Pending jobs reordered so that jobs sharing a spin-up (`spinup_group`: the same
    configuration but for the scenario, and the same seed) run one after another, groups
    in order of first appearance. Chunks of consecutive jobs then let a worker reuse a
    spin-up; the run table keeps the order the command built."""
    first: dict[str, int] = {}
    groups = []
    for _, spec, _ in pending:
        group = spinup_group(spec) if isinstance(spec.get("config"), dict) else ""
        groups.append(first.setdefault(group, len(first)))
    order = sorted(range(len(pending)), key=groups.__getitem__)
    return [pending[i] for i in order]


def _run_pending(pending, fn, spec, store, results, bar) -> None:
    with make_executor(spec) as ex:
        chunks = plan_chunks(len(pending), ex.workers, spec.chunk_size)
        tasks = [[pending[i] for i in chunk] for chunk in chunks]
        for index, rows, err in ex.map_unordered(run_chunk, tasks, fn):
            if err is not None:  # the task itself died (worker lost, unpicklable result...)
                rows = [
                    {"job": key, "error": f"task failed: {type(err).__name__}: {err}",
                     "traceback": None, "seconds": math.nan}
                    for key, _, _ in tasks[index]
                ]
            series = {r["job"]: r.pop(SERIES_BYTES) for r in rows if SERIES_BYTES in r}
            store.write(rows, series)
            for row in rows:
                results[row["job"]] = {
                    k: v for k, v in row.items() if v is not None or k in META_COLUMNS
                }
            bar.update(done=len(rows), failed=sum(r["error"] is not None for r in rows))


def _assemble(jobs, keys, results) -> pd.DataFrame:
    tags = tag_columns(jobs)
    outcomes: dict[str, None] = {}
    for key in keys:
        for name in results[key]:
            if name not in META_COLUMNS:
                outcomes.setdefault(name, None)
    records = []
    for key, s in zip(keys, jobs):
        row = results[key]
        rec = {"job": key}
        rec.update({t: _as_scalar(s.get(t)) for t in tags})
        rec.update({o: row.get(o) for o in outcomes})
        rec["error"] = row["error"]
        records.append(rec)
    columns = ["job", *tags, *outcomes, "error"]
    return pd.DataFrame.from_records(records, columns=columns)


def _write_table(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _print_summary(table: pd.DataFrame, label: str, output_dir: Path, store: ResultStore) -> None:
    s = table.attrs["study"]
    line = (
        f"[{label}] {s['total']} jobs: {s['ran']} ran, {s['resumed']} resumed, "
        f"{s['failed']} failed in {s['seconds']:.1f}s; table {output_dir / RUNS_FILE}"
    )
    print(line, file=sys.stderr)
    if store.corrupt_files:
        print(f"[{label}] {len(store.corrupt_files)} unreadable store file(s) moved to "
              f"{store.root / 'corrupt'}; their jobs were run again", file=sys.stderr)
    if s["failed"]:
        first = table.loc[table["error"].notna()].iloc[0]
        print(f"[{label}] first failure (job {first['job']}): {first['error']}", file=sys.stderr)


def study_failed(table: pd.DataFrame) -> int:
    """Number of failed jobs in a run table (commands exit 1 when it is > 0)."""
    return int(table["error"].notna().sum())
