"""Property-based fuzz tests (hypothesis).

1. Bad overrides, drawn from the catalogue in tests/badinputs.py for all seven commands,
   are refused with exit status 2, an error naming the field, no traceback and no file.
   Validation happens before any run, so each example costs only composition.
2. Valid configurations drawn from documented ranges keep the model's invariants on tiny
   short runs (people never lost or double-counted, money never negative, capacity never
   exceeded).
"""

from __future__ import annotations

import pytest
from badinputs import COMMANDS, cases, try_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import check_invariants

from experiments.config import compose, group_options, run_config
from experiments.study.jobs import simulate

CASES = [(command, overrides, field) for command in COMMANDS
         for overrides, field in cases(command)]


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASES))
def test_bad_overrides_are_refused_cleanly(case):
    command, overrides, field = case
    ok, why = try_case(command, overrides, field)
    assert ok, f"handover {command} {' '.join(overrides)}: {why}"


@pytest.mark.slow
def test_every_catalogued_bad_input_is_refused_cleanly():
    """All catalogued cases (> 400); `python tests/badinputs.py` prints the counts."""
    failures = [(c, o, why) for c, o, f in CASES for ok, why in [try_case(c, o, f)] if not ok]
    assert not failures, failures[:10]


valid_overrides = st.fixed_dictionaries({
    "scenario": st.sampled_from(group_options("scenario")),
    "country": st.sampled_from(group_options("country")),
    "model.horizon_months": st.integers(14, 30),
    "model.handover_start": st.integers(6, 12),
    "model.scale": st.integers(40, 120),
    "model.gap_delta": st.floats(0.05, 0.5),
    "country.returnees.help_seeking": st.floats(0.0, 1.0),
    "country.arrivals.monthly_mean": st.floats(0.0, 3000.0),
    "scenario.national_takeover": st.floats(0.0, 1.0),
})


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(valid_overrides, st.integers(0, 2**31 - 1))
def test_valid_configurations_keep_the_invariants(values, seed):
    overrides = [f"{k}={v}" for k, v in values.items()] + ["model.warmup_months=2",
                                                           "model.timely_months=2"]
    config = run_config(compose("config", overrides))
    check_invariants(simulate(config, seed))
