"""`handover run` end to end, and bad input stopping before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from experiments.cli import main

TINY = ["model.scale=50", "model.horizon_months=36"]


def test_run_writes_outcomes_timeseries_manifest_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", f"output_dir={out}", "seed=4", "scenario=abrupt_exit", *TINY]) == 0
    printed = capsys.readouterr().out
    assert "coverage (handover window)" in printed and "dropped cases" in printed
    outcomes = json.loads((out / "outcomes.json").read_text())
    for key in ("coverage", "dropped_cases", "unmet_need_months", "gap_depth", "gap_months",
                "sustainable_share_12m", "remigration_12m", "donor_spend", "national_spend"):
        assert key in outcomes
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 36 and {"month", "arrivals", "coverage", "caseload_national_agency"} <= set(ts)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["config"]["scenario"]["name"] == "abrupt_exit"
    assert manifest["packages"]["mesa"].startswith("3.5")
    assert (out / "run.png").stat().st_size > 10_000


@pytest.mark.parametrize("override, message", [
    ("model.horizon_months=0", "model.horizon_months"),
    ("country=atlantis", "allowed: nigeria_like"),
    ("scenario=nothing", "allowed: abrupt_exit"),
    ("colour=red", "colour: unknown key"),
    ("country.providers.0.cases_per_staff=-3", "country.providers.iom_avrr.cases_per_staff"),
    ("country.arrivals.modality_shares.forced=0.5", "modality_shares: shares must sum to 1"),
    ("seed=-1", "seed"),
])
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(tmp_path, override, message):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "run", f"output_dir={out}", override],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
