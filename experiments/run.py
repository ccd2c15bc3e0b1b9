"""`handover run [overrides]`: one scenario, one seed.

Prints a summary table and writes, in `output_dir`: outcomes.json, timeseries.parquet,
manifest.json and run.png (coverage and caseload by provider kind over time). All input is
validated before anything is written.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from experiments.config import run_config
from experiments.settings import load_settings
from experiments.study.outputs import (
    manifest,
    require_empty,
    resolve_output_dir,
    staged_output_dir,
    utc_now,
    write_manifest,
    write_json,
)
from experiments.plots import plot_run

#: Rows of the printed summary: (outcome key, label, format).
SUMMARY_ROWS = (
    ("coverage", "coverage (handover window)", "{:.1%}"),
    ("coverage_programme", "  programme-eligible returnees", "{:.1%}"),
    ("coverage_nonprogramme", "  non-programme returnees", "{:.1%}"),
    ("coverage_vulnerable", "  vulnerable returnees", "{:.1%}"),
    ("baseline_coverage", "baseline coverage (pre-handover)", "{:.1%}"),
    ("dropped_cases", "dropped cases (persons)", "{:,.0f}"),
    ("unmet_need_months", "unmet need-months", "{:,.0f}"),
    ("gap_depth", "gap depth (worst shortfall, points)", "{:.1%}"),
    ("gap_episodes", "gap episodes (persons)", "{:,.0f}"),
    ("gap_duration", "gap duration (longest, months)", "{:.0f}"),
    ("gap_months", "material gap months", "{:.0f}"),
    ("material_gap", "material gap (0/1)", "{:.0f}"),
    ("sustainable_share_12m", "sustainably reintegrated at 12 months", "{:.1%}"),
    ("remigration_12m", "re-migrated within 12 months", "{:.1%}"),
    ("remigration_24m", "re-migrated within 24 months", "{:.1%}"),
    ("donor_spend", "donor spend (USD)", "{:,.0f}"),
    ("national_spend", "national spend (USD)", "{:,.0f}"),
    ("national_share_of_spend", "national share of spend", "{:.1%}"),
    ("national_share_of_caseload", "national share of caseload", "{:.1%}"),
    ("cost_per_covered_episode", "cost per covered episode (USD)", "{:,.0f}"),
)


def summary_table(outcomes: dict[str, float]) -> str:
    """The outcomes as an aligned two-column text table."""
    lines = []
    for key, label, fmt in SUMMARY_ROWS:
        value = outcomes.get(key)
        text = "n/a" if value is None or value != value else fmt.format(value)
        lines.append(f"  {label:<40} {text:>16}")
    return "\n".join(lines)


def prepare(overrides: list[str]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Compose and fully validate a run (params and scenario) without running it."""
    from experiments.validation import validate_jobs

    cfg, settings = load_settings("run", overrides)
    seed = settings.seed
    config = run_config(cfg)
    validate_jobs([{"config": config}])
    return cfg, config, seed


def main(overrides: list[str]) -> int:
    """Run one simulation and write its files; returns the exit status."""
    from experiments.study.jobs import simulate

    cfg, config, seed = prepare(overrides)
    final = resolve_output_dir(cfg, "run")
    require_empty(final)  # before simulating, not after
    m = config["model"]
    print(f"handover run: country={config['country']['name']} scenario={config['scenario']['name']} "
          f"seed={seed} horizon={m['horizon_months']} months scale=1:{m['scale']}")
    started = utc_now()
    result = simulate(config, seed)
    with staged_output_dir(final) as out:
        write_json(out / "outcomes.json", result.outcomes)
        result.timeseries.to_parquet(out / "timeseries.parquet", index=False)
        write_manifest(out, manifest(cfg, seed, "run", seeds=[seed], started_utc=started,
                                     counts={"runs": 1}))
        plot_run(pd.read_parquet(out / "timeseries.parquet"), out / "run.png",  # drawn from the file
                 f"{config['country']['name']} / {config['scenario']['name']} / seed {seed}",
                 handover_start=m["handover_start"])
    print(summary_table(result.outcomes))
    print(f"\nwrote {final}/: outcomes.json timeseries.parquet manifest.json run.png")
    return 0
