"""Re-run the documented commands and write what they print, their figures and the settings
tables into README.md and docs/, so the docs cannot drift from the code.

    .venv/bin/python docs/build_examples.py              # every example, documented sizes
    .venv/bin/python docs/build_examples.py --list       # names, commands, sizes
    .venv/bin/python docs/build_examples.py --only compare-main --only run
    .venv/bin/python docs/build_examples.py --tables     # only the settings tables (instant)

Each generated part of a document sits between two markers and is replaced whole::

    <!-- generated: <name> (docs/build_examples.py; do not edit by hand) -->
    ...
    <!-- /generated: <name> -->

`EXAMPLES` is the single list of documented commands: the command as the docs show it,
the documents that show its output, the figures copied into docs/img/, and the files and
columns the docs name. `tests/test_docs_examples.py` runs every command at a small size
and checks those files and columns, and checks that each document shows the command
verbatim and carries the markers. Prose that interprets numbers is not regenerated: after a
run, read the new output next to the sentences around it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BEGIN = "<!-- generated: {name} (docs/build_examples.py; do not edit by hand) -->"
END = "<!-- /generated: {name} -->"


@dataclass(frozen=True)
class Example:
    """One documented command.

    Attributes:
        name: marker name of its output block.
        command: the command exactly as the documents show it (without output_dir).
        docs: documents (relative to the repository) that show the command and its output.
        keep: which printed lines go into the documents (default: all of stdout).
        figures: figure in the study folder -> file in docs/img/.
        files: file the docs name -> columns the docs name (checked by the test).
        small: overrides appended by the test to run the command at a small size.
        output: whether the documents show its printed output (a generated block).
    """

    name: str
    command: str
    docs: tuple[str, ...]
    keep: Callable[[str], str] | None = None
    figures: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    small: tuple[str, ...] = ()
    output: bool = True

    @property
    def argv(self) -> list[str]:
        """The command's arguments after `handover` (line continuations removed)."""
        words = shlex.split(self.command.replace("\\\n", " "))
        assert words[0] == "handover", self.command
        return words[1:]


def _until_blank(text: str) -> str:
    """The first paragraph of the output (tables end at the first blank line)."""
    return text.strip("\n").split("\n\n")[0]


def _run_table(text: str) -> str:
    """`handover run`: the indented summary table only."""
    return "\n".join(line for line in text.splitlines() if line.startswith("  "))


def _stress_verdict(text: str) -> str:
    """`handover stress`: the verdict and the findings (after the robustness table)."""
    parts = [p for p in text.strip("\n").split("\n\n") if not p.startswith("wrote ")]
    return "\n\n".join(parts[1:]) if len(parts) > 1 else text.strip()


SMALL_RUN = ("model.scale=40", "model.horizon_months=48")
COMPARE_COLUMNS = ("scenario", "rank", "coverage_mean", "coverage_lo", "coverage_hi",
                   "gap_risk", "gap_risk_lo", "gap_risk_hi", "dropped_cases_mean",
                   "donor_spend_mean", "national_spend_mean")

