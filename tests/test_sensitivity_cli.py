"""`handover sensitivity` end to end: config, default space, files, resume, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments import cli
from experiments.config import ConfigError, compose, run_config
from experiments.space import check_paths, load_space
from experiments.sensitivity.driver import run_sensitivity

TINY = ["space=tiny", "num_resamples=50"]


def toy_job(spec):
    """Stand-in for the simulator: known dependence on the tiny space's factors."""
    ret = spec["config"]["country"]["returnees"]
    renew = spec["config"]["country"]["funders"][0]["renewal_prob"]
    noise = np.random.default_rng(spec["seed"]).normal(0, 0.001)
    return {
        "coverage": ret["trust_gov"] + 0.5 * ret["help_seeking"] + noise,
        "dropped_cases": 100.0 * (1 - renew),
        "unmet_need_months": 1.0,  # constant: indices NaN, no figure
        "gap_depth": 0.0, "gap_months": 0.0,
        "donor_spend": 10.0 * renew, "national_spend": 1.0,
    }


def test_default_space_is_wide_and_resolves_on_the_default_run_config():
    space = load_space("default")
    assert len(space.factors) >= 15
    assert {"returnees", "providers", "funders", "national_system", "scenario"} <= set(space.groups)
    check_paths(space, run_config(compose("sensitivity")))  # raises on any unknown path


