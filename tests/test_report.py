"""Tests of the self-contained HTML report builder."""

from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from experiments.report import Report, atomic_write_text, table_html


def _png(path):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_table_escapes_and_formats():
    df = pd.DataFrame({"scenario": ["<b>x</b>", "y&z"], "mean": [0.123456, np.nan]})
    out = table_html(df, caption="a<caption>", float_digits=2)
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x</b>" not in out
    assert "y&amp;z" in out
    assert "<td>0.12</td>" in out  # plain numbers: fixed decimals when asked
    assert "<td></td>" in out  # NaN is empty
    assert "a&lt;caption&gt;" in out
    assert out.count("<tr>") == 3  # header + 2 rows


def test_named_index_kept():
    df = pd.DataFrame({"v": [1, 2]}, index=pd.Index(["a", "b"], name="scenario"))
    out = table_html(df)
    assert "<th>scenario</th>" in out and "<td>a</td>" in out


def test_report_is_self_contained(tmp_path):
    png = _png(tmp_path / "f.png")
    rep = Report("Title <1>", subtitle="handover compare")
    rep.add_text("Intro", "first <script>alert(1)</script>\n\nsecond")
    rep.add_table("T", pd.DataFrame({"a": [1.0]}))
    rep.add_figure("F", png, caption="cap")
    rep.add_config({"seed": 7, "nested": {"x": [1, 2]}})
    rep.add_seeds([3, 1, 2])
    rep.add_list("L", ["one", "<two>"])
    dest = rep.write(tmp_path / "sub" / "r.html")
    text = dest.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "Title &lt;1&gt;" in text
    assert text.count("<p>") >= 2
    # No external references: no src/href pointing anywhere but data: or in-page anchors.
    for ref in re.findall(r'(?:src|href)=["\']([^"\']+)', text):
        assert ref.startswith(("data:image/png;base64,", "data:text/csv;base64,", "#"))
    b64 = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text).group(1)
    assert base64.b64decode(b64) == png.read_bytes()
    assert "3, 1, 2" in text
    assert "&#34;seed&#34;: 7" in text  # JSON shown escaped
    # the configuration is collapsed by default
    assert re.search(r"<details><summary>[^<]*</summary><pre>\{", text)
    # Section order kept.
    order = [text.index(h) for h in ("<h2>Intro", "<h2>T<", "<h2>F<", "<h2>Configuration")]
    assert order == sorted(order)
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_missing_figure_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        Report("x").add_figure("F", tmp_path / "nope.png")


def test_atomic_write_replaces(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]


def test_numbers_formatted_by_unit():
    df = pd.DataFrame({
        "scenario": ["a", "b"],
        "donor_spend_mean": [1234567.891, 0.4],
        "coverage_mean": [0.12345, 1.0],
        "dropped_cases_hi": [2680.4, 0.0],
        "gap_months_mean": [12.64, 0.0],
        "diff_coverage": [0.127, -0.05],
    })
    out = table_html(df)
    assert "<th>donor_spend_mean (USD)</th>" in out and "<td>1,234,568</td>" in out
    assert "<th>coverage_mean (%)</th>" in out and "<td>12.3</td>" in out
    assert "<td>100.0</td>" in out
    assert "<td>2,680</td>" in out and "<td>12.6</td>" in out
    assert "<th>diff_coverage (pp)</th>" in out and "<td>+12.7</td>" in out
    assert "<td>-5.0</td>" in out


def test_wide_table_becomes_csv_download_with_short_summary(tmp_path):
    wide = pd.DataFrame({f"outcome{i}_mean": [float(i), i + 0.5] for i in range(40)})
    wide.insert(0, "scenario", ["x", "y"])
    rep = Report("r").add_table("All outcomes", wide, max_columns=6)
    text = rep.write(tmp_path / "r.html").read_text()
    table = text[text.index("<table>"):text.index("</table>")]
    assert table.count("<th>") == 6
    b64 = re.search(r'download="all_outcomes.csv" href="data:text/csv;base64,([^"]+)"', text)
    back = pd.read_csv(__import__("io").StringIO(base64.b64decode(b64.group(1)).decode()))
    pd.testing.assert_frame_equal(back, wide)
    assert "First 6 of 41 columns shown" in text


def test_narrow_table_has_no_download_unless_asked(tmp_path):
    df = pd.DataFrame({"a": [1.0]})
    assert "download" not in Report("r").add_table("T", df).to_html().split("<body>")[1]
    assert 'download="t.csv"' in Report("r").add_table("T", df, csv_name="t.csv").to_html()
