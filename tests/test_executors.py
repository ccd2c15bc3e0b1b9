"""Executors: config validation, chunk planning, identical results whatever the executor."""

from __future__ import annotations

import io

import pytest
from conftest import toy_job

from experiments.config import ConfigError
from experiments.study.executors import ExecutorSpec, make_executor, parse_executor, plan_chunks
from experiments.study.progress import Progress
from experiments.study.runner import run_study, study_failed


def _jobs(n_settings=3, reps=8, fail=()):
    return [
        {"config": {"scale": s, "fail": list(fail)}, "seed": 100 + r, "scale": s, "replication": r}
        for s in (0.5, 1.0, 2.0)[:n_settings]
        for r in range(reps)
    ]


def _square(x):
    if x == 3:
        raise ValueError("three")
    return x * x


# --- config validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg, field",
    [
        ({"kind": "threads"}, "executor.kind"),
        ({"kind": "processes", "workers": 0}, "executor.workers"),
        ({"kind": "processes", "workers": "2"}, "executor.workers"),
        ({"kind": "serial", "workers": 2}, "executor.workers"),
        ({"kind": "processes", "address": "tcp://x:1"}, "executor.address"),
        ({"kind": "dask", "chunk_size": 0}, "executor.chunk_size"),
        ({"kind": "dask", "nodes": 3}, "executor.nodes"),
    ],
)
def test_bad_executor_config_names_the_field(cfg, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        parse_executor(cfg)


def test_executor_defaults():
    assert parse_executor(None) == ExecutorSpec("serial", 1, None, None)
    spec = parse_executor(
        {"kind": "dask", "workers": 2, "address": "tcp://h:8786", "chunk_size": 5}
    )
    assert spec == ExecutorSpec("dask", 2, "tcp://h:8786", 5)
    assert parse_executor({"kind": "processes", "workers": None}).workers >= 1


def test_executor_configs_compose():
    from experiments.config import CONFIG_DIR

    import yaml

    for kind in ("serial", "processes", "dask"):
        node = yaml.safe_load((CONFIG_DIR / "executor" / f"{kind}.yaml").read_text())
        assert parse_executor(node).kind == kind


# --- chunk planning ------------------------------------------------------------------------


@pytest.mark.parametrize("n, workers, size", [(0, 2, None), (1, 2, None), (200, 2, None),
                                              (1000, 8, None), (10, 3, 4), (7, 1, 100)])
def test_chunks_cover_every_job_once(n, workers, size):
    chunks = plan_chunks(n, workers, size)
    flat = [i for c in chunks for i in c]
    assert flat == list(range(n))


def test_chunk_sizes():
    assert [len(c) for c in plan_chunks(10, 3, 4)] == [4, 4, 2]
    sizes = [len(c) for c in plan_chunks(100, 2, None)]
    assert sizes[:3] == [13, 11, 10]  # ceil(100 / 8), ceil(87 / 8), ceil(76 / 8)
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1
    assert max(len(c) for c in plan_chunks(100_000, 2, None)) == 16


# --- executors -----------------------------------------------------------------------------


def test_map_unordered_reports_task_errors_and_goes_on(dask_address):
    for cfg in ({"kind": "serial"}, {"kind": "processes", "workers": 2},
                {"kind": "dask", "address": dask_address}):
        with make_executor(cfg) as ex:
            got = {i: (v, type(e).__name__ if e else None)
                   for i, v, e in ex.map_unordered(_square, [1, 2, 3, 4])}
        assert got == {0: (1, None), 1: (4, None), 2: (None, "ValueError"), 3: (16, None)}, cfg


def test_dask_address_reports_cluster_workers(dask_address):
    with make_executor({"kind": "dask", "address": dask_address, "workers": 7}) as ex:
        assert ex.workers == 2


def test_same_table_with_every_executor(tmp_path, dask_address):
    jobs = _jobs(fail=[103])
    ref = run_study(jobs, toy_job, tmp_path / "serial", {"kind": "serial"}, progress=False)
    assert len(ref) == 24 and study_failed(ref) == 3
    assert list(ref.columns) == ["job", "seed", "scale", "replication", "coverage", "dropped_cases",
                                 "national_spend", "error"]
    errors = ref.loc[ref["replication"] == 3, "error"].tolist()
    assert errors == ["RuntimeError: toy failure for seed 103"] * 3
    assert ref["coverage"].notna().sum() == 21
    for name, cfg in [
        ("processes", {"kind": "processes", "workers": 2, "chunk_size": 3}),
        ("dask_address", {"kind": "dask", "address": dask_address}),
        ("dask_local", {"kind": "dask", "workers": 2, "chunk_size": 1}),
    ]:
        got = run_study(jobs, toy_job, tmp_path / name, cfg, progress=False)
        # exact equality, including floats, dtypes, row and column order
        assert got.equals(ref), name
        assert got.attrs["study"]["ran"] == 24


def test_unpicklable_fn_refused_for_processes(tmp_path):
    with pytest.raises(ValueError, match="top-level"):
        run_study(_jobs(1, 2), lambda spec: {"x": 1.0}, tmp_path,
                  {"kind": "processes", "workers": 2}, progress=False)


# --- progress ------------------------------------------------------------------------------


def test_plain_progress_lines_when_not_a_terminal():
    out = io.StringIO()
    bar = Progress(10, label="sweep", resumed=2, interval=0.0, stream=out)
    bar.update(done=3, failed=1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[sweep] 10 jobs, 2 already in the store, 8 to run"
    assert lines[1].startswith("[sweep] 5/10 (done=3 failed=1 resumed=2)")
    assert "ETA" in lines[1]
    assert lines[2].startswith("[sweep] finished: 5/10 (done=3 failed=1 resumed=2)")


def test_progress_disabled_prints_nothing(capsys):
    bar = Progress(3, enabled=False)
    bar.update(done=3)
    bar.close()
    assert capsys.readouterr().err == ""


def test_a_crashing_worker_fails_its_tasks_and_the_study_goes_on(tmp_path):
    from conftest import crash_job

    jobs = [{"config": {}, "seed": s} for s in range(12)]
    cfg = {"kind": "processes", "workers": 2, "chunk_size": 1}
    table = run_study(jobs, crash_job, tmp_path, cfg, progress=False)
    failed = table["error"].notna()
    assert failed[3] and table.loc[3, "error"].startswith("task failed: BrokenProcessPool")
    # tasks in flight with the crash are lost too, but the pool restarts for the rest
    assert failed.sum() <= 8 and not failed.iloc[-1]
    assert (table.loc[~failed, "value"] == table.loc[~failed, "seed"]).all()
