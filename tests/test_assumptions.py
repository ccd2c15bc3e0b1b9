"""'What would change this ranking': decisive assumptions one at a time (experiments.compare.assumptions)."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.compare import assumptions as what_if
from experiments.compare.driver import run_comparison
from experiments.config import ConfigError, compose


def _runs(cov: dict[str, list[float]], **tags) -> pd.DataFrame:
    rows = [{"scenario": s, "replication": r, "seed": r, "coverage": c, **tags}
            for s, values in cov.items() for r, c in enumerate(values)]
    return pd.DataFrame(rows)


def test_analyse_reports_paired_differences_and_which_end_changes_the_ranking():
    base = _runs({"ref": [0.10, 0.12, 0.11], "b": [0.30, 0.32, 0.31], "c": [0.20, 0.21, 0.22]})
    low = _runs({"ref": [0.10, 0.12, 0.11], "b": [0.15, 0.16, 0.17], "c": [0.20, 0.21, 0.22]},
                assumption="x", end="low", values="x=0")
    high = _runs({"ref": [0.10, 0.12, 0.11], "b": [0.40, 0.42, 0.41], "c": [0.20, 0.21, 0.22]},
                 assumption="x", end="high", values="x=1")
    detail, summary = what_if.analyse(base, pd.concat([low, high]), ["coverage"], "ref", 0.95)
    row = detail.set_index(["end", "scenario"]).loc[("low", "b")]
    assert row["diff_coverage"] == pytest.approx(0.05)  # paired: (0.15-0.10 + 0.04 + 0.06) / 3
    assert row["base_diff_coverage"] == pytest.approx(0.20)
    assert (row["rank"], row["base_rank"]) == (2, 1)
    s = summary.set_index("end")
    assert bool(s.loc["low", "ranking_changes"]) and s.loc["low", "top"] == "c"
    assert s.loc["low", "ranking"] == "c > b > ref"
    assert not s.loc["high", "ranking_changes"]
    said = what_if.sentences(summary, ["b", "c", "ref"])
    assert len(said) == 1 and "c becomes the best design" in said[0]


def test_parse_assumptions_off_by_default_and_names_bad_factors():
    assert what_if.parse_assumptions(compose("compare", [])) is None
    cfg = compose("compare", ["assumptions.run=true"])
    decisive = what_if.parse_assumptions(cfg)
    assert "commitment_honoured" in decisive and len(decisive["national_unit_cost"]) == 3
    cfg["assumptions"]["decisive"]["x"] = ["country.no.such"]
    with pytest.raises(ConfigError, match="assumptions.decisive.x"):
        what_if.parse_assumptions(cfg)
    with pytest.raises(ConfigError, match="assumptions.only"):
        what_if.parse_assumptions(compose("compare", ["assumptions.run=true", "assumptions.only=[nope]"]))


def test_an_assumption_no_compared_scenario_uses_changes_nothing(tmp_path):
    # Neither scenario pledges a takeover, so how much of a pledge is honoured cannot matter:
    # every assumption run equals its base run (same seeds), exactly.
    out, table, failed = run_comparison([
        "scenarios=[status_quo,abrupt_exit]", "replications=2", "model.scale=200",
        "model.horizon_months=36", "assumptions.run=true",
        "assumptions.only=[commitment_honoured]",
        f"output_dir={tmp_path}"])
    assert failed == 0
    detail = pd.read_csv(out / "assumptions.csv")
    assert set(detail["end"]) == {"low", "high"}
    assert (detail["diff_coverage"] == detail["base_diff_coverage"]).all()
    summary = pd.read_csv(out / "assumptions_summary.csv")
    assert not summary["ranking_changes"].any()
    assert (out / "assumptions.png").is_file()
    assert "What would change this ranking" in (out / "report.html").read_text()
