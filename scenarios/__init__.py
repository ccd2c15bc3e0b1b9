"""Handover scenarios: schedule primitives, shocks and the scenario object, built from data.

A scenario is YAML (`configs/scenario/<name>.yaml`); behaviour lives in the small classes
registered in `scenarios.schedules.SCHEDULES` and `scenarios.shocks.SHOCKS`.
"""

from scenarios.scenario import Scenario, ScenarioError, build_scenario
from scenarios.schedules import SCHEDULES, build_schedule
from scenarios.shocks import SHOCKS, build_shock

__all__ = ["SCHEDULES", "SHOCKS", "Scenario", "ScenarioError", "build_scenario", "build_schedule", "build_shock"]
