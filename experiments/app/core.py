"""What the browser app does, without the browser: choices, overrides, runs and study folders.

Nothing here simulates by itself: an ensemble is a `handover compare` study
(`experiments.compare.driver.run_comparison`, i.e. the shared study runner and the compare
statistics), and a finished study folder is read back from the files its command wrote.
Outcome and series names are read from those files and from the code, never listed here,
so outcomes added to the simulator appear in the app without changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from experiments.config import compose, get_dotted, group_options

#: The file that tells which command wrote a study folder (first match wins).
STUDY_MARKERS = (
    ("compare", "comparison.csv"),
    ("stress", "robustness.csv"),
    ("sensitivity", "indices.csv"),
    ("sweep", "summary.csv"),
    ("run", "outcomes.json"),
)

#: Main levers of an ensemble: (key, label, low, high, step, default for the app).
#: Defaults are small so that a first ensemble finishes in well under a minute.
LEVERS = (
    ("replications", "replications per scenario", 2, 20, 1, 3),
    ("model.scale", "people per agent (coarser = faster, noisier)", 1, 20, 1, 10),
    ("model.horizon_months", "months simulated", 36, 120, 12, 72),
    ("model.handover_start", "handover starts at month", 12, 48, 6, 24),
)

#: Paths of the SA space used as "decisive assumptions" must start with one of these.
ASSUMPTION_ROOTS = ("country.", "model.")


@dataclass(frozen=True)
class Assumption:
    """One uncertain input the user can move: a dotted path with its declared range."""

    path: str
    label: str
    low: float
    high: float
    default: float
    integer: bool = False


def countries() -> list[str]:
    """Country profiles available in configs/country/."""
    return group_options("country")


def scenarios() -> list[str]:
    """Scenarios available in configs/scenario/."""
    return group_options("scenario")


def default_scenarios() -> list[str]:
    """A small first selection: status quo plus two contrasting exit strategies if present."""
    names = scenarios()
    wanted = [n for n in ("status_quo", "abrupt_exit", "linear_taper") if n in names]
    return wanted or names[:3]


def assumptions(country: str, space: str = "default") -> list[Assumption]:
    """Decisive assumptions: the ranged (real or integer) factors of a sensitivity space.

    Read from `configs/sa/<space>.yaml` (experiments.space), so the app offers what the
    sensitivity and stress studies vary; the default of each is the profile's own value.

    Args:
        country: country profile (the defaults come from it).
        space: name of the sensitivity space.

    Returns:
        Assumptions whose path exists in the composed configuration.
    """
    from experiments.space import load_space

    base = compose("compare", [f"country={country}"])
    out = []
    for f in load_space(space).factors:
        if (f.apply != "set" or f.kind == "categorical" or f.bounds is None
                or not f.path.startswith(ASSUMPTION_ROOTS)):
            continue
        try:
            value = get_dotted(base, f.path)
        except Exception:  # noqa: BLE001 - a path this profile does not have: not offered
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        low, high = float(f.bounds[0]), float(f.bounds[1])
        value = min(max(float(value), low), high)
        out.append(Assumption(f.path, f.description or f.name or f.path, low, high, value,
                              f.kind == "integer"))
    return out


def overrides(settings: dict[str, Any]) -> list[str]:
    """Hydra overrides of `handover compare` for the app's settings.

    Args:
        settings: country, scenarios (list), reference, levers by key, assumptions
            (path -> value, only those moved away from the profile), workers, output_dir.

    Returns:
        The override list, e.g. ["country=nigeria_like", "scenarios=[a,b]", ...].
    """
    names = list(settings["scenarios"])
    reference = settings.get("reference") or names[0]
    if reference not in names:
        names = [reference, *names]
    out = [
        f"country={settings['country']}",
        f"scenarios=[{','.join(names)}]",
        f"reference={reference}",
    ]
    for key, *_ in LEVERS:
        if key in settings.get("levers", {}):
            out.append(f"{key}={int(settings['levers'][key])}")
    for path, value in settings.get("assumptions", {}).items():
        out.append(f"{path}={value:g}")
    workers = int(settings.get("workers", 1))
    if workers > 1:
        out += ["executor=processes", f"executor.workers={workers}"]
    else:
        out.append("executor=serial")
    out.append(f"output_dir={settings['output_dir']}")
    return out


def jobs_in(settings: dict[str, Any]) -> int:
    """Number of runs an ensemble needs (scenarios incl. the reference x replications)."""
    names = set(settings["scenarios"]) | {settings.get("reference") or settings["scenarios"][0]}
    return len(names) * int(settings.get("levers", {}).get("replications", 2))


def finished_runs(output_dir: Path) -> int:
    """Runs of a compare study that have finished (their monthly series is on disk)."""
    folder = Path(output_dir) / "timeseries"
    return len(list(folder.glob("*.parquet"))) if folder.is_dir() else 0


def run_ensemble(
    settings: dict[str, Any],
    on_progress: Callable[[int, int], None] | None = None,
    poll_seconds: float = 0.3,
) -> Path:
    """Run `handover compare` for the settings, reporting (finished, total) while it runs.

    Args:
        settings: see `overrides`; `output_dir` is the study folder.
        on_progress: called with (finished runs, total runs) about every `poll_seconds`.
        poll_seconds: how often progress is read from the study folder.

    Returns:
        The study folder.

    Raises:
        ConfigError: invalid settings (nothing is written).
        Exception: whatever the comparison raised.
    """
    from experiments.compare.driver import run_comparison

    total = jobs_in(settings)
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["out"] = run_comparison(overrides(settings))[0]
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = err

    thread = threading.Thread(target=work, name="handover-app-ensemble", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll_seconds)
        if on_progress is not None:
            on_progress(min(finished_runs(settings["output_dir"]), total), total)
    if "error" in result:
        raise result["error"]
    if on_progress is not None:
        on_progress(total, total)
    return Path(result["out"])


@dataclass
class Study:
    """A finished study folder, read back from its files.

    Attributes:
        folder: the folder.
        kind: compare, stress, sensitivity, sweep or run.
        tables: file name -> table (the CSV files the command wrote).
        figures: PNG files (folder and `figures/`), in name order.
        report: report.html if present.
    """

    folder: Path
    kind: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    report: Path | None = None

    def series(self) -> pd.DataFrame:
        """The monthly series of every run (timeseries.parquet), or an empty table."""
        path = self.folder / "timeseries.parquet"
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def study_kind(folder: Path) -> str | None:
    """Which command wrote `folder` (by its marker file), or None."""
    for kind, marker in STUDY_MARKERS:
        if (Path(folder) / marker).is_file():
            return kind
    return None


def open_study(folder: str | Path) -> Study:
    """Read a finished study folder (compare, sweep, sensitivity, stress or run).

    Args:
        folder: the study's output_dir.

    Returns:
        The study's tables and figures.

    Raises:
        ValueError: not a folder, or no known result file in it (the message lists them).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValueError(f"study folder: '{folder}' is not a folder")
    kind = study_kind(folder)
    if kind is None:
        wanted = ", ".join(m for _, m in STUDY_MARKERS)
        raise ValueError(f"study folder: '{folder}' holds none of {wanted}; is it finished?")
    tables = {}
    for path in sorted(folder.glob("*.csv")):
        try:
            tables[path.name] = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
    figures = sorted(folder.glob("*.png")) + sorted((folder / "figures").glob("*.png"))
    report = folder / "report.html"
    return Study(folder, kind, tables, figures, report if report.is_file() else None)


def outcome_means(comparison: pd.DataFrame) -> list[str]:
    """Outcomes of a comparison table that have a mean and an interval (names from the file)."""
    return [c[: -len("_mean")] for c in comparison.columns
            if c.endswith("_mean") and f"{c[: -len('_mean')]}_lo" in comparison.columns]


def subgroup_outcomes(comparison: pd.DataFrame) -> list[str]:
    """Outcomes measured for a subgroup: coverage_* and gap measures with a group suffix."""
    names = outcome_means(comparison)
    groups = [n for n in names if n.startswith("coverage_") or
              (n.startswith(("gap_", "dropped_")) and n not in ("gap_months", "dropped_cases"))]
    return groups or names[:4]


def monthly_series(series: pd.DataFrame) -> list[str]:
    """Numeric monthly series in a timeseries table (keys excluded), names from the file."""
    keys = {"scenario", "replication", "seed", "month", "job", "future", "setting"}
    return [c for c in series.columns if c not in keys
            and pd.api.types.is_numeric_dtype(series[c])
            and not pd.api.types.is_bool_dtype(series[c])]


def wait_for(predicate: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds passed; True if it became true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return predicate()
