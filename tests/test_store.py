"""Result store: stable keys, atomic files, resume after SIGKILL, corrupt files re-run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import toy_job

from experiments.config import ConfigError
from experiments.study.store import ResultStore, canonical_json, code_version, job_key
from experiments.study.runner import run_study

ROOT = Path(__file__).resolve().parents[1]


def _jobs(log=None, n=12, sleep=0.0, fail=(), hold=None, hold_seed=None):
    cfg = {"scale": 1.5, "log": str(log) if log else None, "sleep": sleep, "fail": list(fail),
           "hold": str(hold) if hold else None, "hold_seed": hold_seed}
    return [{"config": cfg, "seed": s, "replication": s} for s in range(n)]


def _logged(path):
    return [int(x) for x in Path(path).read_text().split()] if Path(path).exists() else []


# --- keys and versions ---------------------------------------------------------------------


def test_job_key_is_sha256_of_canonical_json():
    spec = {"seed": 3, "config": {"b": [1, 2.5], "a": None}, "scenario": "x"}
    text = '{"config":{"a":null,"b":[1,2.5]},"scenario":"x","seed":3}'
    assert canonical_json(spec) == text
    assert job_key(spec) == hashlib.sha256(text.encode()).hexdigest()[:20]


def test_job_key_ignores_key_order_and_numpy_types_but_not_values():
    a = {"seed": 3, "config": {"x": 0.1, "y": 2}}
    b = {"config": {"y": np.int64(2), "x": np.float64(0.1)}, "seed": np.int32(3)}
    assert job_key(a) == job_key(b)
    assert job_key(a) != job_key({**a, "seed": 4})
    assert job_key(a) != job_key({"seed": 3, "config": {"x": 0.1 + 1e-16 * 2, "y": 2}})


def test_code_version_follows_package_source(tmp_path, monkeypatch):
    pkg = tmp_path / "toymodel"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    v1 = code_version(toy_job, packages=("toymodel",))
    assert v1 == code_version(toy_job, packages=("toymodel",))
    (pkg / "__init__.py").write_text("X = 2\n")
    v2 = code_version(toy_job, packages=("toymodel",))
    assert v2 != v1
    assert code_version(_logged, packages=("toymodel",)) != v2  # another job function


# --- store files ---------------------------------------------------------------------------


def test_write_then_load_round_trip_is_exact(tmp_path):
    store = ResultStore(tmp_path / "store", "v1")
    rows = [{"job": "a", "error": None, "traceback": None, "seconds": 0.1, "x": 0.1 + 0.2, "n": 7},
            {"job": "b", "error": "ValueError: no", "traceback": "tb", "seconds": 0.2}]
    store.write(rows)
    assert not list((tmp_path / "store").glob(".tmp-*"))
    got = store.load()
    assert got["a"]["x"] == 0.1 + 0.2 and got["a"]["n"] == 7 and got["a"]["error"] is None
    assert "x" not in got["b"] and got["b"]["error"] == "ValueError: no"
    assert ResultStore(tmp_path / "store", "v2").load() == {}  # other code version


def test_success_beats_failure_and_leftover_temp_files_are_removed(tmp_path):
    store = ResultStore(tmp_path / "store", "v")
    store.write([{"job": "a", "error": None, "seconds": 1.0, "x": 1.0}])
    store.write([{"job": "a", "error": "E: late failure", "seconds": 1.0}])
    tmp = tmp_path / "store" / ".tmp-part-killed.parquet"
    tmp.write_bytes(b"PAR1 half a file")
    assert store.load()["a"]["x"] == 1.0
    assert not tmp.exists()


def test_store_lock_refuses_a_second_study(tmp_path):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom experiments.study.store import study_lock\n"
         f"with study_lock({str(tmp_path)!r}):\n    print('held', flush=True)\n"
         "    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match="output_dir"):
            with ResultStore(tmp_path / "store", "v").lock():
                pass
    finally:
        holder.kill()
        holder.wait()
    store = ResultStore(tmp_path / "store", "v")
    with store.lock():  # released by the OS when the holder died
        with store.lock():  # reentrant within one process (driver, then run_study)
            pass


# --- studies -------------------------------------------------------------------------------


def test_failing_job_is_recorded_and_the_rest_finish(tmp_path):
    table = run_study(_jobs(fail=[4]), toy_job, tmp_path, {"kind": "serial", "chunk_size": 5},
                      progress=False)
    assert table["error"].isna().tolist() == [True] * 4 + [False] + [True] * 7
    assert table.loc[4, "error"] == "RuntimeError: toy failure for seed 4"
    assert table["coverage"].isna().tolist() == [False] * 4 + [True] + [False] * 7
    assert table.attrs["study"]["failed"] == 1
    assert pd.read_parquet(tmp_path / "runs.parquet").equals(table)


def test_resume_skips_finished_jobs_and_retries_failed_ones(tmp_path):
    log = tmp_path / "log.txt"
    first = run_study(_jobs(log, fail=[4]), toy_job, tmp_path / "out", None, progress=False)
    assert sorted(_logged(log)) == list(range(12))
    log.unlink()
    again = run_study(_jobs(log, fail=[4]), toy_job, tmp_path / "out", None, progress=False)
    assert _logged(log) == [4]  # only the failed job ran again
    assert again.attrs["study"]["resumed"] == 11 and again.attrs["study"]["ran"] == 1
    assert again.equals(first)


def test_corrupt_store_file_is_detected_and_its_jobs_rerun(tmp_path):
    log = tmp_path / "log.txt"
    jobs = _jobs(log)
    ref = run_study(jobs, toy_job, tmp_path / "out", {"kind": "serial", "chunk_size": 4},
                    progress=False)
    parts = sorted((tmp_path / "out" / "store").glob("part-*.parquet"))
    assert len(parts) == 3
    data = parts[1].read_bytes()
    parts[1].write_bytes(data[: len(data) // 2])  # a truncated (partial) file
    log.unlink()
    again = run_study(jobs, toy_job, tmp_path / "out", {"kind": "serial", "chunk_size": 4},
                      progress=False)
    assert sorted(_logged(log)) == [4, 5, 6, 7]
    assert (tmp_path / "out" / "store" / "corrupt" / parts[1].name).exists()
    assert again.equals(ref)


def test_resume_after_sigkill_runs_only_missing_jobs(tmp_path, tests_on_path):
    n = 40
    log, hold, out = tmp_path / "log.txt", tmp_path / "hold", tmp_path / "out"
    hold.touch()  # job 25 waits while this file exists: the study is killed inside it
    jobs = _jobs(log, n=n, hold=hold, hold_seed=25)
    script = textwrap.dedent(f"""
        from conftest import toy_job
        from test_store import _jobs
        from experiments.study.runner import run_study
        run_study(_jobs({str(log)!r}, n={n}, hold={str(hold)!r}, hold_seed=25), toy_job,
                  {str(out)!r}, {{"kind": "serial", "chunk_size": 3}}, progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests_on_path, str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.monotonic() + 60
    while 25 not in _logged(log) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(_logged(log)) == list(range(26))  # 0..24 finished, 25 in flight
    assert not (out / "runs.parquet").exists()

    # chunks of 3: [0-2] ... [21-23] were stored; [24-26] was in flight and is lost
    stored = set(ResultStore(out / "store", code_version(toy_job)).load())
    key_seed = {job_key(j): j["seed"] for j in jobs}
    assert sorted(key_seed[k] for k in stored) == list(range(24))

    log.unlink()
    hold.unlink()
    table = run_study(jobs, toy_job, out, {"kind": "serial", "chunk_size": 3}, progress=False)
    second_session = _logged(log)
    assert sorted(second_session) == list(range(24, n))  # exactly the missing jobs, once each
    assert table.attrs["study"]["resumed"] == 24 and table.attrs["study"]["ran"] == n - 24

    fresh = run_study(jobs, toy_job, tmp_path / "fresh", {"kind": "processes", "workers": 2},
                      progress=False)
    assert table.equals(fresh)  # nothing lost or duplicated, same numbers
    assert table["seed"].tolist() == list(range(n)) and table["error"].isna().all()


def test_failed_jobs_can_be_kept_instead_of_retried(tmp_path):
    log = tmp_path / "log.txt"
    run_study(_jobs(log, n=4, fail=[2]), toy_job, tmp_path / "out", None, progress=False)
    log.unlink()
    kept = run_study(_jobs(log, n=4, fail=[2]), toy_job, tmp_path / "out", None,
                     progress=False, retry_failed=False)
    assert not log.exists()  # nothing ran
    assert kept.attrs["study"]["resumed"] == 4 and kept.attrs["study"]["failed"] == 1


def test_executor_that_cannot_start_leaves_no_study_folder(tmp_path, monkeypatch):
    from experiments.study import executors as executors

    def refuse(self):
        raise ConfigError("executor.address: cannot reach Dask scheduler tcp://nowhere:1")

    monkeypatch.setattr(executors.SerialExecutor, "start", refuse)
    with pytest.raises(ConfigError, match="executor.address"):
        run_study(_jobs(n=2), toy_job, tmp_path / "new", None, progress=False)
    assert not (tmp_path / "new").exists()
