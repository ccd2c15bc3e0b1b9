"""Mesa conventions: DataCollector, `running`, `mesa.batch_run`, views outside `model.agents`."""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing

import mesa
import pytest

from scenarios import build_scenario
from sim.domain import BLOCKS
from sim.model import HandoverModel
from sim.params import build_params
from tiny import model_with_returnees, provider, world


def _params(horizon: int = 5, help_seeking: float = 1.0):
    cfg = world([provider("prog", "external_implementer", "donor", slots=2)],
                horizon_months=horizon)
    cfg["country"]["arrivals"]["monthly_mean"] = 4.0
    cfg["country"]["returnees"]["help_seeking"] = help_seeking
    return build_params(copy.deepcopy(cfg))


def test_datacollector_has_one_row_per_month_equal_to_the_records():
    model = HandoverModel(_params(horizon=6), None, seed=3)
    for _ in range(6):
        model.step()
    table = model.datacollector.get_model_vars_dataframe()
    assert len(table) == 6 == len(model.records)
    assert list(table.columns) == list(model.records[0])
    assert table.to_dict("records") == model.records


def test_running_turns_false_at_the_horizon_and_stepping_further_raises():
    model = HandoverModel(_params(horizon=3), None, seed=1)
    seen = []
    while model.running:
        model.step()
        seen.append(model.month)
    assert seen == [1, 2, 3]
    with pytest.raises(RuntimeError, match="horizon_months"):
        model.step()
    assert model.month == 3 and len(model.records) == 3


def test_batch_run_returns_one_row_per_run_and_month():
    a, b = _params(horizon=4, help_seeking=1.0), _params(horizon=4, help_seeking=0.2)
    method = multiprocessing.get_start_method(allow_none=True)
    try:  # batch_run forces the 'spawn' start method process-wide; restore it afterwards
        rows = mesa.batch_run(HandoverModel, {"params": [a, b]}, rng=[1, 2], max_steps=50,
                              data_collection_period=1, display_progress=False)
    finally:
        multiprocessing.set_start_method(method, force=True)
    assert len(rows) == 2 * 2 * 4  # parameter values x seeds x months (stopped by `running`)
    for params in (a, b):
        for seed in (1, 2):
            mine = [r for r in rows if r["params"] is params and r["seed"] == seed]
            direct = HandoverModel(params, None, seed)
            for _ in range(4):
                direct.step()
            assert [r["waiting"] for r in mine] == [m["waiting"] for m in direct.records]
            assert [r["month"] for r in mine] == [0, 1, 2, 3]


def test_a_scenario_object_can_be_reused_by_several_models():
    ready = _params()  # no national provider: readiness = 0.4 x mean of the key blocks
    ready = dataclasses.replace(ready, country=dataclasses.replace(ready.country, system=(
        dataclasses.replace(ready.country.system, initial=dict.fromkeys(BLOCKS, 1.0)))))
    unready = _params()  # blocks at 0.5: readiness 0.2 never reaches the threshold
    spec = {"name": "trigger", "national_share": {"default": {
        "kind": "readiness_trigger", "threshold": 0.35, "months": 1, "before": 0.0, "after": 1.0}}}
    scenario = build_scenario(spec, ready.country)
    first = HandoverModel(ready, scenario, seed=1)
    first.step()
    second = HandoverModel(unready, scenario, seed=1)
    second.step()
    assert first.records[0]["national_share"] == 1.0  # fired in month 0
    assert second.records[0]["national_share"] == 0.0  # its own trigger, not the first model's


def test_returnee_views_do_not_change_model_agents():
    cfg = world([provider("prog", "external_implementer", "donor", slots=2)])
    model = model_with_returnees(cfg, 3)
    model.step()
    before = list(model.agents)
    view = model.returnee(2)
    assert isinstance(view, mesa.Agent) and view.row == 2 and view.model is model
    assert model.returnee(2) is view
    assert list(model.agents) == before
    assert view.status.name == "ACTIVE"
