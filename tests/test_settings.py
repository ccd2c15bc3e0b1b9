"""One settings object per command (Hydra structured configs), validated in one place."""

from __future__ import annotations

from dataclasses import fields

import pytest

from experiments.config import ConfigError, compose
from experiments.settings import MULTI_SCENARIO, SCHEMAS, load_settings


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_every_key_of_a_command_is_declared_and_typed(command):
    cfg = compose(command)
    declared = {f.name for f in fields(SCHEMAS[command])}
    assert set(cfg) == declared  # no key without a type, no type without a value
    _, settings = load_settings(command)
    assert isinstance(settings, SCHEMAS[command]) and settings.seed == 1


@pytest.mark.parametrize("command", MULTI_SCENARIO)
def test_single_scenario_is_refused_the_same_way(command):
    with pytest.raises(ConfigError, match=rf"scenario: {command} runs several scenarios"):
        load_settings(command, ["scenario=abrupt_exit"])


@pytest.mark.parametrize(
    "command, override, message",
    [
        ("compare", "replications=abc", r"replications: Value 'abc' .* Integer"),
        ("compare", "replications=1", r"replications: must be an integer >= 2, got 1"),
        ("compare", "level=1.5", r"level: must be a number in \(0, 1\)"),
        ("sweep", "replications=0", r"replications: must be an integer >= 1"),
        ("sensitivity", "grouped=maybe", r"grouped: Value 'maybe' is not a valid bool"),
        ("sensitivity", "method=fast", r"method: unknown 'fast'; allowed: sobol, morris"),
        ("stress", "futures=0", r"futures: must be an integer >= 1"),
        ("run", "seed=-1", r"seed: must be a non-negative integer"),
        ("compare", "executor.workers=0", r"workers"),
    ],
)
def test_bad_values_name_the_field(command, override, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(command, [override])


def test_null_scenarios_mean_the_library_and_sample_seed_defaults_to_seed():
    _, compare = load_settings("compare", ["scenarios=[abrupt_exit,status_quo]", "reference=status_quo"])
    assert compare.scenarios == ["abrupt_exit", "status_quo"]
    _, stress = load_settings("stress", ["seed=7"])
    assert stress.sample_seed == 7 and len(stress.scenarios) >= 9
