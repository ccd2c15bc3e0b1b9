"""`posterior=<dir>` end to end through the CLI and the real simulator: compare, sweep, stress.

The posterior is a hand-written folder in the documented format (posterior.csv + space.yaml,
docs/calibration.md) over one factor the runs make visible: the mean monthly arrivals. Two
parameter sets far apart (150 and 1,500 persons a month) tell, from each run's own
`arrivals` outcome, which set it used. Each study must give replication r the same set in
every scenario (and setting, and future): with common seeds, those runs then see exactly
the same arrivals. The report must say that its intervals include parameter uncertainty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from experiments.cli import main as cli

FACTOR = "country.arrivals.monthly_mean"
VALUES = (150.0, 1500.0)
HORIZON = 14
#: A short coarse tunisia_like run (under a second each).
SMALL = ["country=tunisia_like", f"model.horizon_months={HORIZON}", "model.handover_start=6",
         "model.warmup_months=2", "model.spinup_months=6", "model.scale=50"]
SCENARIOS = "scenarios=[status_quo,abrupt_exit]"
REPLICATIONS = 6


@pytest.fixture
def posterior(tmp_path: Path) -> Path:
    folder = tmp_path / "posterior"
    folder.mkdir()
    pd.DataFrame({FACTOR: VALUES, "weight": [0.5, 0.5]}).to_csv(folder / "posterior.csv",
                                                                index=False)
    (folder / "space.yaml").write_text(yaml.safe_dump(
        {"factors": [{"path": FACTOR, "dist": "unif", "bounds": [100, 2000]}]}))
    return folder


def check_common_sets(runs: pd.DataFrame, across: list[str]) -> None:
    """One parameter set per replication, the same across `across`, and visible in the runs."""
    assert runs["error"].isna().all()
    sets = runs.groupby("replication")["parameter_set"].nunique()
    assert (sets == 1).all(), "a replication used different parameter sets"
    assert runs["parameter_set"].nunique() == 2, "both sets should be drawn in 6 replications"
    # same set and same seed: identical arrivals in every scenario / setting / future
    assert (runs.groupby("replication")["arrivals"].nunique() == 1).all()
    assert runs.groupby(["replication", *across]).size().eq(1).all()
    # the set reached the simulator: arrivals per month near the set's mean (Poisson, 1:50)
    per_month = runs["arrivals"] / HORIZON
    expected = runs["parameter_set"].map(dict(enumerate(VALUES)))
    assert ((per_month / expected).between(0.6, 1.4)).all(), (per_month, expected)


def test_compare_with_a_posterior(tmp_path, posterior):
    out = tmp_path / "compare"
    assert cli(["compare", SCENARIOS, f"replications={REPLICATIONS}", f"posterior={posterior}",
                *SMALL, f"output_dir={out}"]) == 0
    check_common_sets(pd.read_parquet(out / "runs.parquet"), ["scenario"])
    assert "include parameter uncertainty" in (out / "report.html").read_text()


def test_sweep_with_a_posterior(tmp_path, posterior, capsys):
    out = tmp_path / "sweep"
    assert cli(["sweep", "grid={model.timely_months:[2,3]}", SCENARIOS,
                f"replications={REPLICATIONS}", f"posterior={posterior}", *SMALL,
                f"output_dir={out}"]) == 0
    check_common_sets(pd.read_parquet(out / "runs.parquet"), ["scenario", "setting"])
    note = json.loads((out / "manifest.json").read_text())["uncertainty"]
    assert "include parameter uncertainty" in note
    assert "include parameter uncertainty" in capsys.readouterr().out


def test_stress_with_a_posterior(tmp_path, posterior):
    out = tmp_path / "stress"
    assert cli(["stress", SCENARIOS, "stress=small", "futures=2",
                f"replications={REPLICATIONS}", f"posterior={posterior}", *SMALL,
                f"output_dir={out}"]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    check_common_sets(runs, ["scenario", "future"])
    assert "include parameter uncertainty" in (out / "report.html").read_text()
    assert "include parameter uncertainty" in json.loads(
        (out / "summary.json").read_text())["uncertainty"]
