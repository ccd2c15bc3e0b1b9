"""Units, ranges and display formats of outcome names: one place for every table and figure.

The kind of an outcome is read from its name, so outcomes added later (subgroup coverage,
graded gap measures...) are formatted and clipped without being listed here:

==========  =========================================  ==========  =====================
kind        names (patterns)                           range       shown as
==========  =========================================  ==========  =====================
``usd``     ``*spend*`` (not ``*share*``), ``cost_*``  >= 0        ``1,234,567`` USD
``share``   ``coverage*``, ``*share*``, ``*risk*``,    [0, 1]      ``12.3`` %
            ``remigration*``, ``*drawdown*``, ``gap_depth*``
``months``  ``*_months`` (not need-months)             >= 0        ``12.6`` months
``count``   ``*cases*``, ``dropped*``, ``*need*``,     >= 0        ``1,234``
            ``*episodes*``,
            ``arrivals``, ``caseload*``, ``persons``
``number``  anything else                              none        3 significant digits
==========  =========================================  ==========  =====================

Column names with statistics (``coverage_mean``, ``gap_risk_lo``, ``coverage_p05``,
``coverage_regret_max``) take the kind of their outcome; a ``diff_`` prefix or ``_regret``
marks a difference (no range; shares shown in percentage points).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

#: kind -> (lower bound, upper bound) a quantity of that kind can take.
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "usd": (0.0, None),
    "share": (0.0, 1.0),
    "months": (0.0, None),
    "count": (0.0, None),
    "number": (None, None),
}

#: kind -> unit shown in headers and axis labels.
UNITS = {"usd": "USD", "share": "%", "months": "months", "count": "", "number": ""}

_STAT_SUFFIX = re.compile(
    r"_(mean|lo|hi|worst|best|p\d\d|median|sd|std|min|max|regret_max|regret_mean|regret)$"
)


def base_name(column: str) -> str:
    """The outcome a column describes: `diff_coverage_lo` -> `coverage`."""
    name = column[len("diff_"):] if column.startswith("diff_") else column
    previous = None
    while previous != name:
        previous, name = name, _STAT_SUFFIX.sub("", name)
    return name


def is_difference(column: str) -> bool:
    """True for paired differences and regrets (signed or distance quantities)."""
    return column.startswith("diff_") or "_regret" in column


def kind(column: str) -> str:
    """The kind of an outcome or statistic column (see the module table)."""
    name = base_name(column)
    if ("spend" in name and "share" not in name) or name.startswith("cost_"):
        return "usd"
    if (name.startswith(("coverage", "remigration", "sustainable", "baseline_coverage"))
            or any(k in name for k in ("share", "risk", "drawdown", "gap_depth", "density"))):
        return "share"
    if any(k in name for k in ("cases", "dropped", "need", "episodes", "arrivals", "caseload",
                               "persons")):
        return "count"
    if name.endswith("months") or name.endswith("_month"):
        return "months"
    return "number"


def bounds(column: str) -> tuple[float | None, float | None]:
    """(low, high) the quantity can take; (None, None) for differences and unknown kinds."""
    if is_difference(column):
        return (None, None)
    return BOUNDS[kind(column)]


def clip(column: str, values: Any) -> Any:
    """Clip values (scalar or array) to what the quantity can take (e.g. interval bounds).

    Interval ends of a share below 0 or above 1, or of a count below 0, carry no meaning:
    the t-interval is symmetric but the quantity is not.
    """
    lo, hi = bounds(column)
    if lo is None and hi is None:
        return values
    out = np.clip(np.asarray(values, dtype=float), lo, hi)
    return float(out) if out.ndim == 0 else out


def unit(column: str) -> str:
    """Unit for headers and axis labels ('%' for shares, 'pp' for share differences)."""
    k = kind(column)
    if k == "share" and is_difference(column):
        return "pp"
    return UNITS[k]


def label(column: str) -> str:
    """Readable label with unit: `donor_spend_mean` -> `donor spend mean (USD)`."""
    u = unit(column)
    text = column.replace("_", " ")
    return f"{text} ({u})" if u else text


def format_value(column: str, value: Any) -> str:
    """One cell, formatted for its kind: USD without decimals, shares as % with one decimal.

    Args:
        column: the column name (its kind decides the format).
        value: a number (NaN/None -> empty string) or anything else (str()).

    Returns:
        The formatted text, without the unit (the unit is in the header).
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return "" if value is None else str(value)
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return ""
    k = kind(column)
    sign = "+" if is_difference(column) and v > 0 else ""
    if k == "share":
        return f"{sign}{v * 100:.1f}"
    if k in ("usd", "count"):
        return f"{sign}{v:,.0f}"
    if k == "months":
        return f"{sign}{v:,.1f}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{v:.3g}"
