"""A country's own data files: monthly arrivals (and optionally donor budgets) from CSV.

A country profile may point at data files under `data:` (paths relative to `configs/`, or
absolute)::

    data:
      arrivals: data/tunisia_like/arrivals.csv   # required columns: month, modality, persons
      budgets: data/tunisia_like/budgets.csv     # optional; columns: month, funder, budget_usd

`attach_data(country)` reads and checks the files and returns the profile with the series
written into the run configuration (`arrivals.series`, `funders.<name>.budget_series`), so
the simulator (`sim/`) never reads files. Model month 0 is the first month of the arrivals
file (or of the budgets file when there is no arrivals file). Schemas: docs/calibration.md.

Every problem is a `ConfigError` naming the file, the row (1 = the header line) and the
column, raised before any command writes anything.
"""

from __future__ import annotations

import copy
import csv
import math
import re
from pathlib import Path
from typing import Any

from experiments.config import CONFIG_DIR, ConfigError
from sim.domain import MODALITIES

#: file kind -> (required columns, optional columns)
SCHEMAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "arrivals": (("month", "modality", "persons"), ("region",)),
    "budgets": (("month", "funder", "budget_usd"), ()),
}
DATA_KEYS = tuple(SCHEMAS)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def resolve_path(path: str | Path) -> Path:
    """A data path as written in a profile: absolute, or relative to `configs/`."""
    p = Path(str(path))
    return p if p.is_absolute() else CONFIG_DIR / p


def attach_data(country: dict[str, Any]) -> dict[str, Any]:
    """The country profile with its `data:` files read into series (or unchanged).

    Args:
        country: the `country` node of a run configuration (plain dict).

    Returns:
        A copy without the `data` key, with `arrivals.series` (when an arrivals file is
        given) and `budget_series` on the funders listed in the budgets file.

    Raises:
        ConfigError: unknown data key, missing file, or a malformed file (names the file,
            row and column).
    """
    data = country.get("data")
    if data is None:
        return {k: v for k, v in country.items() if k != "data"}
    if not isinstance(data, dict):
        raise ConfigError(f"country.data: must be a mapping with keys {', '.join(DATA_KEYS)}")
    unknown = sorted(set(data) - set(DATA_KEYS))
    if unknown:
        raise ConfigError(f"country.data.{unknown[0]}: unknown key; allowed: {', '.join(DATA_KEYS)}")
    out = copy.deepcopy({k: v for k, v in country.items() if k != "data"})
    start = None
    if data.get("arrivals") is not None:
        regions = [r.get("name") for r in out.get("regions", []) if isinstance(r, dict)]
        rows = read_table(data["arrivals"], "arrivals")
        start, series = arrival_series(rows, data["arrivals"], regions)
        out.setdefault("arrivals", {})["series"] = series
    if data.get("budgets") is not None:
        donors = [f.get("name") for f in out.get("funders", [])
                  if isinstance(f, dict) and f.get("kind") == "donor"]
        rows = read_table(data["budgets"], "budgets")
        for name, values in budget_series(rows, data["budgets"], donors, start).items():
            funder = next(f for f in out["funders"] if f.get("name") == name)
            funder["budget_series"] = values
    return out


def read_table(path: str | Path, kind: str) -> list[dict[str, str]]:
    """Rows of a data CSV as {column: text}, after checking the header against `SCHEMAS`.

    Raises:
        ConfigError: file missing or unreadable, empty, no data rows, missing or unknown
            column, ragged row.
    """
    required, optional = SCHEMAS[kind]
    file = resolve_path(path)
    if not file.is_file():
        raise ConfigError(f"country.data.{kind}: file not found: {file}")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read ({err})") from None
    lines = list(csv.reader(text.splitlines()))
    lines = [ln for ln in lines if any(cell.strip() for cell in ln)]
    if not lines:
        raise ConfigError(f"{file}: the file is empty; expected a header with columns "
                          f"{', '.join(required)}")
    header = [h.strip() for h in lines[0]]
    for col in required:
        if col not in header:
            raise ConfigError(f"{file}: row 1: missing column '{col}'; required: "
                              f"{', '.join(required)}; optional: {', '.join(optional) or 'none'}")
    extra = [h for h in header if h not in required + optional]
    if extra:
        raise ConfigError(f"{file}: row 1, column '{extra[0]}': unknown column; allowed: "
                          f"{', '.join(required + optional)}")
    if len(lines) < 2:
        raise ConfigError(f"{file}: no data rows below the header")
    rows = []
    for i, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(header):
            raise ConfigError(f"{file}: row {i}: {len(cells)} fields, the header has {len(header)}")
        rows.append({"_row": str(i), **{h: c.strip() for h, c in zip(header, cells)}})
    for r in rows:
        r["_file"] = str(file)
    return rows


