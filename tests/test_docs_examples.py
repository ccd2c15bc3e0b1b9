"""The documented commands run, and write the files and columns the docs name.

`docs/build_examples.py` holds the one list of documented commands (EXAMPLES) and writes
their printed output into README.md and docs/. Here every command runs at a small size
(its `small` overrides) and the test checks what the docs promise: the files and columns,
the command shown verbatim in each document, and the generated blocks present.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_examples",
                                               ROOT / "docs" / "build_examples.py")
build_examples = importlib.util.module_from_spec(_spec)
sys.modules["build_examples"] = build_examples  # dataclasses look their module up
_spec.loader.exec_module(build_examples)
EXAMPLES = build_examples.EXAMPLES


def _flat(text: str) -> str:
    """Whitespace and shell line continuations collapsed, for verbatim comparisons."""
    return " ".join(text.replace("\\\n", " ").split())


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_documents_show_the_command_and_its_generated_output(ex):
    for doc in ex.docs:
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert _flat(ex.command) in _flat(text), f"{doc} does not show `{ex.command}`"
        if not ex.output:
            continue
        begin = build_examples.BEGIN.format(name=ex.name)
        end = build_examples.END.format(name=ex.name)
        assert text.count(begin) == 1 and text.count(end) == 1, f"{doc}: markers of {ex.name}"
        block = text[text.index(begin):text.index(end)]
        assert "to fill in" not in block, f"{doc}: block {ex.name} was never generated"
    for dest in ex.figures.values():
        assert (ROOT / "docs" / "img" / dest).is_file()
        assert any(f"img/{dest}" in (ROOT / d).read_text() for d in ex.docs), dest


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_documented_command_writes_the_files_and_columns_the_docs_name(ex, tmp_path):
    out = tmp_path / "study"
    printed = build_examples.run_example(ex, out, ex.small)
    block = (ex.keep or (lambda t: t))(printed)
    assert block.strip(), f"{ex.name}: nothing kept from the output"
    for name, columns in ex.files.items():
        path = out / name
        assert path.is_file(), f"{ex.command}: no {name}"
        if name.endswith(".parquet"):
            have = set(pd.read_parquet(path).columns)
        elif name.endswith(".csv"):
            have = set(pd.read_csv(path).columns)
        elif name.endswith(".json"):
            json.loads(path.read_text())
            have = set()
        else:
            have = set()
        assert set(columns) <= have, f"{name} lacks {sorted(set(columns) - have)}"
    for src in ex.figures:
        assert (out / src).is_file(), f"{ex.command}: no figure {src}"


def test_every_file_an_example_checks_is_named_in_its_documents():
    for ex in EXAMPLES:
        text = " ".join((ROOT / d).read_text() for d in ex.docs)
        for name in ex.files:
            if not re.search(re.escape(name), text):
                # documented in the command's own page when not in the README
                page = ROOT / "docs" / f"{ex.argv[0]}.md"
                assert page.is_file() and name in page.read_text(), (ex.name, name)


@pytest.mark.parametrize("doc, name, config", build_examples.SETTINGS_TABLES)
def test_settings_tables_match_the_configs(doc, name, config):
    text = (ROOT / doc).read_text(encoding="utf-8")
    expected = build_examples.replace_block(
        text, name, build_examples.settings_table(ROOT / config), doc)
    assert text == expected, f"{doc} is stale: run `python docs/build_examples.py --tables`"


def test_replace_block_refuses_a_document_without_markers():
    with pytest.raises(KeyError, match="no block 'x'"):
        build_examples.replace_block("text", "x", "new")
    text = "a\n" + build_examples.BEGIN.format(name="x") + "\nold\n" + \
        build_examples.END.format(name="x") + "\nb"
    assert "new" in build_examples.replace_block(text, "x", "new")
    assert "old" not in build_examples.replace_block(text, "x", "new")
