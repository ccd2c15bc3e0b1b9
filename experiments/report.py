"""Self-contained HTML reports: tables, embedded figures, configuration, seeds, text.

The written file has no external assets (no CSS/JS links, figures embedded as base64
PNG), so it opens in any browser without Python or network. All text is HTML-escaped.

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
import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

# publish and atomic_write_text live in experiments.study.atomic; re-exported for existing imports
from experiments.study.atomic import atomic_write_text, publish

__all__ = ["Report", "atomic_write_text", "publish", "table_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444;padding-bottom:.2em}
h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
caption{caption-side:bottom;text-align:left;font-size:.85em;color:#555;padding-top:.3em}
figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
.meta{color:#666;font-size:.85em}
"""


@dataclass
class _Section:
    heading: str
    body: str  # already-escaped HTML


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in str(text).split("\n\n") if b.strip()]
    return "".join(f"<p>{_esc(b)}</p>" for b in blocks)


def _format_cell(value: Any, float_digits: int) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.{float_digits}f}"
    return str(value)


def table_html(df: pd.DataFrame, caption: str | None = None, float_digits: int = 3) -> str:
    """Render a DataFrame as an escaped HTML table (index dropped unless named).

    Args:
        df: the table; a named or non-default index is kept as the first column(s).
        caption: optional caption under the table.
        float_digits: decimals for float cells; NaN renders as an empty cell.

    Returns:
        The `<table>` element as a string.
    """
    frame = df
    default_index = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    if not default_index:
        frame = df.reset_index()
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False, name=None):
        cells = "".join(f"<td>{_esc(_format_cell(v, float_digits))}</td>" for v in rec)
        rows.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class Report:
    """A self-contained HTML report assembled section by section.

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
        self.sections.append(_Section(heading, _paragraphs(text)))
        return self

    def add_list(self, heading: str, items: Iterable[Any]) -> "Report":
        """Add a bulleted list of plain-text items.

        Args:
            heading: section heading.
            items: items, each rendered with `str()` and escaped.

        Returns:
            The report, for chaining.
        """
        lis = "".join(f"<li>{_esc(i)}</li>" for i in items)
        self.sections.append(_Section(heading, f"<ul>{lis}</ul>"))
        return self

    def add_table(
        self,
        heading: str,
        df: pd.DataFrame,
        caption: str | None = None,
        float_digits: int = 3,
    ) -> "Report":
        """Add a table from a DataFrame.

        Args:
            heading: section heading.
            df: the table (see `table_html` for index handling).
            caption: optional caption under the table.
            float_digits: decimals for float cells.

        Returns:
            The report, for chaining.
        """
        self.sections.append(_Section(heading, table_html(df, caption, float_digits)))
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
        data = Path(png_path).read_bytes()
        b64 = base64.b64encode(data).decode("ascii")
        cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
        alt = _esc(caption or heading)
        body = f'<figure><img alt="{alt}" src="data:image/png;base64,{b64}">{cap}</figure>'
        self.sections.append(_Section(heading, body))
        return self

    def add_config(self, cfg: dict[str, Any], heading: str = "Configuration") -> "Report":
        """Add the configuration as pretty-printed JSON (keys sorted).

        Args:
            cfg: a JSON-serialisable mapping (non-serialisable values use `str()`).
            heading: section heading.

        Returns:
            The report, for chaining.
        """
        text = json.dumps(cfg, indent=2, sort_keys=True, default=str)
        self.sections.append(_Section(heading, f"<pre>{_esc(text)}</pre>"))
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
        self.sections.append(_Section(heading, f"<pre>{_esc(text)}</pre>"))
        return self

    def to_html(self) -> str:
        """The complete HTML document as a string."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        sub = f"<p class='meta'>{_esc(self.subtitle)}</p>" if self.subtitle else ""
        toc = "".join(
            f"<li><a href='#s{i}'>{_esc(s.heading)}</a></li>" for i, s in enumerate(self.sections)
        )
        body = "".join(
            f"<section id='s{i}'><h2>{_esc(s.heading)}</h2>{s.body}</section>"
            for i, s in enumerate(self.sections)
        )
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_esc(self.title)}</h1>{sub}<p class='meta'>generated {stamp}</p>"
            f"<ul>{toc}</ul>{body}</body></html>\n"
        )

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report atomically (temp file in the same folder, then `os.replace`).

        Args:
            path: destination `.html` file; parent folders are created.

        Returns:
            The destination path.
        """
        return atomic_write_text(path, self.to_html())