def test_sobol_study_writes_tables_figures_and_resumes(tmp_path, capsys):
    out = tmp_path / "sa"
    args = [*TINY, "n=8", "replications=2", f"output_dir={out}"]
    assert run_sensitivity(args, job_fn=toy_job) == 0
    idx = pd.read_csv(out / "indices.csv")
    assert list(idx.columns[:6]) == ["outcome", "factor", "factor2", "index", "value", "conf"]
    cov = idx[(idx.outcome == "coverage") & (idx["index"] == "ST")].set_index("factor")["value"]
    assert cov["country.funders.eu_return_programme.renewal_prob"] == 0.0
    assert cov["country.returnees.trust_gov"] > cov["country.returnees.help_seeking"] > 0
    conv = pd.read_csv(out / "convergence.csv")
    assert sorted(conv["n"].unique()) == [2, 4, 8]
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 8 * (3 + 2) * 2 and runs["error"].isna().all()
    # replication r: one seed at every point
    assert runs.groupby("replication")["seed"].nunique().tolist() == [1, 1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["runs"] == 80 and manifest["problem"]["num_vars"] == 3
    assert (out / "fig_indices_coverage.png").stat().st_size > 1000
    assert not (out / "fig_indices_unmet_need_months.png").exists()
    assert (out / "fig_convergence.png").exists()
    first = (out / "indices.csv").read_bytes()
    capsys.readouterr()
    assert run_sensitivity(args, job_fn=toy_job) == 0  # same output_dir: resumes
    assert "0 ran, 80 resumed" in capsys.readouterr().err
    assert (out / "indices.csv").read_bytes() == first


def test_grouped_morris_study(tmp_path):
    out = tmp_path / "m"
    args = [*TINY, "method=morris", "n=6", "grouped=true", "replications=1", f"output_dir={out}"]
    assert run_sensitivity(args, job_fn=toy_job) == 0
    idx = pd.read_csv(out / "indices.csv")
    assert set(idx["factor"]) == {"returnees", "funders"}
    ms = idx[(idx["index"] == "mu_star") & (idx.outcome == "coverage")].set_index("factor")
    assert ms.loc["funders", "value"] < 0.01 < ms.loc["returnees", "value"]
    assert (out / "fig_morris_coverage.png").exists()


@pytest.mark.parametrize(
    "override,message",
    [
        ("n=100", "n: Sobol' sampling needs N a power of two"),
        ("method=fast", "method: unknown 'fast'; allowed: sobol, morris"),
        ("space=nope", "space: unknown space 'nope'"),
        ("replications=0", "replications: must be an integer >= 1"),
        ("factors=[country.nope]", "factors: unknown factor"),
        ("conf_level=1.5", "conf_level"),
    ],
)
def test_bad_input_exits_2_before_writing(tmp_path, capsys, override, message):
    out = tmp_path / "bad"
    assert cli.main(["sensitivity", *TINY, override, f"output_dir={out}"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_outcome_is_named(tmp_path):
    with pytest.raises(ConfigError, match="outcomes: unknown outcome 'covrage'"):
        run_sensitivity([*TINY, "n=2", "outcomes=[covrage]", f"output_dir={tmp_path}/o"],
                        job_fn=toy_job)


SIM_SMALL = ["space=tiny", "n=2", "replications=1", "model.scale=200",
             "model.horizon_months=36", "model.handover_start=12", "num_resamples=20"]


def test_simulator_sobol_study_end_to_end(tmp_path, capsys):
    pytest.importorskip("experiments.study.jobs")
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["sensitivity", *SIM_SMALL, f"output_dir={a}"]) == 0
    assert cli.main(["sensitivity", *SIM_SMALL, f"output_dir={b}"]) == 0
    runs = pd.read_parquet(a / "runs.parquet")
    assert len(runs) == 2 * (3 + 2) and runs["error"].isna().all()
    idx = pd.read_csv(a / "indices.csv")
    outcomes = compose("sensitivity")["outcomes"]
    assert set(idx["outcome"]) == set(outcomes)
    assert len(idx) == len(outcomes) * 3 * 2  # S1 and ST per factor
    # same seed and settings -> byte-identical indices from the real simulator
    assert (a / "indices.csv").read_bytes() == (b / "indices.csv").read_bytes()
    sample = pd.read_csv(a / "sample.csv")
    trust = runs.merge(sample, on="point")["country.returnees.trust_gov"]
    assert trust.between(0.25, 0.65).all()


def test_space_range_the_simulator_rejects_fails_before_any_run(tmp_path, capsys):
    pytest.importorskip("experiments.study.jobs")
    space = tmp_path / "bad.yaml"
    space.write_text("factors:\n"
                     "  - {path: country.returnees.trust_gov, bounds: [0.5, 1.5]}\n"
                     "  - {path: country.returnees.help_seeking, bounds: [0.2, 0.6]}\n")
    out = tmp_path / "o"
    assert cli.main(["sensitivity", f"space={space}", "n=2", f"output_dir={out}"]) == 2
    err = capsys.readouterr().err
    assert "country.returnees.trust_gov: must be between 0 and 1" in err
    assert "got 1." in err and "(in point=" in err
    assert not out.exists()


@pytest.mark.slow
def test_simulator_grouped_sobol_on_default_space(tmp_path):
    pytest.importorskip("experiments.study.jobs")
    out = tmp_path / "g"
    args = ["grouped=true", "n=4", "replications=2", "model.scale=200", "model.horizon_months=60",
            "num_resamples=20", f"output_dir={out}"]
    assert cli.main(["sensitivity", *args]) == 0
    idx = pd.read_csv(out / "indices.csv")
    assert set(idx["factor"]) == {"returnees", "providers", "funders", "national_system",
                                  "scenario"}
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 4 * (5 + 2) * 2 and runs["error"].isna().all()
    # common random numbers: both replications' seeds are shared by every point
    assert runs.groupby("replication")["seed"].nunique().tolist() == [1, 1]


def test_outputs_get_normal_permissions(tmp_path):
    import os
    import stat

    out = tmp_path / "perm"
    assert run_sensitivity([*TINY, "n=2", "replications=1", f"output_dir={out}"],
                           job_fn=toy_job) == 0
    mask = os.umask(0)
    os.umask(mask)
    for name in ("indices.csv", "manifest.json", "fig_indices_coverage.png"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~mask, name
    assert not list(out.glob(".tmp-*"))
