"""Bad input is refused before anything runs: one regression test per failure class.

The failure classes of the reliability review (docs/guarantees.md), each with the examples
the review found, through the command line with the real job functions (stand-ins would
skip the simulator's checks). Every case must exit 2 with an error naming the field, no
traceback and no file written (`badinputs.try_case`). Classes 2-4 and 8 (mixing, locks,
series files, orphans) are in tests/test_reliability.py.
"""

from __future__ import annotations

import pytest
from badinputs import try_case

from experiments import cli
from experiments.config import ConfigError

HELP = ["country.returnees.help_seeking=1.5"]

#: (class, command, overrides, field the message must name)
CASES = [
    # 1. model/country/scenario values checked before running, in every multi-run command
    (1, "compare", HELP, "country.returnees.help_seeking"),
    (1, "sweep", HELP, "country.returnees.help_seeking"),
    (1, "stress", HELP, "country.returnees.help_seeking"),
    (1, "validate", HELP, "country.returnees.help_seeking"),
    (1, "calibrate", HELP, "country.returnees.help_seeking"),
    (1, "sweep", ["grid={country.returnees.help_seeking:[0.5,1.5]}"],
     "country.returnees.help_seeking"),
    # 5. what used to end in a traceback
    (5, "run", ["model.monitoring_months=inf"], "model.monitoring_months"),
    (5, "compare", ["country.funders.0.cycle_months=nan"], "country.funders"),
    (5, "sweep", ["model.horizon_months=1000000000"], "model.horizon_months"),
    (5, "stress", ["scenario.shocks=[{kind:return_surge,persons:1e308,start:30}]"],
     "scenario.shocks"),
    (5, "sensitivity", ["seed=${seed}"], "interpolation"),
    (5, "compare", ["executor=dask", "executor.address=not-a-url"], "executor.address"),
    (5, "validate", ["output_dir=afile/below"], "output_dir"),
    # 6. bad values that used to be accepted
    (6, "compare", ["scenario.national_takeover=inf"], "scenario.national_takeover"),
    (6, "run", ["country.returnees.trust_concentration=inf"],
     "country.returnees.trust_concentration"),
    (6, "run", ["model.timely_months=100"], "model.timely_months"),
    (6, "sweep", ["grid={}"], "grid"),
    (6, "sweep", ["settings=[]"], "settings"),
    (6, "sensitivity", ["factors=[]"], "factors"),
    (6, "sweep", ["outcomes=[nope]"], "outcomes"),
    (6, "stress", ["discovery.peel_alpha=2"], "discovery.peel_alpha"),
    (6, "stress", ["discovery.max_boxes=0"], "discovery.max_boxes"),
    (6, "stress", ["discovery.mass_min=-1"], "discovery.mass_min"),
    (6, "run", ["+anything=1"], "anything"),
    (6, "calibrate", ["+model.scal=4"], "model.scal"),
    # a base value every sample point replaces (space=tiny varies help_seeking) is still read
    (6, "sensitivity", ["country.returnees.help_seeking=inf"], "country.returnees.help_seeking"),
    (6, "calibrate", ["space=afile"], "space"),  # a file that is not a space
    # ... and likewise a value every grid setting or every future replaces
    (6, "sweep", ["grid={country.returnees.help_seeking:[0.2,0.4]}",
                  "country.returnees.help_seeking=inf"], "country.returnees.help_seeking"),
    (6, "stress", ["stress=small", "country.funders.treasury.fiscal_space=inf"],
     "country.funders.treasury.fiscal_space"),
    # 7. refused, but files used to be left behind
    (7, "sensitivity", ["executor=dask", "executor.address=not-a-url"], "executor.address"),
    (7, "sensitivity", ["outcomes=[nope]"], "outcomes"),
]


@pytest.mark.parametrize("failure_class, command, overrides, field", CASES,
                         ids=[f"{c}-{cmd}-{' '.join(o)[:40]}" for c, cmd, o, _ in CASES])
def test_refused_before_anything_runs(failure_class, command, overrides, field):
    ok, why = try_case(command, overrides, field)
    assert ok, f"class {failure_class}: handover {command} {' '.join(overrides)}: {why}"


STUDIES = {
    "compare": ["scenarios=[status_quo,abrupt_exit]", "replications=2"],
    "sweep": ["replications=1"],
    "stress": ["scenarios=[status_quo,abrupt_exit]", "futures=2", "stress=small"],
    "sensitivity": ["n=2", "space=tiny", "method=morris"],
    "validate": ["replications=2"],
    "calibrate": ["particles=2", "generations=1", "oversample=1", "install=false"],
}


@pytest.mark.parametrize("command", STUDIES)
def test_unreachable_scheduler_leaves_nothing(tmp_path, capsys, monkeypatch, command):
    """Class 7: the executor cannot start (a Dask scheduler that does not answer)."""
    from experiments.study import runner

    def unreachable(spec):
        raise ConfigError("executor.address: cannot reach Dask scheduler tcp://nowhere:1")

    monkeypatch.setattr(runner, "make_executor", unreachable)
    new, old = tmp_path / "new", tmp_path / "old"
    old.mkdir()
    (old / "notes.txt").write_text("mine")
    for out in (new, old):
        assert cli.main([command, *STUDIES[command], "model.scale=100",
                         "model.horizon_months=24", "model.handover_start=12",
                         f"output_dir={out}"]) == 2
        assert "cannot reach Dask scheduler" in capsys.readouterr().err
    assert not new.exists()  # not even futures.csv (stress) or generations/ (calibrate)
    assert sorted(p.name for p in old.iterdir()) == ["notes.txt"]  # the user's file stays


def test_run_refuses_a_non_empty_folder_before_simulating(tmp_path, capsys, monkeypatch):
    """Class 8: `handover run` into a used folder is refused without simulating first."""
    from experiments.study import jobs

    def simulate(*args):
        raise AssertionError("simulated before checking output_dir")

    monkeypatch.setattr(jobs, "simulate", simulate)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x.txt").write_text("x")
    assert cli.main(["run", f"output_dir={tmp_path / 'used'}"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


def test_a_list_item_may_be_named_by_its_name_in_an_override():
    """`country.funders.treasury.x=v` sets what `country.funders.<its position>.x=v` sets
    (factors in configs/sa and configs/stress name items the same way); an unknown name is
    refused with the allowed names."""
    from experiments.config import ConfigError, compose, get_dotted

    base = compose("run")
    names = [f["name"] for f in base["country"]["funders"]]
    i = names.index("treasury")
    by_name = compose("run", ["country.funders.treasury.fiscal_space=0.37"])
    by_index = compose("run", [f"country.funders.{i}.fiscal_space=0.37"])
    assert by_name == by_index
    assert get_dotted(by_name, "country.funders.treasury.fiscal_space") == 0.37
    with pytest.raises(ConfigError, match="no item named 'nobody' in country.funders; allowed: .*treasury"):
        compose("run", ["country.funders.nobody.fiscal_space=0.5"])
