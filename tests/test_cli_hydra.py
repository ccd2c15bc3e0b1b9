"""Hydra conventions and own configuration files: --help, --cfg job, -m, scenario=file.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from experiments import cli
from experiments.config import CONFIG_DIR, compose

SHORT = ["model.horizon_months=12", "model.handover_start=6", "model.warmup_months=2",
         "model.scale=50"]


def test_run_help_lists_groups_and_main_keys(capsys):
    assert cli.main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert "usage: handover run" in text
    assert "scenario   abrupt_exit |" in text and "path/to/file.yaml" in text
    assert "model.horizon_months = 120" in text and "seed = 1" in text


@pytest.mark.parametrize("command", ["compare", "sweep", "sensitivity", "stress"])
def test_every_command_has_help(command, capsys):
    assert cli.main([command, "-h"]) == 0
    assert f"usage: handover {command}" in capsys.readouterr().out


def test_compare_cfg_job_prints_the_composed_configuration(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", "--cfg", "job", "replications=7", "country=tunisia_like"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["replications"] == 7 and cfg["country"]["name"] == "tunisia_like"
    assert cfg == compose("compare", ["replications=7", "country=tunisia_like"])
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_multirun_points_to_sweep(capsys):
    assert cli.main(["run", "-m", "seed=1,2"]) == 2
    assert "handover sweep" in capsys.readouterr().err


def _own_scenario(folder: Path) -> Path:
    data = yaml.safe_load((CONFIG_DIR / "scenario" / "linear_taper.yaml").read_text())
    data["name"] = "my_taper"
    data["national_takeover"] = 0.3
    path = folder / "elsewhere" / "my_taper.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data))
    return path


def test_own_scenario_file_from_outside_the_repository(tmp_path, capsys):
    path = _own_scenario(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["run", f"scenario={path}", "scenario.national_takeover=0.4",
                     f"output_dir={out}", *SHORT]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["scenario"]["name"] == "my_taper"
    assert manifest["config"]["scenario"]["national_takeover"] == 0.4  # overrides apply after


def test_own_scenario_file_in_a_comparison(tmp_path, capsys):
    path = _own_scenario(tmp_path)
    cfg = compose("compare", [f"scenario={path}"])
    assert cfg["scenario"]["name"] == "my_taper"
    from experiments.compare.driver import build_jobs
    from experiments.settings import load_settings

    args = [f"scenarios=[status_quo,{path}]", "replications=2", "reference=status_quo"]
    _, settings = load_settings("compare", args)
    jobs = build_jobs(args, settings, 1)
    assert [j["config"]["scenario"]["name"] for j in jobs] == ["status_quo"] * 2 + ["my_taper"] * 2


def test_own_files_are_validated_like_built_ins(tmp_path, capsys):
    bad = yaml.safe_load((CONFIG_DIR / "country" / "nigeria_like.yaml").read_text())
    bad["returnees"]["help_seeking"] = 1.5
    path = tmp_path / "bad_country.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert cli.main(["run", f"country={path}", f"output_dir={tmp_path / 'o'}"]) == 2
    assert "country.returnees.help_seeking" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["../../x", "../scenario/status_quo", "a/b", "nope"])
def test_group_names_never_load_paths(value, capsys):
    assert cli.main(["run", f"scenario={value}", "--cfg", "job"]) == 2
    assert "scenario: unknown scenario" in capsys.readouterr().err


def test_plus_keys_are_refused_with_close_matches(capsys):
    assert cli.main(["run", "+model.scal=4", "--cfg", "job"]) == 2
    assert "did you mean model.scale" in capsys.readouterr().err


def test_environment_interpolation_is_refused(capsys):
    assert cli.main(["run", "output_dir=${oc.env:HOME}", "--cfg", "job"]) == 2
    assert "oc.env" in capsys.readouterr().err
