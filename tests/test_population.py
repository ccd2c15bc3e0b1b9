"""The columnar store of returnees (sim/population.py): rows appended and grown exactly."""

from __future__ import annotations

import numpy as np

from sim.domain import Episode, Status
from sim.population import _COLUMNS, N_DIMS, Population


def _rows(k: int, month: int) -> dict[str, np.ndarray]:
    ep = np.full((k, 6), Episode.NONE, dtype=np.int8)
    ep[:, 1] = Episode.LATENT
    return {"arrival": np.full(k, month, dtype=np.int32), "region": np.arange(k, dtype=np.int8),
            "ep": ep, "ep_first_served": np.full((k, 6), 7, dtype=np.int32)}


def test_new_rows_get_the_fill_value_of_every_column_not_given_across_growth():
    pop = Population(16)
    first = pop.add(_rows(10, 0))
    second = pop.add(_rows(30, 1))  # beyond the capacity: the columns grow and keep the old rows
    np.testing.assert_array_equal(first, np.arange(10))
    np.testing.assert_array_equal(second, np.arange(10, 40))
    assert pop.n == 40
    np.testing.assert_array_equal(pop.view("arrival"), np.r_[np.zeros(10), np.ones(30)])
    np.testing.assert_array_equal(pop.view("region"), np.r_[np.arange(10), np.arange(30)])
    np.testing.assert_array_equal(pop.view("ep")[:, 1], Episode.LATENT)
    assert (pop.view("ep_first_served") == 7).all()
    given = set(_rows(1, 0))
    for name, (dtype, per_area, fill) in _COLUMNS.items():
        col = pop.view(name)
        assert col.dtype == dtype and col.shape == ((40, 6) if per_area else (40,))
        if name not in given:
            np.testing.assert_array_equal(col, np.full(col.shape, fill, dtype=dtype), err_msg=name)
    assert (pop.view("status") == Status.ACTIVE).all() and np.isnan(pop.view("score_12m")).all()
    assert (pop.view("score") == 0).all() and pop.view("score").shape == (40, N_DIMS)


def test_rows_written_by_the_model_are_not_overwritten_by_later_arrivals():
    pop = Population(16)
    pop.add(_rows(3, 0))
    pop.exit_month[:3] = 5
    pop.ep_provider[1, 2] = 4
    pop.add(_rows(20, 1))
    np.testing.assert_array_equal(pop.view("exit_month"), np.r_[np.full(3, 5), np.full(20, -1)])
    assert pop.ep_provider[1, 2] == 4 and (pop.view("ep_provider") == -1).sum() == 23 * 6 - 1


def test_deepcopy_copies_the_filled_rows_keeps_the_capacity_and_is_independent():
    import copy

    pop = Population(64)
    pop.add(_rows(5, 0))
    pop.score[:5] = 0.25
    pop.exit_month[2] = 9
    twin = copy.deepcopy(pop)
    assert twin.n == 5 and twin._capacity == pop._capacity
    for name in (*_COLUMNS, "score"):
        np.testing.assert_array_equal(twin.view(name), pop.view(name), err_msg=name)
    twin.exit_month[2] = 11
    twin.add(_rows(3, 1))  # the copy grows on its own; the original is untouched
    assert pop.exit_month[2] == 9 and pop.n == 5 and twin.n == 8
    np.testing.assert_array_equal(twin.view("exit_month"), [-1, -1, 11, -1, -1, -1, -1, -1])
    np.testing.assert_array_equal(twin.view("score")[5:], 0.0)