EXAMPLES: tuple[Example, ...] = (
    Example(
        name="run",
        command="handover run",
        docs=("README.md",),
        keep=_run_table,
        figures={"run.png": "run_status_quo.png"},
        files={"outcomes.json": (), "manifest.json": (),
               "timeseries.parquet": ("month", "coverage", "coverage_rolling", "donor_spend",
                                      "national_spend")},
        small=SMALL_RUN,
    ),
    Example(
        name="compare-main",
        command="handover compare replications=5 executor=processes executor.workers=2",
        docs=("README.md", "docs/compare.md"),
        keep=_until_blank,
        figures={"coverage_over_time.png": "compare_coverage.png"},
        files={"comparison.csv": COMPARE_COLUMNS,
               "paired_differences.csv": ("scenario", "outcome", "diff", "diff_lo", "diff_hi",
                                          "p_value"),
               "runs.parquet": ("scenario", "replication", "seed", "coverage", "error"),
               "timeseries.parquet": ("scenario", "replication", "month", "coverage"),
               "report.html": ()},
        small=("replications=2", "scenarios=[status_quo,abrupt_exit]", "executor=serial",
               "executor.workers=1", *SMALL_RUN),
    ),
    Example(
        name="sweep-fiscal-space",
        command="handover sweep 'grid={country.funders.treasury.fiscal_space:[0.5,0.8,1.0]}' "
                "\\\n    scenarios=[status_quo,linear_taper] replications=10 executor=processes",
        docs=("README.md",),
        keep=lambda t: t.strip("\n").split("\n\nresults in")[0],
        output=False,
        files={"runs.parquet": ("setting", "scenario", "replication", "coverage", "job"),
               "summary.csv": ("setting", "scenario", "n", "coverage_mean", "coverage_lo",
                               "coverage_hi"),
               "manifest.json": ()},
        small=("replications=2", "executor=serial", *SMALL_RUN),
    ),
    Example(
        name="stress-demo-thresholds",
        command="handover stress stress=small "
                "scenarios=[status_quo,abrupt_exit,linear_taper,readiness_triggered] \\\n"
                "    futures=20 replications=1 model.scale=50 \\\n"
                "    thresholds.coverage_target=0.01 thresholds.gap_metric=gap_months "
                "thresholds.gap_tolerance=12 \\\n    discovery.failure.threshold=12",
        docs=("docs/stress.md",),
        keep=_stress_verdict,
        files={"robustness.csv": ("scenario", "gap_months_mean", "satisficing_share")},
        small=("futures=4", "scenarios=[status_quo,abrupt_exit]", "executor=serial",
               *SMALL_RUN),
    ),
    Example(
        name="sensitivity-morris",
        command="handover sensitivity method=morris n=10 replications=1 model.scale=100 \\\n"
                "    executor=processes executor.workers=2",
        docs=("docs/sensitivity.md",),
        output=False,  # the worked example shows the figure and discusses the numbers
        figures={"fig_morris_coverage.png": "sensitivity_morris_coverage.png"},
        files={"indices.csv": ("outcome", "factor"), "runs.parquet": ()},
        small=("space=tiny", "n=2", "executor=serial", "executor.workers=1", *SMALL_RUN),
    ),
    Example(
        name="sensitivity-sobol-grouped",
        command="handover sensitivity method=sobol grouped=true n=128 replications=1 "
                "model.scale=200 \\\n    executor=processes executor.workers=2",
        docs=("docs/sensitivity.md",),
        output=False,  # the worked example shows the figure and discusses the numbers
        figures={"fig_indices_coverage.png": "sensitivity_sobol_grouped_coverage.png"},
        files={"indices.csv": ("outcome", "factor", "index", "value", "conf"),
               "convergence.csv": ()},
        small=("space=tiny", "n=2", "executor=serial", "executor.workers=1", *SMALL_RUN),
    ),
)

#: Settings tables: (document, marker name, config file) generated from the config's comments.
SETTINGS_TABLES = (
    ("docs/compare.md", "compare-settings", "configs/compare.yaml"),
    ("docs/stress.md", "stress-settings", "configs/stress.yaml"),
)


