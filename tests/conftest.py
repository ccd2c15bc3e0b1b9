"""Shared test fixtures and picklable toy job functions.

Toy job functions live here (module `conftest`, importable by spawned worker processes,
which inherit `sys.path`) so that executors and the store can be tested without the
simulator. Keep this file small; append fixtures at the end.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def toy_job(spec: dict) -> dict:
    """Deterministic toy simulation: outcomes depend only on the spec's seed and config.

    Options in spec["config"]: `fail` (raise), `log` (append the job's seed to that file,
    to count executions), `sleep` (seconds), `work` (numpy draws, a CPU-bound load),
    `hold` + `hold_seed` (job `hold_seed` waits while the file `hold` exists).
    """
    cfg = spec.get("config", {})
    if cfg.get("log"):
        with open(cfg["log"], "a") as fh:
            fh.write(f"{spec['seed']}\n")
    while cfg.get("hold") and spec["seed"] == cfg.get("hold_seed") and os.path.exists(cfg["hold"]):
        import time  # wait while the hold file exists (a job "in flight" for kill tests)

        time.sleep(0.01)
    if cfg.get("fail") and spec["seed"] in cfg["fail"]:
        raise RuntimeError(f"toy failure for seed {spec['seed']}")
    if cfg.get("sleep"):
        import time

        time.sleep(cfg["sleep"])
    rng = np.random.default_rng(np.random.SeedSequence([int(spec["seed"]), 7]))
    scale = float(cfg.get("scale", 1.0))
    draws = rng.standard_normal(int(cfg.get("work", 1000)))
    return {
        "coverage": float(np.tanh(scale * abs(draws.mean()) + 0.3)),
        "dropped_cases": int(rng.integers(0, 100)),
        "national_spend": float(draws.std() * scale),
    }


@pytest.fixture(scope="session")
def dask_address():
    """Address of one Dask LocalCluster (2 single-threaded workers) shared by all tests."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def tests_on_path(monkeypatch):
    """Make `conftest` importable by subprocesses started with a fresh interpreter."""
    here = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    return here


def toy_sweep_job(spec: dict) -> dict:
    """Toy run on a real run config: coverage = 1 / (1 + scale / 100) + noise(seed).

    The noise depends on the seed only (common random numbers), so within a replication
    the difference between two settings is exact. `model.scale < 0` raises.
    """
    model = spec["config"]["model"]
    if model["scale"] < 0:
        raise ValueError("negative scale")
    noise = np.random.default_rng(int(spec["seed"])).uniform(-0.01, 0.01)
    exit_penalty = 0.1 if spec["config"]["scenario"]["name"] == "abrupt_exit" else 0.0
    return {
        "coverage": 1.0 / (1.0 + model["scale"] / 100.0) - exit_penalty + noise,
        "dropped_cases": float(model["timely_months"] * 10 + spec["seed"]),
    }


def crash_job(spec: dict) -> dict:
    """Kills its worker process abruptly when spec["seed"] == 3 (as a segfault would)."""
    if spec["seed"] == 3:
        os._exit(13)
    return {"value": float(spec["seed"])}


def series_job(spec: dict) -> tuple[dict, "object"]:
    """Compare-shaped toy job returning (outcomes, monthly series); the series has
    `model.horizon_months` rows, so runs of different configurations are told apart."""
    import pandas as pd

    months = int(spec["config"]["model"]["horizon_months"])
    rng = np.random.default_rng(spec["seed"])
    cov = rng.uniform(0.3, 0.7, months)
    series = pd.DataFrame({"month": np.arange(months), "coverage": cov,
                           "dropped_cases": rng.poisson(2, months),
                           "donor_spend": 10.0, "national_spend": 5.0})
    return {"coverage": float(cov.mean()), "dropped_cases": 1.0, "gap_months": 0.0,
            "donor_spend": 1.0, "national_spend": 1.0}, series
