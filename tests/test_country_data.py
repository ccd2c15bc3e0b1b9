"""A country's own data files: schema checks, series in the model, bad files refused."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from experiments.cli import main as cli
from experiments.config import ConfigError, compose, run_config
from experiments.country_data import attach_data
from sim.domain import MODALITIES
from sim.model import HandoverModel
from sim.params import build_params
from tests.tiny import provider, world

HEADER = "month,modality,persons\n"


def write(tmp_path: Path, text: str, name: str = "arrivals.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def country_with(tmp_path: Path, text: str, regions: bool = False) -> dict:
    cfg = world([provider("ext", "external_implementer", "donor", 5)])
    country = cfg["country"]
    country["data"] = {"arrivals": str(write(tmp_path, text))}
    return country


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("month,modality\n2024-01,forced\n", "row 1: missing column 'persons'"),
    (HEADER, "no data rows"),
    (HEADER + "2024-01,forced,-3\n", "row 2, column 'persons': must be >= 0"),
    (HEADER + "2024-01,forced,many\n", "row 2, column 'persons': must be a number"),
    (HEADER + "2024/01,forced,3\n", "row 2, column 'month': must be a month as YYYY-MM"),
    (HEADER + "2024-02,forced,3\n2024-01,forced,3\n", "row 3, column 'month': months must be in ascending order"),
    (HEADER + "2024-01,forced,3\n2024-03,forced,3\n", "row 3, column 'month': months must be consecutive"),
    (HEADER + "2024-01,boat,3\n", "row 2, column 'modality': unknown value 'boat'"),
    (HEADER + "2024-01,forced,3\n2024-01,forced,4\n", "row 3, column 'modality': duplicate row"),
    (HEADER + "2024-01,forced\n", "row 2: 2 fields, the header has 3"),
    ("month,modality,persons,colour\n2024-01,forced,3,red\n", "column 'colour': unknown column"),
    ("month,modality,region,persons\n2024-01,forced,mars,3\n", "row 2, column 'region': unknown value 'mars'"),
])
def test_bad_arrivals_files_name_file_row_and_column(tmp_path, text, message):
    country = country_with(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        attach_data(country)
    assert message in str(err.value)
    assert "arrivals.csv" in str(err.value)


def test_missing_file_and_unknown_key(tmp_path):
    country = country_with(tmp_path, HEADER + "2024-01,forced,3\n")
    country["data"]["arrivals"] = str(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="file not found"):
        attach_data(country)
    country["data"] = {"arrival": "x.csv"}
    with pytest.raises(ConfigError, match="country.data.arrival: unknown key; allowed: arrivals, budgets"):
        attach_data(country)


BUDGETS = "month,funder,budget_usd\n"


@pytest.mark.parametrize("kind, text, message", [
    ("arrivals", "", "the file is empty"),
    ("arrivals", HEADER + "2024-01,forced,-1\n", "row 2, column 'persons': must be >= 0"),
    ("arrivals", "month,modality\n2024-01,forced\n", "missing column 'persons'"),
    ("arrivals", HEADER + "2024-02,forced,1\n2024-01,forced,1\n", "ascending order"),
    ("arrivals", HEADER + "2024-01,forced,x\n", "must be a number"),
    ("budgets", "", "the file is empty"),
    ("budgets", "month,funder\n2024-01,eu_return_programme\n", "missing column 'budget_usd'"),
    ("budgets", BUDGETS + "2024-01,eu_return_programme,-5\n",
     "row 2, column 'budget_usd': must be >= 0"),
    ("budgets", BUDGETS + "2024-02,eu_return_programme,5\n2024-01,eu_return_programme,5\n",
     "ascending order"),
    ("budgets", BUDGETS + "2024-01,eu_return_programme,lots\n",
     "row 2, column 'budget_usd': must be a number"),
    ("budgets", BUDGETS + "2024-01,nobody,5\n", "row 2, column 'funder'"),
])
def test_cli_refuses_bad_data_file_with_exit_2_and_no_output(tmp_path, capsys, kind, text,
                                                             message):
    path = write(tmp_path, text, f"{kind}.csv")
    out = tmp_path / "out"
    code = cli(["run", f"country.data.{kind}={path}", f"output_dir={out}",
                "model.horizon_months=6", "model.handover_start=3", "model.warmup_months=1"])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err
    assert not out.exists()


def test_shipped_examples_follow_the_annual_figures():
    """tunisia_like's example: ~5,800 returns and 183 AVRR-assisted a year (illustrative)."""
    cfg = compose("config", ["country=tunisia_like",
                             "country.data.arrivals=data/tunisia_like/arrivals.csv",
                             "country.data.budgets=data/tunisia_like/budgets.csv"])
    series = run_config(cfg)["country"]["arrivals"]["series"]
    persons = np.array(series["persons"])
    assert persons.shape == (36, len(MODALITIES))
    per_year = persons.reshape(3, 12, -1).sum(axis=1)
    assert np.allclose(per_year.sum(axis=1), 5800, rtol=0.002)
    assert np.allclose(per_year[:, MODALITIES.index("avrr_europe")], 183, rtol=0.01)
    assert np.allclose(np.array(series["region_shares"]).sum(axis=1), 1.0)
    params = build_params(run_config(cfg))  # the budgets file validates against the profile
    eu = next(f for f in params.country.funders if f.name == "eu_return_programme")
    assert len(eu.budget_series) == 36 and eu.budget_series[-1] == eu.monthly_budget * 0.5


