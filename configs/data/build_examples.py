"""Build the ILLUSTRATIVE example data sets shipped with the two country profiles.

These are not observations. They spread annual orders of magnitude over months so that
the data-file path of the model can be tried and tested:

- tunisia_like: about 5,800 returns a year (the MED-HIMS estimate for 2000-2020 quoted by
  the source) of which about 183 a year assisted by AVRR programmes (the source's annual
  average since 2013); the other modalities follow the profile's shares [assumption].
- nigeria_like: the profile's assumed 3,000 returns a month; the source gives no national
  annual total for Nigeria, so this set is an assumption throughout.

A mild seasonal pattern (more returns in summer) and the profiles' region shares are
assumptions. Budgets: the profiles' donor envelopes, with a mid-period cut for one donor,
to exercise the budgets file. Run from the repository root:

    .venv/bin/python configs/data/build_examples.py
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
COUNTRY = HERE.parent / "country"
YEARS = (2023, 2024, 2025)


def seasonal(month: int) -> float:
    """Relative level of month 1..12 (mean 1): +15 % in July, -15 % in January [assumption]."""
    return 1.0 + 0.15 * math.sin(2 * math.pi * (month - 4) / 12)


def build(profile: str, annual: dict[str, float], donors_cut: dict[str, float]) -> None:
    """Write configs/data/<profile>/arrivals.csv and budgets.csv."""
    spec = yaml.safe_load((COUNTRY / f"{profile}.yaml").read_text())
    regions = [(r["name"], r["share"]) for r in spec["regions"]]
    out = HERE / profile
    out.mkdir(exist_ok=True)
    with open(out / "arrivals.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["month", "modality", "region", "persons"])
        for year in YEARS:
            for month in range(1, 13):
                for modality, per_year in annual.items():
                    for region, share in regions:
                        persons = per_year / 12 * seasonal(month) * share
                        w.writerow([f"{year}-{month:02d}", modality, region, round(persons, 1)])
    with open(out / "budgets.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["month", "funder", "budget_usd"])
        donors = [f for f in spec["funders"] if f["kind"] == "donor"]
        for i, year in enumerate(YEARS):
            for month in range(1, 13):
                for f in donors:
                    factor = donors_cut.get(f["name"], 1.0) if i == len(YEARS) - 1 else 1.0
                    w.writerow([f"{year}-{month:02d}", f["name"], round(f["monthly_budget"] * factor)])


def main() -> None:
    """Build both example sets."""
    tunisia_total, tunisia_avrr = 5800.0, 183.0
    other = tunisia_total - tunisia_avrr  # split like the profile's non-AVRR shares
    build("tunisia_like", {
        "avrr_europe": tunisia_avrr,
        "humanitarian_transit": other * 0.02 / 0.97,
        "forced": other * 0.10 / 0.97,
        "spontaneous": other * 0.85 / 0.97,
    }, {"eu_return_programme": 0.5})
    nigeria = yaml.safe_load((COUNTRY / "nigeria_like.yaml").read_text())["arrivals"]
    build("nigeria_like", {m: nigeria["monthly_mean"] * 12 * s
                           for m, s in nigeria["modality_shares"].items()},
          {"eu_return_programme": 0.5})


if __name__ == "__main__":
    main()
