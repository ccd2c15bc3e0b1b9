"""The Solara page of `handover app`: explore scenarios, run a small ensemble, open studies.

Served by `solara run experiments.app.page` (started by `handover app`). Two tabs:

* **Explore**: pick a country profile, scenarios and the reference, move the main levers
  and decisive assumptions, run a small ensemble in the background (a `handover compare`
  study, with progress) and see coverage and gap measures over time with bands, subgroup
  outcomes, spend by payer and the paired comparison with the reference.
* **Open a study**: browse a finished study folder (compare, sweep, sensitivity, stress).

Environment: HANDOVER_APP_OUTPUTS (where ensembles are written), HANDOVER_APP_STUDY
(folder opened at start).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from pathlib import Path
from typing import Any

import solara
from solara.lab import Tab, Tabs, task

from experiments.app import core
from experiments.app.figures import outcome_bars, series_figure
from experiments.report import table_html

OUTPUTS = Path(os.environ.get("HANDOVER_APP_OUTPUTS", "outputs/app"))
#: Figures written by `handover compare` that the app shows as they are.
COMPARE_PNGS = (
    ("Paired differences against the reference", "paired_differences.png"),
    ("Spend by payer", "spend_by_payer.png"),
    ("Gap risk", "gap_risk.png"),
)

country = solara.reactive(core.countries()[0] if "nigeria_like" not in core.countries()
                          else "nigeria_like")
chosen = solara.reactive(core.default_scenarios())
reference = solara.reactive("status_quo" if "status_quo" in core.scenarios()
                            else core.scenarios()[0])
levers = {key: solara.reactive(default) for key, _, _, _, _, default in core.LEVERS}
moved: solara.Reactive[dict[str, float]] = solara.reactive({})
workers = solara.reactive(1)
study_text = solara.reactive(os.environ.get("HANDOVER_APP_STUDY", ""))
opened = solara.reactive(os.environ.get("HANDOVER_APP_STUDY", ""))
runs_started = solara.reactive(0)


def current_settings() -> dict[str, Any]:
    """The settings of the next ensemble, from the controls."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    runs_started.value += 1
    return {
        "country": country.value,
        "scenarios": list(chosen.value),
        "reference": reference.value,
        "levers": {k: r.value for k, r in levers.items()},
        "assumptions": dict(moved.value),
        "workers": workers.value,
        "output_dir": str((OUTPUTS / f"{stamp}-{runs_started.value}").resolve()),
    }


@task
def ensemble(settings: dict[str, Any]) -> dict[str, Any]:
    """Run the ensemble in a background thread; progress in percent of finished runs."""
    def progress(done: int, total: int) -> None:
        ensemble.progress = 100.0 * done / max(total, 1)

    out = core.run_ensemble(settings, progress)
    return {"folder": str(out), "settings": settings}


def start() -> None:
    """Start an ensemble with the current settings."""
    ensemble(current_settings())


@solara.component
def Controls():
    """Profile, scenarios, levers, decisive assumptions and the run button."""
    all_names = core.scenarios()
    solara.Select("Country profile", value=country, values=core.countries())
    solara.SelectMultiple("Scenarios", chosen, all_names)
    solara.Select("Reference", value=reference, values=all_names)
    for key, label, low, high, step, _ in core.LEVERS:
        solara.SliderInt(f"{label}: {levers[key].value}", value=levers[key], min=low, max=high,
                         step=step)
    solara.SliderInt(f"worker processes: {workers.value}", value=workers, min=1,
                     max=max(1, os.cpu_count() or 1))
    facts = solara.use_memo(lambda: core.assumptions(country.value), [country.value])
    with solara.Details(f"Decisive assumptions ({len(facts)})", expand=False):
        for a in facts:
            def set_value(v: float, path: str = a.path) -> None:
                moved.value = {**moved.value, path: float(v)}

            current = moved.value.get(a.path, a.default)
            shown = f"{a.label} ({a.path}): {current:g}"
            if a.integer:
                solara.SliderInt(shown, value=int(current), min=int(a.low), max=int(a.high),
                                 on_value=set_value)
            else:
                solara.SliderFloat(shown, value=float(current), min=a.low, max=a.high,
                                   step=(a.high - a.low) / 50, on_value=set_value)
        if moved.value:
            solara.Button("reset assumptions", text=True, on_click=lambda: moved.set({}))
    n_jobs = core.jobs_in({"scenarios": chosen.value or [reference.value],
                           "reference": reference.value,
                           "levers": {k: r.value for k, r in levers.items()}})
    solara.Button(f"Run ensemble ({n_jobs} runs)", color="primary", on_click=start,
                  disabled=ensemble.pending or not chosen.value,
                  classes=["run-ensemble"])


@solara.component
def Progress():
    """Progress bar and status line of the ensemble."""
    if ensemble.pending:
        solara.ProgressLinear(ensemble.progress or True)
        solara.Text(f"running… {ensemble.progress or 0:.0f} % of runs finished",
                    classes=["run-status"])
    elif ensemble.error:
        solara.Error(f"the ensemble failed: {ensemble.exception}", classes=["run-status"])
    elif ensemble.finished:
        solara.Success(f"finished: {ensemble.value['folder']}", classes=["run-status"])
    else:
        solara.Info("Choose scenarios and levers, then run a small ensemble.",
                    classes=["run-status"])


