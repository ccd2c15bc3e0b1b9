"""Every command writes one manifest.json with the same keys (experiments.study.outputs).

compare, stress, sweep and sensitivity are checked here with stand-in jobs; run and
validate with the simulator at a small scale; calibrate in
tests/test_posterior_validate.py (its end-to-end test checks the manifest too).
"""

from __future__ import annotations

import json

from conftest import toy_sweep_job

from experiments.study.outputs import config_hash
from experiments.study.runner import replication_seeds

KEYS = {"command", "config", "config_hash", "seed", "seeds", "started_utc", "finished_utc",
        "counts", "git_commit", "python", "platform", "packages"}


def check_manifest(out, command, seed, replications=None):
    """The common keys; `seeds` are the study's replication seeds (or [seed] for one run)."""
    record = json.loads((out / "manifest.json").read_text())
    assert KEYS <= set(record)
    assert record["command"] == command and record["seed"] == seed
    assert record["config_hash"] == config_hash(record["config"])
    if replications is not None:
        assert record["seeds"] == replication_seeds(seed, replications)
    assert record["started_utc"] <= record["finished_utc"]
    assert record["started_utc"].endswith("+00:00") and record["packages"]["numpy"]
    return record


def test_compare_stress_sweep_and_sensitivity_write_the_manifest(tmp_path):
    from test_compare import toy_job
    from test_sensitivity_cli import TINY as SA_TINY
    from test_sensitivity_cli import toy_job as sa_toy_job
    from test_stress import SMALL, toy_stress_job

    from experiments.compare.driver import run_comparison
    from experiments.sensitivity.driver import run_sensitivity
    from experiments.stress.driver import run_stress
    from experiments.sweep.driver import run_sweep

    run_comparison(["scenarios=[status_quo,abrupt_exit]", "replications=2", "seed=3",
                    f"output_dir={tmp_path / 'c'}"], job_fn=toy_job)
    rec = check_manifest(tmp_path / "c", "compare", 3, 2)
    # continuation joins as the default reference: 3 scenarios x 2 replications
    assert rec["counts"]["runs"] == 6 and rec["counts"]["failed"] == 0
    run_stress([*SMALL, "futures=4", "seed=2", f"output_dir={tmp_path / 's'}"],
               toy_stress_job, progress=False)
    assert check_manifest(tmp_path / "s", "stress", 2, 2)["counts"]["runs"] == 2 * 4 * 2
    run_sweep(["grid={model.scale:[10,20]}", "replications=2", "seed=4",
               f"output_dir={tmp_path / 'w'}"], job_fn=toy_sweep_job, progress=False)
    assert check_manifest(tmp_path / "w", "sweep", 4, 2)["counts"]["runs"] == 4
    assert run_sensitivity([*SA_TINY, "n=4", "replications=2", "seed=5",
                            f"output_dir={tmp_path / 'a'}"], job_fn=sa_toy_job) == 0
    assert check_manifest(tmp_path / "a", "sensitivity", 5, 2)["counts"]["runs"] == 4 * 5 * 2


def test_run_and_validate_write_the_manifest(tmp_path):
    from test_posterior_validate import SHORT, small_targets

    from experiments.cli import main as cli

    assert cli(["run", "seed=7", *SHORT, "model.scale=50", f"output_dir={tmp_path / 'r'}"]) == 0
    record = check_manifest(tmp_path / "r", "run", 7)
    assert record["seeds"] == [7] and record["counts"] == {"runs": 1}
    assert cli(["validate", "country=tunisia_like", "seed=8", "replications=2", *SHORT,
                "model.scale=50", f"target_file={small_targets(tmp_path, 5800)}",
                f"output_dir={tmp_path / 'v'}"]) == 0
    record = check_manifest(tmp_path / "v", "validate", 8, 2)
    assert record["counts"]["runs"] == 2 and record["counts"]["targets"] == 2


def test_equal_configs_hash_equal_and_any_change_changes_the_hash():
    a = {"model": {"scale": 2, "horizon_months": 96}, "seed": 1}
    b = {"seed": 1, "model": {"horizon_months": 96, "scale": 2}}  # same content, other order
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "seed": 2})
    assert config_hash(a) != config_hash({"model": {"scale": 2.5, "horizon_months": 96}, "seed": 1})
