"""Self-contained HTML reports: tables, embedded figures, configuration, seeds, text.

Rendered from the jinja2 template `experiments/templates/report.html.j2` (autoescaped:
all text is HTML-escaped). The written file has no external assets (no CSS/JS links,
figures embedded as base64 PNG, wide tables as embedded CSV downloads), so it opens in
any browser without Python or network. Numbers are formatted by unit
(`experiments.units`); the configuration is collapsed.

Example:
    >>> rep = Report("Scenario comparison")
    >>> rep.add_text("Summary", "abrupt_exit drops the most cases.")
    >>> rep.add_table("Comparison", df, caption="means and 95 % CIs")
    >>> rep.add_figure("Coverage", "coverage.png", caption="bands: 95 % CI")
    >>> rep.add_config(cfg)
    >>> rep.add_seeds([11, 12, 13])
    >>> rep.write("outputs/compare/report.html")

Sections appear in the order they were added.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from experiments import units
# publish and atomic_write_text live in experiments.study.atomic; re-exported for existing imports
from experiments.study.atomic import atomic_write_text, publish

__all__ = ["Report", "atomic_write_text", "publish", "table_html"]

#: Tables wider than this show their first columns on the page; the whole table is a CSV
#: download embedded in the report.
MAX_COLUMNS = 12


@dataclass
class _Section:
    heading: str
    kind: str  # text | list | table | figure | details | pre
    fields: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:  # template access: s.caption, s.rows...
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("experiments", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def format_frame(df: pd.DataFrame, float_digits: int | None = None) -> pd.DataFrame:
    """A table of strings: each column formatted for its unit, the unit in the header.

    Numbers follow `experiments.units` (USD without decimals, shares as percentages with
    one decimal, counts with thousands separators); `float_digits` forces a fixed number
    of decimals for plain numbers instead.

    Args:
        df: the table; a named or non-default index becomes the first column(s).
        float_digits: decimals for columns of kind "number" (None: 3 significant digits).

    Returns:
        DataFrame of strings with renamed headers ("donor_spend_mean (USD)").
    """
    frame = df
    if not (isinstance(df.index, pd.RangeIndex) and df.index.name is None):
        frame = df.reset_index()
    out = {}
    for col in frame.columns:
        name = str(col)
        values = frame[col]
        if units.kind(name) == "number" and float_digits is not None:
            cells = [_fixed(v, float_digits) for v in values]
        else:
            cells = [units.format_value(name, v) for v in values]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        head = f"{name} ({units.unit(name)})" if numeric and units.unit(name) else name
        out[head] = cells
    return pd.DataFrame(out, columns=list(out))


def _fixed(value: Any, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if value != value else f"{value:.{digits}f}"
    return units.format_value("", value)


def table_html(df: pd.DataFrame, caption: str | None = None, float_digits: int | None = None
               ) -> str:
    """Render a DataFrame as an escaped HTML table, numbers formatted by unit.

    Args:
        df: the table; a named or non-default index is kept as the first column(s).
        caption: optional caption under the table.
        float_digits: decimals for plain-number columns (see `format_frame`).

    Returns:
        The `<table>` element as a string.
    """
    section = _table_section("", df, caption, float_digits, None, MAX_COLUMNS * 100)
    template = _environment().from_string(
        "<table>{% if s.caption %}<caption>{{ s.caption }}</caption>{% endif %}<thead><tr>"
        "{% for c in s.header %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>"
        "{% for r in s.rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>"
        "{% endfor %}</tbody></table>"
    )
    return template.render(s=section)


def _table_section(heading: str, df: pd.DataFrame, caption: str | None,
                   float_digits: int | None, csv_name: str | None, max_columns: int
                   ) -> _Section:
    shown = format_frame(df, float_digits)
    download = None
    if csv_name or shown.shape[1] > max_columns:
        name = csv_name or _slug(heading) + ".csv"
        full = df if isinstance(df.index, pd.RangeIndex) and df.index.name is None \
            else df.reset_index()
        data = base64.b64encode(full.to_csv(index=False).encode("utf-8")).decode("ascii")
        note = ""
        if shown.shape[1] > max_columns:
            note = (f"First {max_columns} of {shown.shape[1]} columns shown; "
                    "the whole table is in the CSV.")
            shown = shown.iloc[:, :max_columns]
        download = {"name": name, "data": data, "note": note}
    return _Section(heading, "table", {
        "caption": caption, "header": list(shown.columns),
        "rows": shown.values.tolist(), "download": download,
    })


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_") or "table"


class Report:
    """A self-contained HTML report assembled section by section (rendered with jinja2).

    Args:
        title: page title and top heading.
        subtitle: optional line under the title (e.g. the command that produced it).
    """

    def __init__(self, title: str, subtitle: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.sections: list[_Section] = []

    def add_text(self, heading: str, text: str) -> "Report":
        """Add a section of plain text; blank lines separate paragraphs.

        Args:
            heading: section heading.
            text: plain text (escaped, not interpreted as HTML).

        Returns:
            The report, for chaining.
        """
        paragraphs = [b.strip() for b in str(text).split("\n\n") if b.strip()]
        self.sections.append(_Section(heading, "text", {"paragraphs": paragraphs}))
        return self

    def add_list(self, heading: str, items: Iterable[Any]) -> "Report":
        """Add a bulleted list of plain-text items.

        Args:
            heading: section heading.
            items: items, each rendered with `str()` and escaped.

        Returns:
            The report, for chaining.
        """
        self.sections.append(_Section(heading, "list", {"items": [str(i) for i in items]}))
        return self

    def add_table(
        self,
        heading: str,
        df: pd.DataFrame,
        caption: str | None = None,
        float_digits: int | None = None,
        csv_name: str | None = None,
        max_columns: int = MAX_COLUMNS,
    ) -> "Report":
        """Add a table from a DataFrame, numbers formatted by unit (`experiments.units`).

        A table wider than `max_columns` shows its first columns; the whole table is
        embedded as a CSV download (also offered whenever `csv_name` is given).

        Args:
            heading: section heading.
            df: the table (a named or non-default index is kept as first column(s)).
            caption: optional caption under the table.
            float_digits: decimals for plain-number columns (default 3 significant digits).
            csv_name: file name of the CSV download, or None (only for wide tables).
            max_columns: most columns shown on the page.

        Returns:
            The report, for chaining.
        """
        self.sections.append(
            _table_section(heading, df, caption, float_digits, csv_name, max_columns)
        )
        return self

    def add_figure(
        self, heading: str, png_path: str | os.PathLike, caption: str | None = None
    ) -> "Report":
        """Embed a PNG figure (read now, stored as base64 in the page).

        Args:
            heading: section heading.
            png_path: path of an existing PNG file.
            caption: optional caption under the figure.

        Returns:
            The report, for chaining.

        Raises:
            FileNotFoundError: the PNG does not exist.
        """
        data = base64.b64encode(Path(png_path).read_bytes()).decode("ascii")
        self.sections.append(_Section(heading, "figure", {
            "data": data, "caption": caption, "alt": caption or heading,
        }))
        return self

    def add_config(self, cfg: dict[str, Any], heading: str = "Configuration") -> "Report":
        """Add the configuration as pretty-printed JSON (keys sorted), collapsed.

        Args:
            cfg: a JSON-serialisable mapping (non-serialisable values use `str()`).
            heading: section heading.

        Returns:
            The report, for chaining.
        """
        text = json.dumps(cfg, indent=2, sort_keys=True, default=str)
        self.sections.append(_Section(heading, "details", {
            "summary": f"show the full configuration ({len(text.splitlines())} lines)",
            "text": text,
        }))
        return self

    def add_seeds(self, seeds: Iterable[int], heading: str = "Seeds") -> "Report":
        """Add the list of seeds used, so every number can be reproduced.

        Args:
            seeds: the seeds (rendered comma-separated).
            heading: section heading.

        Returns:
            The report, for chaining.
        """
        text = ", ".join(str(int(s)) for s in seeds)
        self.sections.append(_Section(heading, "pre", {"text": text}))
        return self

    def to_html(self) -> str:
        """The complete HTML document as a string (template templates/report.html.j2)."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        template = _environment().get_template("report.html.j2")
        return template.render(title=self.title, subtitle=self.subtitle, stamp=stamp,
                               sections=self.sections) + "\n"

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report atomically (temp file in the same folder, then `os.replace`).

        Args:
            path: destination `.html` file; parent folders are created.

        Returns:
            The destination path.
        """
        return atomic_write_text(path, self.to_html())
