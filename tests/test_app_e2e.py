"""End-to-end test of `handover app` in a real browser (headless Chromium via Playwright).

Starts the app's server as `handover app` does, opens it in Debian's Chromium
(/usr/bin/chromium, or $HANDOVER_CHROMIUM), moves levers, runs two small ensembles and
checks that the results appear, that the figures change when a lever changes, that a
finished study opens in the "Open a study" tab, and that the page logs no errors.

When no browser can be started the test is SKIPPED with a reason that says so in capital
letters (pytest prints skip reasons in the summary: `-rs` is in the default options);
`.ci/run` installs Chromium first where it can. With HANDOVER_DOCS_SCREENSHOTS=1 the
screenshot is also saved as docs/img/app_explore.png (the README's picture).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HANDOVER_CHROMIUM", "/usr/bin/chromium")
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
#: Chromium flags for a closed network and a root user (no sandbox), as in .ci/run.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 240_000  # generous: the machine may be shared; the test takes ~30 s when idle


def _skip_without_browser() -> None:
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("NO BROWSER TEST RAN: the Python package 'playwright' is missing "
                    "(pip install -e '.[test]')")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"NO BROWSER TEST RAN: no Chromium at {CHROMIUM} "
                    "(apt-get install chromium, or set HANDOVER_CHROMIUM)")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    _skip_without_browser()
    from experiments.app.driver import start

    out = tmp_path_factory.mktemp("app_outputs")
    proc, url = start({"host": "127.0.0.1", "port": "0", "study": "",
                       "output_dir": str(out)})
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            proc.kill()


def _slider(page, label: str):
    return page.locator(f'[role="slider"][aria-label^="{label}"]')


def _slider_value(page, label: str) -> str:
    return _slider(page, label).get_attribute("aria-valuenow") or ""


def _set_slider(page, label: str, key: str) -> None:
    """Press `key` on a slider until its value has moved (Home/End: to its bound).

    A key press reaches the server asynchronously and the page re-renders after it, so a
    press made while the slider is being re-rendered can be lost: press again until the
    slider shows the value the key asks for, instead of assuming the first press landed.
    """
    thumb = _slider(page, label)
    start = _slider_value(page, label)
    bound = {"Home": "aria-valuemin", "End": "aria-valuemax"}.get(key)
    target = thumb.get_attribute(bound) if bound else None
    if target is not None and start == target:
        return
    for _ in range(20):
        thumb = _slider(page, label)
        thumb.focus()
        thumb.press(key)
        for _ in range(20):
            now = _slider_value(page, label)
            if (now == target) if target is not None else (now != start):
                return
            page.wait_for_timeout(250)
    raise AssertionError(f"slider {label!r} did not move with {key} (value {start})")


def _expect_text(page, selector: str, text: str) -> None:
    """Wait until the element's text contains `text` (the server re-renders it)."""
    page.wait_for_function(
        "([sel, t]) => { const e = document.querySelector(sel); "
        "return e !== null && e.innerText.toLowerCase().includes(t); }",
        arg=[selector, text.lower()], timeout=60_000,
    )


def _figure_sources(page) -> list[str]:
    return page.locator(".results img").evaluate_all("els => els.map(e => e.src)")


def _run_and_wait(page, runs_before: int) -> str:
    page.locator(".run-ensemble").click()
    status = page.locator(".run-status")
    page.wait_for_function(
        "n => document.querySelectorAll('.run-status').length > 0 && "
        "document.querySelector('.run-status').innerText.includes('finished: ') && "
        "document.querySelector('.run-status').innerText.endsWith('-' + n)",
        arg=str(runs_before + 1), timeout=TIMEOUT_MS,
    )
    return status.inner_text().split("finished: ", 1)[1].strip()


def test_app_runs_ensembles_and_updates_figures(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as err:  # noqa: BLE001
            pytest.skip(f"NO BROWSER TEST RAN: Chromium at {CHROMIUM} did not start: {err}")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(app_url)
        page.locator(".run-ensemble").wait_for()

        # a small ensemble: 2 replications, 1 agent per 20 people, 36 months
        _set_slider(page, "replications per scenario", "Home")
        _set_slider(page, "people per agent", "End")
        _set_slider(page, "months simulated", "Home")
        _expect_text(page, ".run-ensemble", "6 runs")
        first = _run_and_wait(page, 0)
        assert Path(first, "comparison.csv").is_file()
        page.locator(".summary-table table").wait_for()
        assert "status_quo" in page.locator(".summary-table").inner_text()
        before = _figure_sources(page)
        assert len(before) >= 4, before  # series, subgroups, differences, spend, gap risk

        # change a lever: 12 more months; the figures must change
        _set_slider(page, "months simulated", "ArrowRight")
        second = _run_and_wait(page, 1)
        assert second != first
        page.wait_for_function("() => document.querySelectorAll('.results img').length >= 4")
        after = _figure_sources(page)
        assert after != before
        assert set(after) - set(before), "no figure changed after moving a lever"
        page.screenshot(path=str(tmp_path / "app_explore.png"), full_page=True)
        if os.environ.get("HANDOVER_DOCS_SCREENSHOTS") == "1":
            page.screenshot(path=str(DOCS_IMG / "app_explore.png"), full_page=True)

        # open the first study in the other tab
        page.get_by_role("tab", name="Open a study").click()
        page.get_by_label("Study folder").fill(first)
        page.locator(".open-study").click()
        page.get_by_text("compare study in").wait_for()
        page.locator(".results .summary-table table").last.wait_for()
        if os.environ.get("HANDOVER_DOCS_SCREENSHOTS") == "1":
            page.screenshot(path=str(DOCS_IMG / "app_study.png"), full_page=True)
        browser.close()
    assert not problems, "\n".join(problems)
