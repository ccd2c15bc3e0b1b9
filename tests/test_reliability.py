"""Reliability: study folders, series kept by job key, locks, orphans, temp files, output_dir.

One regression test per failure class of the reliability review (see docs/guarantees.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import series_job

from experiments import cli
from experiments.compare.driver import run_comparison
from experiments.config import ConfigError
from experiments.study.outputs import staged_output_dir
from experiments.study.store import ResultStore

COMMANDS = ("run", "compare", "sweep", "sensitivity", "stress")


def _compare(out: Path, horizon: int):
    args = ["scenarios=[status_quo,abrupt_exit]", "replications=2", f"output_dir={out}",
            f"model.horizon_months={horizon}", "model.handover_start=6", "reference=status_quo"]
    return run_comparison(args, job_fn=series_job)


def _hold_lock(folder: Path) -> subprocess.Popen:
    """A separate process holding the study lock of `folder` until killed."""
    code = ("import time\nfrom experiments.study.store import study_lock\n"
            f"with study_lock({str(folder)!r}):\n    print('held', flush=True)\n"
            "    time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


# --- class 2: no silent mixing ---------------------------------------------------------------


def test_rerun_with_another_config_never_mixes_series(tmp_path):
    out = tmp_path / "cmp"
    for horizon in (12, 14, 12):  # A, B, then A again into the same folder
        _compare(out, horizon)
        series = pd.read_parquet(out / "timeseries.parquet")
        runs = pd.read_parquet(out / "runs.parquet")
        assert series.groupby(["scenario", "replication"]).size().eq(horizon).all()
        assert len(series) == len(runs) * horizon
    # both studies' series are kept apart, by job key
    assert len(list((out / "store" / "series").glob("*.parquet"))) == 8


def test_job_keys_do_not_depend_on_the_folder(tmp_path):
    _compare(tmp_path / "a", 12)
    parts = sorted(p.name for p in (tmp_path / "a" / "store").glob("part-*.parquet"))
    shutil.move(tmp_path / "a", tmp_path / "b")
    _compare(tmp_path / "b", 12)
    assert len(pd.read_parquet(tmp_path / "b" / "runs.parquet")) == 4
    # nothing ran again: no new part file in the moved store
    assert sorted(p.name for p in (tmp_path / "b" / "store").glob("part-*.parquet")) == parts


# --- class 4: series files under the store's protection ----------------------------------------


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_missing_or_damaged_series_is_rebuilt(tmp_path, damage):
    out = tmp_path / "cmp"
    _compare(out, 12)
    victim = sorted((out / "store" / "series").glob("*.parquet"))[0]
    if damage == "delete":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[:50])
    _compare(out, 12)
    series = pd.read_parquet(out / "timeseries.parquet")
    assert len(series) == 4 * 12  # every run's series is back
    assert pd.read_parquet(victim).shape[0] == 12


# --- class 3: a refused concurrent study writes nothing -----------------------------------------


@pytest.mark.parametrize("command", ["compare", "stress", "sweep"])
def test_refused_concurrent_study_writes_nothing(tmp_path, command, capsys):
    out = tmp_path / "busy"
    holder = _hold_lock(out)
    try:
        before = _files(out)
        args = {"compare": ["scenarios=[status_quo,abrupt_exit]", "replications=2"],
                "stress": ["scenarios=[status_quo,abrupt_exit]", "futures=2", "stress=small",
                           "replications=1"],
                "sweep": ["replications=1"]}[command]
        assert cli.main([command, *args, f"output_dir={out}", "model.horizon_months=12",
                         "model.handover_start=6"]) == 2
        assert "in use by another running study" in capsys.readouterr().err
        assert _files(out) == before
    finally:
        holder.kill()
        holder.wait()


def test_two_runs_into_one_folder_refuse_cleanly(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(ConfigError, match="filled by another run"):
        with staged_output_dir(final) as tmp:
            (tmp / "mine.txt").write_text("a")
            final.mkdir()
            (final / "theirs.txt").write_text("b")  # the other run finished first
    assert _files(final) == {"theirs.txt"}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left


# --- class 5: unusable output_dir, on every command ---------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_unusable_output_dir_is_refused(tmp_path, command, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    for value in ("[a,b]", "{a:1}", "afile", "afile/below", "/dev/null", "x" * 300):
        assert cli.main([command, f"output_dir={value}"]) == 2, value
        err = capsys.readouterr().err
        assert err.startswith("error: output_dir:") and "Traceback" not in err, err
    assert _files(tmp_path) == {"afile"}


# --- class 8: orphans and temporary files --------------------------------------------------------


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_workers_die_with_a_killed_parent(tmp_path, kind):
    script = tmp_path / "study.py"
    script.write_text(
        "import time\nfrom experiments.study.executors import make_executor\n"
        "def slow(x):\n    time.sleep(60)\n    return x\n"
        "if __name__ == '__main__':\n"
        f"    with make_executor({{'kind': {kind!r}, 'workers': 2}}) as ex:\n"
        "        print('started', flush=True)\n"
        "        list(ex.map_unordered(slow, [1, 2]))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(3)  # the tasks are running in the workers
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                              text=True).stdout.split()
    assert children
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [c for c in alive if Path(f"/proc/{c}").exists()
                 and "zombie" not in Path(f"/proc/{c}/status").read_text().lower()]
    assert not alive, f"orphan workers: {alive}"


def test_temporary_files_of_a_killed_study_are_removed(tmp_path):
    out = tmp_path / "cmp"
    _compare(out, 12)
    left = [out / ".tmp-coverage_over_time.png.abc.png", out / "store" / ".tmp-part-x.parquet"]
    for path in left:
        path.write_bytes(b"half")
    _compare(out, 12)
    assert not any(p.exists() for p in left)
    assert not [p for p in out.rglob(".tmp-*")]


def test_store_keeps_series_only_with_its_row(tmp_path):
    store = ResultStore(tmp_path / "store", "v")
    store.write([{"job": "a", "error": None, "x": 1.0}], {"a": b"not parquet"})
    assert store.load() == {"a": {"job": "a", "version": "v", "error": None, "traceback": None,
                                  "seconds": None, "series": True, "x": 1.0}}
    assert store.load(need_series={"a"}) == {}  # damaged series: the job runs again
    assert (tmp_path / "store" / "corrupt" / "a.parquet").exists()