def settings_table(config: Path) -> str:
    """A Markdown table `key | default | meaning` from a config file's keys and comments.

    Nested keys are dotted (`thresholds.coverage_target`); Hydra's `defaults:` list is
    left out. A key whose comment continues on the next comment-only lines gets them too.
    """
    rows: list[list[str]] = []
    stack: list[tuple[int, str]] = []
    in_defaults = False
    open_list = False  # inside a flow list `[a, b,` continued on the next lines
    for line in config.read_text().splitlines():
        if open_list:
            item, _, comment = (part.strip() for part in line.partition("#"))
            rows[-1][1] = rows[-1][1][:-1] + " " + item + "`"
            rows[-1][2] = rows[-1][2] or comment
            open_list = not item.endswith("]")
            continue
        m = re.match(r"^(\s*)([A-Za-z_][\w]*):\s*(.*?)\s*(?:#\s?(.*))?$", line)
        if not m:
            cont = re.match(r"^\s+#\s?(.*)$", line)
            if cont and rows and not in_defaults:
                rows[-1][2] += " " + cont.group(1).strip()
            continue
        indent, key, value, comment = len(m.group(1)), m.group(2), m.group(3), m.group(4)
        if indent == 0:
            in_defaults = key == "defaults"
        if in_defaults:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(k for _, k in stack), key])
        if value == "":
            stack.append((indent, key))
        rows.append([f"`{path}`", f"`{value}`" if value else "", (comment or "").strip()])
        open_list = value.startswith("[") and not value.endswith("]")
    def cell(text: str) -> str:  # Markdown table cell: no bare pipes or HTML-like tags
        return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;") \
            if not text.startswith("`") else text.replace("|", "\\|")

    body = "\n".join(f"| {' | '.join(cell(c) for c in r)} |" for r in rows)
    return f"| key | default | meaning |\n| --- | --- | --- |\n{body}"


def replace_block(text: str, name: str, content: str, source: str = "") -> str:
    """Replace the generated block `name` in a document's text.

    Raises:
        KeyError: the document has no markers for `name`.
    """
    begin, end = BEGIN.format(name=name), END.format(name=name)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise KeyError(f"{source or 'document'}: no block '{name}' (add the markers {begin!r} "
                       f"and {end!r})")
    return pattern.sub(lambda _: f"{begin}\n{content}\n{end}", text, count=1)


def run_example(ex: Example, out: Path, extra: tuple[str, ...] = ()) -> str:
    """Run one example's command into `out`; return what it printed on stdout.

    Raises:
        RuntimeError: the command exited with a non-zero status.
    """
    from experiments.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main([*ex.argv, *extra, f"output_dir={out}"])
    if status:
        raise RuntimeError(f"{ex.command} exited with {status}:\n{buf.getvalue()[-2000:]}")
    return buf.getvalue()


def build(names: list[str] | None = None, tables_only: bool = False) -> list[str]:
    """Run the examples (all, or `names`) and write outputs, figures and tables into the docs.

    Returns:
        The documents changed.
    """
    changed: set[str] = set()
    texts: dict[str, str] = {}

    def doc(path: str) -> str:
        if path not in texts:
            texts[path] = (ROOT / path).read_text(encoding="utf-8")
        return texts[path]

    for path, name, config in SETTINGS_TABLES:
        texts[path] = replace_block(doc(path), name, settings_table(ROOT / config), path)
    if not tables_only:
        for ex in EXAMPLES:
            if names and ex.name not in names:
                continue
            print(f"[docs] {ex.command}", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory(prefix=f"docs-{ex.name}-") as tmp:
                out = Path(tmp) / "study"
                printed = run_example(ex, out)
                block = (ex.keep or (lambda t: t.strip("\n")))(printed)
                for src, dest in ex.figures.items():
                    shutil.copyfile(out / src, ROOT / "docs" / "img" / dest)
            if ex.output:
                for path in ex.docs:
                    texts[path] = replace_block(doc(path), ex.name, f"```text\n{block}\n```",
                                                path)
            changed |= _write(texts)  # after each example: a long build keeps what it made
    changed |= _write(texts)
    return sorted(changed)


def _write(texts: dict[str, str]) -> set[str]:
    """Write the documents whose text changed; return their paths."""
    changed = set()
    for path, text in texts.items():
        if (ROOT / path).read_text(encoding="utf-8") != text:
            (ROOT / path).write_text(text, encoding="utf-8")
            changed.add(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line of this script (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="example name (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the examples and exit")
    parser.add_argument("--tables", action="store_true", help="only the settings tables")
    args = parser.parse_args(argv)
    if args.list:
        for ex in EXAMPLES:
            print(f"{ex.name:<20} {' '.join(ex.command.split())}   -> {', '.join(ex.docs)}")
        return 0
    unknown = set(args.only or ()) - {ex.name for ex in EXAMPLES}
    if unknown:
        print(f"error: unknown example(s) {', '.join(sorted(unknown))}; allowed: "
              f"{', '.join(ex.name for ex in EXAMPLES)}", file=sys.stderr)
        return 2
    for path in build(args.only, args.tables):
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
