"""The browser app without a browser: settings, overrides, study folders, command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from experiments.app import core
from experiments.app.driver import parse, url_of
from experiments.config import ConfigError, compose, get_dotted


def test_assumptions_are_the_sa_space_factors_with_the_profile_defaults():
    from experiments.space import load_space

    found = core.assumptions("nigeria_like")
    assert found, "the default sensitivity space offers no assumption"
    declared = {f.path: f for f in load_space("default").factors}
    base = compose("compare", ["country=nigeria_like"])
    for a in found:
        f = declared[a.path]
        assert (a.low, a.high) == tuple(map(float, f.bounds))
        assert a.low <= a.default <= a.high
        assert a.default == pytest.approx(min(max(float(get_dotted(base, a.path)), a.low),
                                              a.high))


def test_overrides_compose_into_a_valid_compare_config(tmp_path):
    from experiments.settings import load_settings

    a = core.assumptions("tunisia_like")[0]
    settings = {
        "country": "tunisia_like", "scenarios": ["abrupt_exit", "linear_taper"],
        "reference": "status_quo",
        "levers": {"replications": 4, "model.scale": 20, "model.horizon_months": 48,
                   "model.handover_start": 12},
        "assumptions": {a.path: a.high}, "workers": 2, "output_dir": str(tmp_path / "x"),
    }
    ov = core.overrides(settings)
    cfg, parsed = load_settings("compare", ov)
    # the reference is added to the scenarios when the user left it out
    assert parsed.scenarios == ["status_quo", "abrupt_exit", "linear_taper"]
    assert parsed.replications == 4 and parsed.reference == "status_quo"
    assert cfg["model"]["scale"] == 20 and cfg["model"]["handover_start"] == 12
    assert get_dotted(cfg, a.path) == pytest.approx(a.high)
    assert cfg["executor"]["kind"] == "processes" and cfg["executor"]["workers"] == 2
    assert core.jobs_in(settings) == 3 * 4


def _write(folder, name, frame):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / name, index=False)


@pytest.mark.parametrize("kind, marker", core.STUDY_MARKERS[:-1])
def test_open_study_recognises_each_command(tmp_path, kind, marker):
    _write(tmp_path / kind, marker, pd.DataFrame({"scenario": ["a"], "x": [1.0]}))
    (tmp_path / kind / "figures").mkdir()
    (tmp_path / kind / "figures" / "f.png").write_bytes(b"\x89PNG")
    study = core.open_study(tmp_path / kind)
    assert study.kind == kind
    assert list(study.tables) == [marker]
    assert [p.name for p in study.figures] == ["f.png"]


def test_open_study_refuses_what_is_not_a_study(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        core.open_study(tmp_path / "missing")
    with pytest.raises(ValueError, match="comparison.csv"):
        core.open_study(tmp_path)


def test_names_read_from_the_files_not_a_list():
    table = pd.DataFrame({
        "scenario": ["a"], "coverage_mean": [0.1], "coverage_lo": [0.0], "coverage_hi": [0.2],
        "coverage_newgroup_mean": [0.3], "coverage_newgroup_lo": [0.2],
        "coverage_newgroup_hi": [0.4], "rank": [1],
    })
    assert core.outcome_means(table) == ["coverage", "coverage_newgroup"]
    assert core.subgroup_outcomes(table) == ["coverage_newgroup"]
    series = pd.DataFrame({"scenario": ["a"], "replication": [0], "month": [0],
                           "coverage": [0.1], "new_series": [3]})
    assert core.monthly_series(series) == ["coverage", "new_series"]


def test_finished_runs_counts_series_files(tmp_path):
    assert core.finished_runs(tmp_path) == 0
    (tmp_path / "timeseries").mkdir()
    for i in range(3):
        (tmp_path / "timeseries" / f"s__r{i:04d}.parquet").write_bytes(b"")
    assert core.finished_runs(tmp_path) == 3


def test_app_settings_parsed_and_bad_ones_refused(tmp_path):
    s = parse([])
    assert (s["host"], s["port"]) == ("127.0.0.1", "8765")  # loopback by default
    assert parse(["host=0.0.0.0", "port=0"])["host"] == "0.0.0.0"
    assert url_of("0.0.0.0", 9000) == "http://127.0.0.1:9000/"
    for bad, field in ((["port=99999"], "port"), (["port=x"], "port"),
                       (["colour=red"], "allowed"), (["study=" + str(tmp_path / "no")], "study")):
        with pytest.raises(ConfigError, match=field):
            parse(bad)


def test_cli_exits_2_on_a_bad_setting():
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "app", "port=70000"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "port" in proc.stderr and "0..65535" in proc.stderr


def test_run_ensemble_reports_progress_and_returns_the_study(tmp_path, monkeypatch):
    """The ensemble is `run_comparison` in a thread; progress is read from the folder."""
    import experiments.compare.driver as compare

    seen = []

    def fake(overrides):
        out = tmp_path / "study"
        (out / "timeseries").mkdir(parents=True)
        for i in range(4):
            (out / "timeseries" / f"a__r{i:04d}.parquet").write_bytes(b"")
            import time

            time.sleep(0.05)
        (out / "overrides.json").write_text(json.dumps(list(overrides)))
        return out, None, 0

    monkeypatch.setattr(compare, "run_comparison", fake)
    settings = {"country": "nigeria_like", "scenarios": ["status_quo", "abrupt_exit"],
                "reference": "status_quo", "levers": {"replications": 2},
                "output_dir": str(tmp_path / "study")}
    out = core.run_ensemble(settings, lambda d, t: seen.append((d, t)), poll_seconds=0.02)
    assert out == tmp_path / "study"
    assert seen[-1] == (4, 4) and all(t == 4 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert "scenarios=[status_quo,abrupt_exit]" in json.loads((out / "overrides.json").read_text())
