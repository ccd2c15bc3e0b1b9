"""Parameter metadata declared in code: complete, consistent, used by validation and docs."""

from __future__ import annotations

import copy
import dataclasses
import typing

import numpy as np
import pytest

from experiments.config import compose, run_config
from sim import paramdoc
from sim.domain import PROVIDER_KINDS
from sim.model import HandoverModel
from sim.params import (
    SERVICE_RANGES,
    ParameterError,
    ProviderSpec,
    RunParams,
    build_params,
    service_range,
)
from sim.population import draw_arrivals
from sim.system import NationalSystem
from tiny import provider, world


def _all_fields():
    classes = [RunParams] + [cls for _, cls in paramdoc.sections(RunParams)]
    for cls in classes:
        for f in dataclasses.fields(cls):
            yield cls, f, typing.get_type_hints(cls)[f.name]


def test_docs_parameter_reference_is_up_to_date():
    current = paramdoc.DOC_PATH.read_text(encoding="utf-8")
    assert current == paramdoc.render(), "docs/parameters.md is stale: run `python -m sim.paramdoc`"


def test_every_field_declares_doc_unit_and_source():
    for cls, f, hint in _all_fields():
        meta = f.metadata
        assert meta.get("doc"), f"{cls.__name__}.{f.name} has no doc"
        assert meta.get("source"), f"{cls.__name__}.{f.name} has no source"
        if paramdoc._sub_dataclass(hint)[0] is None:
            assert meta.get("unit"), f"{cls.__name__}.{f.name} has no unit"
        if hint in (int, float):
            assert meta.get("bounds") is not None, f"{cls.__name__}.{f.name} has no bounds"


def test_defaults_and_plausible_ranges_lie_within_bounds():
    for cls, f, _ in _all_fields():
        bounds, plausible = f.metadata.get("bounds"), f.metadata.get("plausible")
        if bounds is None:
            continue
        low, high = bounds
        high = np.inf if high is None else high
        if plausible is not None:
            assert low <= plausible[0] <= plausible[1] <= high, f"{cls.__name__}.{f.name}"
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            assert low <= f.default <= high, f"{cls.__name__}.{f.name}"
            if plausible is not None:
                assert plausible[0] <= f.default <= plausible[1], f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize("path, value, expected", [
    ("system.reception_reach_external", 1.5,
     "country.system.reception_reach_external: must be between 0 and 1 (probability), got 1.5"),
    ("system.ta_full_intensity_usd", 0.0,
     "country.system.ta_full_intensity_usd: must be > 0 (USD/month), got 0.0"),
    ("returnees.help_seeking", -0.1,
     "country.returnees.help_seeking: must be between 0 and 1 (probability/month), got -0.1"),
])
def test_range_error_names_field_unit_and_allowed_range(path, value, expected):
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)])
    node = cfg["country"]
    *parents, key = path.split(".")
    for part in parents:
        node = node[part]
    node[key] = value
    with pytest.raises(ParameterError) as err:
        build_params(cfg)
    assert str(err.value) == expected


def test_coefficients_that_must_stay_probabilities_are_checked_together():
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)])
    cfg["country"]["system"].update(referral_success_floor=0.5, referral_success_gain=0.75)
    with pytest.raises(ParameterError, match=r"referral_success_gain: .* must be <= 1"):
        build_params(cfg)


def test_system_rules_follow_their_parameters_exactly():
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)])
    cfg["country"]["system"].update(referral_success_floor=0.1, referral_success_gain=0.4,
                                    reception_reach_floor=0.3, reception_reach_gain=0.6,
                                    readiness_block_weight=0.25)
    system = NationalSystem(build_params(cfg).country.system)
    assert system.referral_success == pytest.approx(0.1 + 0.4 * 0.5)
    reach = system.reception_reach(np.array([1.0, 0.5]))
    assert reach == pytest.approx([0.3 + 0.6 * 0.5, 0.3 + 0.6 * 0.25])
    # absorption weight 0.3 (default): blocks 0.5, absorption 0.2, productivity 1.
    assert system.readiness(1.0, 0.2) == pytest.approx(0.25 * 0.5 + 0.3 * 0.2 + 0.45 * 1.0)


@pytest.mark.parametrize("reach, registered", [(0.0, 0), (1.0, 20)])
def test_external_reception_reach_is_a_parameter(reach, registered):
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)])
    cfg["country"]["system"]["reception_reach_external"] = reach
    params = build_params(copy.deepcopy(cfg))
    model = HandoverModel(params, None, 0)
    model.allocate_funds(0)
    for p in model.providers:
        p.adjust_capacity(1000.0)
    rng = np.random.default_rng(0)
    rows = model.population.add(draw_arrivals(params.country, 0, 20, rng, rng))
    model._receive(rows)
    assert int(model.population.registered[rows].sum()) == registered


SERVICE_FIELDS = ("staff_cost", "cases_per_staff", "assist_months", "quality")


def test_service_ranges_cover_every_kind_and_lie_within_bounds():
    bounds = {f.name: f.metadata["bounds"] for f in dataclasses.fields(ProviderSpec)}
    assert set(SERVICE_RANGES) == set(PROVIDER_KINDS)
    for kind, ranges in SERVICE_RANGES.items():
        assert set(ranges) == set(SERVICE_FIELDS), kind
        for name, r in ranges.items():
            low, high = bounds[name]
            assert low <= r.low <= r.high <= (np.inf if high is None else high), (kind, name)
            assert r.source, (kind, name)


@pytest.mark.parametrize("country", ["nigeria_like", "tunisia_like"])
def test_shipped_profiles_services_lie_in_their_kinds_plausible_ranges(country):
    params = build_params(run_config(compose("config", [f"country={country}"])))
    for spec in params.country.providers:
        quality = spec.quality.values() if isinstance(spec.quality, dict) else [spec.quality]
        values = {"staff_cost": [spec.staff_cost], "cases_per_staff": [spec.cases_per_staff],
                  "assist_months": spec.assist_months, "quality": quality}
        for name, vals in values.items():
            r = service_range(spec.kind, name)
            for v in vals:
                assert r.low <= v <= r.high, f"{country}.{spec.name}.{name}={v} not in {r}"


def test_service_range_refuses_unknown_names():
    with pytest.raises(ParameterError, match="allowed: external_implementer"):
        service_range("ministry", "staff_cost")
    with pytest.raises(ParameterError, match="allowed: staff_cost"):
        service_range("local_ngo", "initial_staff")
