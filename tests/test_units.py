"""Units, ranges and formats read from outcome names (experiments.units)."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import units


@pytest.mark.parametrize("column, kind", [
    ("coverage", "share"), ("coverage_programme_mean", "share"), ("gap_risk_lo", "share"),
    ("national_share_of_spend", "share"), ("max_coverage_drawdown", "share"),
    ("remigration_12m", "share"), ("satisficing_share", "share"), ("coverage_p05", "share"),
    ("donor_spend_mean", "usd"), ("cost_per_covered_episode", "usd"),
    ("dropped_cases_hi", "count"), ("unmet_need_months", "count"), ("gap_months", "months"),
    ("seed", "number"), ("futures", "number"),
])
def test_kind_from_name(column, kind):
    assert units.kind(column) == kind


def test_bands_clipped_to_what_a_quantity_can_take():
    assert units.clip("coverage_lo", -0.14) == 0.0
    assert units.clip("coverage_hi", 1.2) == 1.0
    assert units.clip("dropped_cases_lo", -2680.0) == 0.0
    np.testing.assert_array_equal(units.clip("donor_spend", np.array([-1.0, 5.0])), [0.0, 5.0])
    # differences and regrets are signed: never clipped
    assert units.clip("diff_coverage_lo", -0.14) == -0.14
    assert units.clip("seed", -3.0) == -3.0


def test_formats_and_units():
    assert units.format_value("donor_spend", 142594000.4) == "142,594,000"
    assert units.format_value("coverage", 0.0981) == "9.8"
    assert units.format_value("diff_coverage", 0.127) == "+12.7"
    assert units.unit("diff_coverage") == "pp" and units.unit("coverage") == "%"
    assert units.format_value("coverage", float("nan")) == ""
    assert units.format_value("scenario", "status_quo") == "status_quo"


def test_compare_band_is_clipped_in_its_own_units():
    import pandas as pd

    from experiments.compare.plots import band

    series = pd.DataFrame({
        "scenario": ["a"] * 3, "replication": [0, 1, 2], "month": [5] * 3,
        "coverage": [0.0, 0.01, 0.5], "dropped_cases": [0.0, 0.0, 900.0],
    })
    cov, drop = band(series, "coverage"), band(series, "dropped_cases")
    assert cov["lo"].iloc[0] == 0.0 and 0.5 < cov["hi"].iloc[0] <= 1.0
    assert drop["lo"].iloc[0] == 0.0 and drop["hi"].iloc[0] > 900.0


def test_one_colour_per_scenario_whatever_else_is_drawn():
    from experiments.config import group_options
    from experiments.plots import scenario_colours

    library = group_options("scenario")
    alone = scenario_colours(["status_quo"])["status_quo"]
    with_others = scenario_colours(list(reversed(library)))
    assert with_others["status_quo"] == alone
    assert len(set(with_others.values())) == len(library)  # distinct within the library
    own = scenario_colours(["my_own", "status_quo", "other_own"])
    assert own["status_quo"] == alone
    assert own["my_own"] != own["other_own"]
    assert not {own["my_own"], own["other_own"]} & set(with_others.values())
