"""One seeding scheme: per-replication seeds spawned from the study seed (SeedSequence)."""

from __future__ import annotations

import numpy as np

from experiments.sensitivity.analysis import study_seeds
from experiments.study.runner import replication_seeds


def test_replication_seeds_are_spawned_children_of_the_study_seed():
    # known answer: child r of SeedSequence(7, spawn_key=(2,)), first 32-bit word
    expected = [int(np.random.SeedSequence(7, spawn_key=(2, r)).generate_state(1)[0])
                for r in range(4)]
    assert replication_seeds(7, 4) == expected
    assert replication_seeds(7, 2) == expected[:2]  # a prefix: R can grow, runs resume


def test_different_study_seeds_share_no_replication():
    one, two = replication_seeds(1, 30), replication_seeds(2, 30)
    assert len(set(one)) == 30 and not set(one) & set(two)


def test_sensitivity_uses_the_same_replication_seeds():
    assert study_seeds(3, 5)["replications"] == replication_seeds(3, 5)