@solara.component
def Heading(text: str):
    """A bold line of plain text (escaped; no Markdown, which would load KaTeX)."""
    solara.HTML(tag="h4", unsafe_innerHTML=html.escape(text), style="margin: 0.8em 0 0.2em 0")


def _reference_of(study: core.Study) -> str | None:
    table = study.tables.get("comparison.csv")
    diffs = study.tables.get("paired_differences.csv")
    if table is None:
        return None
    if diffs is not None and "scenario" in diffs:
        rest = [s for s in table["scenario"] if s not in set(diffs["scenario"])]
        if rest:
            return rest[0]
    return str(table["scenario"].iloc[0])


def _handover_start(study: core.Study, settings: dict[str, Any] | None) -> float | None:
    if settings:
        return float(settings["levers"].get("model.handover_start", 24))
    manifest = study.folder / "manifest.json"
    if manifest.is_file():
        try:
            cfg = json.loads(manifest.read_text()).get("config", {})
            return float(cfg.get("model", {}).get("handover_start"))
        except (ValueError, TypeError, AttributeError):
            return None
    return None


@solara.component
def CompareView(folder: str, settings: dict[str, Any] | None = None):
    """Results of a compare study: series with bands, subgroups, spend, paired comparison."""
    from experiments.compare.driver import summary_frame

    study = solara.use_memo(lambda: core.open_study(folder), [folder])
    series = solara.use_memo(study.series, [folder])
    table = study.tables["comparison.csv"]
    names = list(table["scenario"])
    ref = _reference_of(study)
    start_month = _handover_start(study, settings)
    monthly = core.monthly_series(series) if not series.empty else []
    default_series = next((c for c in ("coverage_rolling", "coverage") if c in monthly),
                          monthly[0] if monthly else None)
    column, set_column = solara.use_state(default_series, key=f"series-{folder}")
    groups, set_groups = solara.use_state(core.subgroup_outcomes(table), key=f"groups-{folder}")

    Heading(f"Paired comparison with {ref} (means and 95 % intervals; Δ = paired "
            "difference, same seeds)")
    solara.HTML(tag="div", unsafe_innerHTML=table_html(summary_frame(table, ref)),
                classes=["summary-table"])
    if monthly and column in monthly:
        solara.Select("Monthly series", value=column, values=monthly, on_value=set_column)
        solara.FigureMatplotlib(series_figure(series, column, names, ref, start_month),
                                format="png")
    solara.SelectMultiple("Outcomes by subgroup", groups, core.outcome_means(table),
                          on_value=set_groups)
    if groups:
        solara.FigureMatplotlib(outcome_bars(table, groups, names), format="png")
    for heading, name in COMPARE_PNGS:
        path = study.folder / name
        if path.is_file():
            Heading(heading)
            solara.Image(path.read_bytes(), width="100%")
    solara.Text(f"study folder: {study.folder}" + (f"; report: {study.report}"
                                                   if study.report else ""))


def _try_open(folder: str) -> core.Study | str:
    """The study, or the reason it cannot be opened."""
    try:
        return core.open_study(folder)
    except ValueError as err:
        return str(err)


@solara.component
def StudyView(folder: str):
    """Any finished study: compare folders get the full view, others tables and figures."""
    study = solara.use_memo(lambda: _try_open(folder), [folder])
    if isinstance(study, str):
        solara.Error(study)
        return
    Heading(f"{study.kind} study in {study.folder}")
    if study.kind == "compare":
        CompareView(folder)
        return
    for name, frame in study.tables.items():
        with solara.Details(f"{name} ({len(frame)} rows, {frame.shape[1]} columns)",
                            expand=name in ("robustness.csv", "indices.csv", "summary.csv")):
            solara.HTML(tag="div", unsafe_innerHTML=table_html(frame.head(30)))
    for path in study.figures:
        Heading(path.stem.replace("_", " "))
        solara.Image(path.read_bytes(), width="100%")


@solara.component
def Explore():
    """Controls on the left, results of the latest ensemble on the right."""
    with solara.Columns([1, 3]):
        with solara.Column():
            Controls()
        with solara.Column(classes=["results"]):
            Progress()
            result = ensemble.latest
            if result:
                CompareView(result["folder"], result["settings"])


@solara.component
def OpenStudy():
    """A folder path, an Open button and the study's results."""
    with solara.Row():
        solara.InputText("Study folder (output_dir of compare, sweep, sensitivity, stress)",
                         value=study_text, continuous_update=True)
        solara.Button("Open", on_click=lambda: opened.set(study_text.value.strip()),
                      classes=["open-study"])
    if opened.value:
        with solara.Column(classes=["results"]):
            StudyView(opened.value)


@solara.component
def Page():
    """The app: Explore and Open a study."""
    solara.Title("Handover simulator")
    solara.HTML(tag="h2", unsafe_innerHTML="Handover simulator: scenario explorer")
    with Tabs(value=1 if opened.value else 0):
        with Tab("Explore"):
            Explore()
        with Tab("Open a study"):
            OpenStudy()