def _where(row: dict[str, str], column: str) -> str:
    return f"{row['_file']}: row {row['_row']}, column '{column}'"


def parse_month(row: dict[str, str]) -> int:
    """Calendar month `YYYY-MM` as a month count (year x 12 + month - 1)."""
    m = _MONTH.match(row["month"])
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"{_where(row, 'month')}: must be a month as YYYY-MM, got {row['month']!r}")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def parse_amount(row: dict[str, str], column: str) -> float:
    """A finite, non-negative number."""
    try:
        value = float(row[column])
    except ValueError:
        raise ConfigError(f"{_where(row, column)}: must be a number, got {row[column]!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{_where(row, column)}: must be a finite number, got {row[column]!r}")
    if value < 0:
        raise ConfigError(f"{_where(row, column)}: must be >= 0 (a count or amount), got {value:g}")
    return value


def _choice(row: dict[str, str], column: str, allowed: list[str] | tuple[str, ...]) -> str:
    value = row[column]
    if value not in allowed:
        raise ConfigError(f"{_where(row, column)}: unknown value {value!r}; allowed: {', '.join(allowed)}")
    return value


def _months(rows: list[dict[str, str]]) -> list[int]:
    """Month counts of the rows, checked to be in order without gaps."""
    months = [parse_month(r) for r in rows]
    for prev, cur, row in zip(months, months[1:], rows[1:]):
        if cur < prev:
            raise ConfigError(f"{_where(row, 'month')}: months must be in ascending order; "
                              f"{row['month']} comes after a later month")
        if cur > prev + 1:
            raise ConfigError(f"{_where(row, 'month')}: months must be consecutive; "
                              f"{cur - prev - 1} month(s) missing before {row['month']}")
    return months


def arrival_series(rows: list[dict[str, str]], path: str | Path,
                   regions: list[str]) -> tuple[int, dict[str, Any]]:
    """Monthly persons by modality (and region shares) from the rows of an arrivals file.

    A (month, modality[, region]) combination absent from the file counts as 0 persons;
    one listed twice is an error.

    Returns:
        (first month count, series) where series is {"source", "start", "persons",
        "region_shares"}: persons[t][m] in `MODALITIES` order; region_shares[t][r] in the
        profile's region order (None without a region column).
    """
    months = _months(rows)
    start = months[0]
    n = months[-1] - start + 1
    has_region = "region" in rows[0]
    persons = [[0.0] * len(MODALITIES) for _ in range(n)]
    by_region = [[0.0] * len(regions) for _ in range(n)] if has_region else None
    seen: set[tuple] = set()
    for month, row in zip(months, rows):
        modality = _choice(row, "modality", MODALITIES)
        region = _choice(row, "region", regions) if has_region else None
        value = parse_amount(row, "persons")
        key = (month, modality, region)
        if key in seen:
            raise ConfigError(f"{_where(row, 'modality')}: duplicate row for {row['month']}, "
                              f"{modality}{', ' + region if region else ''}")
        seen.add(key)
        persons[month - start][MODALITIES.index(modality)] += value
        if by_region is not None:
            by_region[month - start][regions.index(region)] += value
    shares = None
    if by_region is not None:
        shares = [[v / sum(r) if sum(r) > 0 else 1.0 / len(r) for v in r] for r in by_region]
    first = rows[0]["month"]
    return start, {"source": str(resolve_path(path)), "start": first, "persons": persons,
                   "region_shares": shares}


def budget_series(rows: list[dict[str, str]], path: str | Path, donors: list[str],
                  start: int | None) -> dict[str, list[float]]:
    """Monthly budget (USD) per donor from the rows of a budgets file.

    Months are aligned on `start` (the arrivals file's first month) when given; a donor
    absent in a month gets 0 USD that month.

    Raises:
        ConfigError: a month before the arrivals data starts, an unknown funder, a
            duplicate (month, funder) row, or a malformed cell.
    """
    months = _months(rows)
    start = months[0] if start is None else start
    if months[0] < start:
        raise ConfigError(f"{_where(rows[0], 'month')}: budgets start before the arrivals data "
                          f"(model month 0)")
    n = months[-1] - start + 1
    out: dict[str, list[float]] = {}
    seen: set[tuple] = set()
    for month, row in zip(months, rows):
        funder = _choice(row, "funder", donors)
        value = parse_amount(row, "budget_usd")
        if (month, funder) in seen:
            raise ConfigError(f"{_where(row, 'funder')}: duplicate row for {row['month']}, {funder}")
        seen.add((month, funder))
        out.setdefault(funder, [0.0] * n)[month - start] = value
    return out