def series_world(persons: list[list[float]], region_shares=None, **model) -> dict:
    cfg = world([provider("ext", "external_implementer", "donor", 5)], **model)
    cfg["country"]["arrivals"]["series"] = {"source": "test", "start": "2024-01",
                                            "persons": persons, "region_shares": region_shares}
    return cfg


def run_months(cfg: dict, months: int, seed: int = 0) -> HandoverModel:
    model = HandoverModel(build_params(copy.deepcopy(cfg)), None, seed)
    for _ in range(months):
        model.step()
    return model


def test_arrivals_follow_the_series_modality_by_month():
    """Month 0 only forced returns, month 1 only spontaneous: modalities follow exactly."""
    forced, spont = MODALITIES.index("forced"), MODALITIES.index("spontaneous")
    persons = [[0, 0, 40, 0], [0, 0, 0, 40], [0, 0, 0, 0]]
    model = run_months(series_world(persons, horizon_months=3), 3)
    pop = model.population
    arrival, modality = pop.view("arrival"), pop.view("modality")
    assert pop.n > 0
    assert set(modality[arrival == 0]) == {forced}
    assert set(modality[arrival == 1]) == {spont}
    assert (arrival == 2).sum() == 0  # a zero month brings nobody


def test_arrivals_are_poisson_around_the_series_then_the_mean_of_the_last_year():
    """Mean arrivals per month match the series within 4 standard errors, past the data too."""
    levels = [10.0, 50.0, 200.0]
    persons = [[0, 0, 0, v] for v in levels]
    months, reps = 5, 60
    counts = np.zeros((reps, months))
    for seed in range(reps):
        model = run_months(series_world(persons, horizon_months=months), months, seed)
        counts[seed] = np.bincount(model.population.view("arrival"), minlength=months)
    expected = np.array(levels + [np.mean(levels)] * 2)
    se = np.sqrt(expected / reps)
    assert np.all(np.abs(counts.mean(axis=0) - expected) < 4 * se)


def test_budget_series_replaces_the_planned_budget_while_it_lasts():
    cfg = world([provider("ext", "external_implementer", "donor", 5)], horizon_months=4)
    cfg["country"]["funders"][0]["budget_series"] = [0.0, 500.0]
    model = run_months(cfg, 4)
    budgets = [r["donor_allocation"] for r in model.records]
    assert budgets == [0.0, 500.0, 1000.0, 1000.0]


def test_same_seed_same_arrivals_whatever_the_scenario():
    """Common random numbers hold with a data series (arrivals stream only)."""
    from scenarios import build_scenario

    out = []
    for name in ("status_quo", "abrupt_exit"):
        rc = run_config(compose("config", ["country=tunisia_like",
                                           "country.data.arrivals=data/tunisia_like/arrivals.csv",
                                           "model.horizon_months=12", "model.handover_start=6",
                                           "model.warmup_months=2", "model.scale=5",
                                           f"scenario={name}"]))
        params = build_params(rc)
        model = HandoverModel(params, build_scenario(rc["scenario"], params.country), 3)
        for _ in range(12):
            model.step()
        out.append(model.population.view("modality")[model.population.view("arrival") < 12].copy())
    assert len(out[0]) > 0 and np.array_equal(out[0], out[1])



@pytest.mark.parametrize("command, settings", [
    ("compare", ["scenarios=[status_quo,abrupt_exit]", "replications=2"]),
    ("sweep", ["replications=1"]),
    ("stress", ["scenarios=[status_quo,abrupt_exit]", "futures=2", "stress=small"]),
    ("sensitivity", ["space=tiny", "method=morris", "n=2"]),
    ("validate", ["replications=2"]),
    ("calibrate", ["particles=2", "generations=1", "oversample=1", "install=false"]),
])
def test_every_command_refuses_a_bad_data_file_before_writing(tmp_path, capsys, command, settings):
    path = write(tmp_path, HEADER + "2024-01,forced,-3\n")
    out = tmp_path / "out"
    assert cli([command, *settings, f"country.data.arrivals={path}", f"output_dir={out}",
                "model.horizon_months=12", "model.handover_start=6"]) == 2
    err = capsys.readouterr().err
    assert "row 2, column 'persons': must be >= 0" in err and str(path) in err
    assert not out.exists()
