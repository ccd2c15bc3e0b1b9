"""Posterior ensembles in studies, and the validate command end to end (small runs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from experiments.cli import main as cli
from experiments.compare.driver import run_comparison
from experiments.config import ConfigError, get_dotted

FACTOR = "country.returnees.trust_ext"
VALUES = [0.3, 0.5, 0.7]


def echo_job(spec: dict) -> dict:
    """Stand-in simulation: reports the parameter value its config carries."""
    value = float(get_dotted(spec["config"], FACTOR))
    series = pd.DataFrame({"month": [0], "coverage": [value]})
    return {"coverage": value, "dropped_cases": 0.0, "national_spend": value * 10}, series


def make_posterior(folder: Path, weights=(0.2, 0.3, 0.5)) -> Path:
    folder.mkdir(parents=True)
    pd.DataFrame({FACTOR: VALUES, "weight": list(weights)}).to_csv(folder / "posterior.csv", index=False)
    (folder / "space.yaml").write_text(yaml.safe_dump(
        {"factors": [{"path": FACTOR, "dist": "unif", "bounds": [0.1, 0.9]}]}))
    return folder


def test_compare_draws_one_parameter_set_per_replication_common_to_scenarios(tmp_path):
    post = make_posterior(tmp_path / "post")
    out = tmp_path / "cmp"
    args = ["scenarios=[status_quo,abrupt_exit]", "replications=12", f"posterior={post}",
            f"output_dir={out}", "model.horizon_months=12"]
    run_comparison(args, job_fn=echo_job)
    runs = pd.read_parquet(out / "runs.parquet")
    assert "parameter_set" in runs
    wide = runs.pivot(index="replication", columns="scenario", values="coverage")
    assert (wide["status_quo"] == wide["abrupt_exit"]).all()  # same set in every scenario
    sets = runs.groupby("replication")["parameter_set"].first()
    assert set(sets) <= {0, 1, 2} and len(set(sets)) > 1
    assert (runs["coverage"] == [VALUES[i] for i in runs["parameter_set"]]).all()
    assert "parameter uncertainty" in (out / "report.html").read_text()
    # same seed, same draws
    out2 = tmp_path / "cmp2"
    run_comparison([*args[:-2], f"output_dir={out2}", "model.horizon_months=12"], job_fn=echo_job)
    assert pd.read_parquet(out2 / "runs.parquet")["parameter_set"].tolist() == runs["parameter_set"].tolist()


def test_without_posterior_the_report_says_stochastic_only(tmp_path):
    out = tmp_path / "cmp"
    run_comparison(["scenarios=[status_quo,abrupt_exit]", "replications=2", f"output_dir={out}"],
                   job_fn=echo_job)
    assert "stochastic variation between replications only" in (out / "report.html").read_text()


@pytest.mark.parametrize("breakage, message", [
    ("missing", "not found"),
    ("column", "missing column 'weight'"),
    ("negative", "weights >= 0"),
])
def test_bad_posterior_refused_before_writing(tmp_path, breakage, message):
    post = make_posterior(tmp_path / "post")
    if breakage == "missing":
        (post / "space.yaml").unlink()
    elif breakage == "column":
        pd.DataFrame({FACTOR: VALUES}).to_csv(post / "posterior.csv", index=False)
    else:
        pd.DataFrame({FACTOR: VALUES, "weight": [1, -1, 1]}).to_csv(post / "posterior.csv", index=False)
    out = tmp_path / "cmp"
    with pytest.raises(ConfigError, match=message):
        run_comparison(["scenarios=[status_quo,abrupt_exit]", "replications=2", f"posterior={post}",
                        f"output_dir={out}"], job_fn=echo_job)
    assert not out.exists()


#: A very short tunisia_like run (seconds).
SHORT = ["model.horizon_months=14", "model.handover_start=6", "model.warmup_months=2"]


def small_targets(tmp_path: Path, value: float) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"targets": [
        {"name": "returns_per_year", "value": value, "tolerance": {"rel": 0.1},
         "statistic": {"kind": "series", "column": "arrivals", "how": "annual_mean"},
         "source": "source, note 25"},
        {"name": "assistance_months", "value": 9, "tolerance": {"interval": [6, 12]},
         "statistic": {"kind": "cohort", "measure": "assist_months"}, "source": "source", "fit": False},
    ]}))
    return path


@pytest.mark.parametrize("value, strict, code", [(5800, True, 0), (20000, False, 0), (20000, True, 1)])
def test_validate_writes_table_and_exits_by_strictness(tmp_path, capsys, value, strict, code):
    out = tmp_path / "val"
    args = ["validate", "country=tunisia_like", f"target_file={small_targets(tmp_path, value)}",
            "replications=2", *SHORT, "model.scale=20", f"strict={str(strict).lower()}",
            f"output_dir={out}"]
    assert cli(args) == code
    table = pd.read_csv(out / "validation.csv")
    assert list(table["target"]) == ["returns_per_year", "assistance_months"]
    assert table.loc[0, "within_tolerance"] == ("yes" if value == 5800 else "no")
    assert (out / "validation.png").exists() and (out / "manifest.json").exists()
    assert "returns_per_year" in capsys.readouterr().out


@pytest.mark.parametrize("command, override, message", [
    ("validate", "target_file=nowhere", "target_file: no targets for 'nowhere'"),
    ("validate", "replications=1", "replications: must be an integer >= 2"),
    ("validate", "strict=maybe", "strict: must be true or false"),
    ("calibrate", "space=nowhere", "space: unknown space 'nowhere'"),
    ("calibrate", "particles=1", "particles: must be an integer >= 2"),
    ("calibrate", "name=bad/name", "name: letters, digits and _ only"),
])
def test_bad_input_exit_2_no_output(tmp_path, capsys, command, override, message):
    out = tmp_path / "out"
    assert cli([command, override, f"output_dir={out}"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_calibrate_end_to_end_writes_posterior_and_a_profile_usable_by_name(tmp_path, capsys):
    """A very small calibration through the CLI; the installed profile runs by name."""
    from experiments.config import CONFIG_DIR

    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"factors": [
        {"path": "country.arrivals.monthly_mean", "dist": "unif", "bounds": [300, 700]}]}))
    out = tmp_path / "cal"
    name = "zz_test_calibrated"
    installed = [CONFIG_DIR / "country" / f"{name}.yaml", CONFIG_DIR / "targets" / f"{name}.yaml"]
    try:
        code = cli(["calibrate", "country=tunisia_like", f"target_file={small_targets(tmp_path, 5800)}",
                    f"space={space}", "particles=3", "generations=2", "oversample=2", *SHORT,
                    "model.scale=50", f"name={name}", f"output_dir={out}"])
        assert code == 0
        for f in ("posterior.csv", "space.yaml", "candidates.csv", "fit.csv", "posterior_summary.csv",
                  "fit.png", "posterior.png", "manifest.json", f"country/{name}.yaml"):
            assert (out / f).exists(), f
        from test_manifest import check_manifest

        record = check_manifest(out, "calibrate", 1)
        assert record["counts"]["posterior"] == 3 and record["counts"]["parameters"] == 1
        posterior = pd.read_csv(out / "posterior.csv")
        assert len(posterior) == 3 and abs(posterior["weight"].sum() - 1) < 1e-9
        summary = pd.read_csv(out / "posterior_summary.csv")
        mean = float(summary.loc[0, "posterior_mean"])
        profile = yaml.safe_load(installed[0].read_text())
        assert profile["name"] == name and profile["arrivals"]["monthly_mean"] == pytest.approx(mean)
        run_out = tmp_path / "run"
        assert cli(["run", f"country={name}", "model.horizon_months=8", "model.handover_start=3",
                    "model.warmup_months=1", "model.scale=50", f"output_dir={run_out}"]) == 0
        # the posterior folder feeds validate (one parameter set per replication)
        val = tmp_path / "val"
        assert cli(["validate", "country=tunisia_like", f"target_file={small_targets(tmp_path, 5800)}",
                    f"posterior={out}", "replications=2", *SHORT, "model.scale=50",
                    f"output_dir={val}"]) == 0
        assert "parameter_set" in pd.read_parquet(val / "runs.parquet")
    finally:
        for path in installed:
            path.unlink(missing_ok=True)



def test_sweep_uses_the_same_parameter_set_for_replication_r_in_every_setting(tmp_path):
    import json

    from experiments.sweep.driver import run_sweep

    post = make_posterior(tmp_path / "post")
    out = tmp_path / "sw"
    run_sweep(["grid={model.timely_months:[3,4]}", "replications=6", f"posterior={post}",
               f"output_dir={out}"], job_fn=echo_job, progress=False)
    runs = pd.read_parquet(out / "runs.parquet")
    wide = runs.pivot(index="replication", columns="setting", values="coverage")
    assert (wide[0] == wide[1]).all()
    assert (runs["coverage"] == [VALUES[i] for i in runs["parameter_set"]]).all()
    assert "parameter uncertainty" in json.loads((out / "manifest.json").read_text())["uncertainty"]
    with pytest.raises(ConfigError, match="also varied by this study"):
        run_sweep([f"grid={{{FACTOR}:[0.4,0.6]}}", "replications=2", f"posterior={post}",
                   f"output_dir={tmp_path / 'clash'}"], job_fn=echo_job, progress=False)
    assert not (tmp_path / "clash").exists()


# --- validate and calibrate check every run with the shared pass (validate_jobs) -------------


def test_validate_checks_every_posterior_parameter_set_before_writing(tmp_path, capsys):
    """A posterior set the simulator would refuse stops validate: exit 2, nothing written."""
    post = tmp_path / "post"
    post.mkdir()
    pd.DataFrame({"country.returnees.help_seeking": [0.3, 1.5], "weight": [0.5, 0.5]}).to_csv(
        post / "posterior.csv", index=False)
    (post / "space.yaml").write_text(yaml.safe_dump({"factors": [
        {"path": "country.returnees.help_seeking", "dist": "unif", "bounds": [0, 1]}]}))
    out = tmp_path / "val"
    assert cli(["validate", "country=tunisia_like", f"target_file={small_targets(tmp_path, 5800)}",
                f"posterior={post}", "replications=8", *SHORT, "model.scale=50",
                f"output_dir={out}"]) == 2
    err = capsys.readouterr().err
    assert "country.returnees.help_seeking" in err and "parameter_set=1" in err
    assert not out.exists()


@pytest.mark.parametrize("bounds, override, named", [
    ([0.5, 1.5], None, "high end of its prior"),  # the prior reaches invalid values
    ([0.2, 0.8], "country.arrivals.monthly_mean=inf", "country.arrivals.monthly_mean"),
])
def test_calibrate_checks_the_runs_at_the_ends_of_the_priors(tmp_path, capsys, bounds, override,
                                                              named):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"factors": [
        {"path": "country.returnees.help_seeking", "dist": "unif", "bounds": bounds}]}))
    out = tmp_path / "cal"
    args = ["calibrate", "country=tunisia_like", f"target_file={small_targets(tmp_path, 5800)}",
            f"space={space}", "particles=2", "generations=1", "oversample=1", "install=false",
            *SHORT, f"output_dir={out}", *([override] if override else [])]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and named in err
    assert not out.exists()


def test_support_ends_bound_every_candidate():
    from experiments.calibrate.abc import support_ends
    from experiments.space import parse_space

    space = parse_space({"factors": [
        {"path": "country.returnees.help_seeking", "dist": "unif", "bounds": [0.1, 0.9]},
        {"path": "country.arrivals.monthly_mean", "dist": "norm", "mean": 400, "sd": 10}]})
    sets = dict(support_ends(space))
    assert len(sets) == 1 + 2 * 2 + 2
    low = sets["every factor at the low end of its prior"]
    high = sets["every factor at the high end of its prior"]
    assert low["country.returnees.help_seeking"] == 0.1
    assert high["country.returnees.help_seeking"] == 0.9
    # an unbounded prior ends at its 1e-6 quantiles: 400 -+ 4.75 sd
    assert low["country.arrivals.monthly_mean"] == pytest.approx(400 - 47.5, abs=0.1)
    assert high["country.arrivals.monthly_mean"] == pytest.approx(400 + 47.5, abs=0.1)
