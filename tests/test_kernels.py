"""The compiled kernels (sim/kernels.py) against their Python source and against the
vectorised numpy code they replaced, bit for bit, on random populations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import kernels
from sim.agents import Provider
from sim.domain import Episode

N_AREAS, N_DIMS, N_PROV, N_MOD, N_PROF = 6, 3, 4, 4, 2
AREA_DIM = np.array([0, 1, 0, 2, 2, 1])


def _population(seed: int, n: int = 400) -> dict[str, np.ndarray]:
    """Random state of n returnees; every episode state appears."""
    rng = np.random.default_rng(seed)
    ep = rng.integers(0, 7, (n, N_AREAS)).astype(np.int8)
    provider = np.where(ep == Episode.IN_SERVICE, rng.integers(0, N_PROV, (n, N_AREAS)), -1).astype(np.int16)
    return {
        "act": np.sort(rng.choice(n, n * 3 // 4, replace=False)).astype(np.int64),
        "ep": ep, "ep_provider": provider,
        "ep_transfer": rng.random((n, N_AREAS)) < 0.5,
        "ep_referral": rng.random((n, N_AREAS)) < 0.5,
        "ep_u": rng.random((n, N_AREAS)).astype(np.float32),
        "ep_months": rng.integers(0, 6, (n, N_AREAS)).astype(np.int16),
        "ep_duration": rng.integers(1, 8, (n, N_AREAS)).astype(np.int16),
        "ep_wait_since": rng.integers(0, 20, (n, N_AREAS)).astype(np.int32),
        "ep_interrupted": rng.integers(0, 20, (n, N_AREAS)).astype(np.int32),
        "score": rng.random((n, N_DIMS)).astype(np.float32),
        "modality": rng.integers(0, N_MOD, n).astype(np.int8),
        "profile": rng.integers(0, N_PROF, n).astype(np.int8),
        "region": rng.integers(0, 3, n).astype(np.int8),
        "registered": rng.random(n) < 0.7,
        "trust_gov": rng.random(n).astype(np.float32),
        "trust_ext": rng.random(n).astype(np.float32),
        "follow_until": rng.integers(10, 30, n).astype(np.int32),
        "follow_national": rng.random(n) < 0.5,
        "threshold": np.where(rng.random(N_MOD * N_PROF * N_AREAS) < 0.2, 2.0,
                              rng.random(N_MOD * N_PROF * N_AREAS)),
        "quality": rng.random((N_PROV, N_AREAS)),
    }


def _copy(pop: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in pop.items()}


def _national(pop, rows, areas):
    """The vectorised channel test of the model before the kernels."""
    code = (pop["modality"][rows].astype(np.intp) * N_PROF + pop["profile"][rows]) * N_AREAS + areas
    return pop["ep_u"][rows, areas] < pop["threshold"][code]


def _open(ep):
    return (ep == Episode.LATENT) | (ep == Episode.WAITING) | (ep == Episode.INTERRUPTED)


def _equal(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def _seek(fn, pop, t=20, patience=6):
    return fn(pop["act"], pop["ep"], pop["ep_transfer"], pop["ep_wait_since"], pop["ep_u"],
              pop["modality"], pop["profile"], pop["registered"], pop["trust_gov"], pop["trust_ext"],
              pop["threshold"], N_PROF, 0.3, 0.6, t, patience)


@pytest.mark.parametrize("seed", [1, 2])
def test_seek_and_request_match_numpy(seed):
    pop = _population(seed)
    a, b = _copy(pop), _copy(pop)
    got = _seek(kernels.seek, a)
    _equal(got, _seek(kernels.seek.py_func, b))
    _equal((a["ep"], a["ep_wait_since"]), (b["ep"], b["ep_wait_since"]))
    # numpy reference (the model's vectorised step 5)
    act, ep = pop["act"], pop["ep"][pop["act"]]
    flat = np.flatnonzero((ep == Episode.LATENT) | ((ep == Episode.INTERRUPTED) & ~pop["ep_transfer"][act]))
    rows, areas = act[flat // N_AREAS], flat % N_AREAS
    national = _national(pop, rows, areas)
    trust = np.where(national, pop["trust_gov"][rows], pop["trust_ext"][rows])
    reg = np.where(pop["registered"][rows], 1.0, 0.6)
    ep, since = pop["ep"].copy(), pop["ep_wait_since"].copy()
    late = np.zeros_like(ep, dtype=bool)
    late[act] = (ep[act] == Episode.WAITING) & (20 - since[act] >= 6)
    ep[late], since[late] = Episode.LATENT, -1
    e = ep[act]
    queued = np.flatnonzero((e == Episode.WAITING) | ((e == Episode.INTERRUPTED) & pop["ep_transfer"][act]))
    queued = act[queued // N_AREAS] * N_AREAS + queued % N_AREAS
    _equal(got, (rows * N_AREAS + areas, 0.3 * reg * trust, queued))
    _equal((a["ep"], a["ep_wait_since"]), (ep, since))
    assert 0 < late.sum() and 0 < len(queued) < late[act].size  # every branch exercised
    # after the draws: latent seekers wait, interrupted ones are matched this month only
    u = np.random.default_rng(seed).random(len(rows)) * 0.5
    queue = kernels.request(a["ep"], a["ep_wait_since"], 20, got[0], got[1], u, got[2])
    _equal((queue,), (kernels.request.py_func(b["ep"], b["ep_wait_since"], 20, got[0], got[1], u, got[2]),))
    _equal((a["ep"], a["ep_wait_since"]), (b["ep"], b["ep_wait_since"]))
    seeks = u < got[1]
    latent = pop["ep"][rows, areas] == Episode.LATENT
    requests = seeks & latent
    ep[rows[requests], areas[requests]] = Episode.WAITING
    since[rows[requests], areas[requests]] = 20
    _equal((a["ep"], a["ep_wait_since"]), (ep, since))
    # the queue: what the model scanned for before (waiting or transferred), then re-seekers
    e = ep[act]
    flat = np.flatnonzero((e == Episode.WAITING) | ((e == Episode.INTERRUPTED) & pop["ep_transfer"][act]))
    again = seeks & ~latent
    want = np.concatenate([act[flat // N_AREAS] * N_AREAS + flat % N_AREAS, rows[again] * N_AREAS + areas[again]])
    _equal((queue,), (want,))
    assert requests.any() and again.any() and (seeks & latent).sum() < latent.sum()


@pytest.mark.parametrize("seed", [4, 5])
def test_deliver_matches_numpy(seed):
    pop = _population(seed)
    act = pop["act"]
    econ = np.array([0.2, 0.5, 0.9])
    consts = (0.05, 0.6, 0.004, 0.02)
    runs = []
    for fn in (kernels.deliver, kernels.deliver.py_func):
        s = _copy(pop)
        load = np.full(N_PROV, 1000, dtype=np.int64)
        done = fn(act, s["ep"], s["ep_provider"], s["ep_referral"], s["ep_months"], s["ep_duration"],
                  s["score"], s["region"], s["quality"], AREA_DIM, econ, *consts, load)
        runs.append((done, load, s["ep"], s["ep_provider"], s["ep_months"], s["score"]))
    _equal(runs[0], runs[1])
    # numpy reference (the model's vectorised step 7)
    gain_c, ref_c, decay, pull = consts
    ep = pop["ep"][act]
    score = pop["score"][act]
    flat = np.flatnonzero(ep == Episode.IN_SERVICE)
    r, a = flat // N_AREAS, flat % N_AREAS
    prov = pop["ep_provider"][act[r], a]
    gain = gain_c * pop["quality"][prov, a] * np.where(pop["ep_referral"][act[r], a], ref_c, 1.0)
    per_area = np.zeros(ep.shape, dtype=np.float32)
    per_area[r, a] = gain
    for k in range(N_AREAS):
        score[:, AREA_DIM[k]] += per_area[:, k]
    unmet_dim = np.zeros((len(act), N_DIMS), dtype=bool)
    for k in range(N_AREAS):
        unmet_dim[:, AREA_DIM[k]] |= _open(ep)[:, k]
    np.subtract(score, np.float64(decay), out=score, where=unmet_dim)
    target = np.take(econ, pop["region"][act])
    score[:, 0] += pull * (target - score[:, 0])
    np.clip(score, 0.0, 1.0, out=score)
    assert np.array_equal(runs[0][5][act], score)
    months = pop["ep_months"][act[r], a] + 1
    finished = months >= pop["ep_duration"][act[r], a]
    assert np.array_equal(runs[0][0], np.unique(act[r][finished]))
    assert np.array_equal(runs[0][1], 1000 - np.bincount(prov[finished], minlength=N_PROV))


@pytest.mark.parametrize("seed", [6, 7])
def test_drops_and_hazard_terms_match_numpy(seed):
    pop = _population(seed)
    act, t, tolerance = pop["act"], 19, 3
    consts = (0.5, 0.3, 2.5, 0.4, 0.7, 0.35)
    cols = ("ep", "ep_interrupted", "ep_transfer", "ep_wait_since")
    runs = []
    for fn in (kernels.drop_and_hazard_terms, kernels.drop_and_hazard_terms.py_func):
        s = _copy(pop)
        out = fn(act, *(s[c] for c in cols), s["score"], s["follow_until"], s["follow_national"], t,
                 tolerance, *consts)
        runs.append((*out[:3], np.array(out[3]), *(s[c] for c in cols)))
    _equal(runs[0], runs[1])
    # numpy reference (the model's vectorised step 8)
    sustainable, unmet_c, score_c, effect, nat_q, ext_q = consts
    ep = pop["ep"][act]
    late = (ep == Episode.INTERRUPTED) & (t - pop["ep_interrupted"][act] + 1 >= tolerance)
    ep[late] = Episode.LATENT
    assert runs[0][3] == late.sum() and np.array_equal(runs[0][4][act], ep)
    score = pop["score"][act]
    n_unmet = _open(ep).sum(axis=1).astype(np.int16)
    composite = (score[:, 0] + score[:, 1] + score[:, 2]) / np.float32(3)
    below = np.maximum(0.0, sustainable - composite)
    following = pop["follow_until"][act] >= t
    quality = np.where(pop["follow_national"][act], nat_q, ext_q)
    idle = ~(_open(ep) | (ep == Episode.IN_SERVICE)).any(axis=1) & (ep == Episode.DONE).any(axis=1)
    _equal(runs[0][:3], (unmet_c * n_unmet + score_c * below, 1 - effect * following * quality, idle))


@pytest.mark.parametrize("seed", [8, 9])
def test_update_trust_and_counts_match_numpy(seed):
    pop = _population(seed)
    act = pop["act"]
    is_national = np.array([False, True, True, False])
    consts = (0.05, 0.1, 0.45)
    runs, counts = [], []
    for fn in (kernels.update_trust, kernels.update_trust.py_func):
        s = _copy(pop)
        counts.append(fn(act, s["ep"], s["ep_provider"], s["ep_u"], s["modality"], s["profile"],
                         s["trust_gov"], is_national, s["threshold"], N_PROF, *consts))
        runs.append(s["trust_gov"])
    _equal(runs[:1], runs[1:])
    learning, reversion, norm = consts
    ep, prov = pop["ep"][act], pop["ep_provider"][act]
    served = (np.isin(prov, np.flatnonzero(is_national))).any(axis=1)
    flat = np.flatnonzero(ep == Episode.WAITING)
    r, a = flat // N_AREAS, flat % N_AREAS
    waiting = np.zeros(len(act), dtype=bool)
    waiting[r[_national(pop, act[r], a)]] = True
    trust = pop["trust_gov"][act]
    delta = learning * (served.astype(np.float32) - (waiting & ~served))
    delta += reversion * (norm - trust)
    assert np.array_equal(runs[0][act], np.clip(trust + delta, 0.0, 1.0))
    assert counts[0] == counts[1] == (int((ep == Episode.WAITING).sum()), int(_open(ep).sum()))


@pytest.mark.parametrize("seed", [10, 11])
def test_match_terms_and_first_eligible_match_numpy(seed):
    pop = _population(seed)
    rng = np.random.default_rng(seed)
    n = len(pop["ep"])
    act = pop["act"]
    e = pop["ep"][act]
    flat = np.flatnonzero((e == Episode.WAITING) | (e == Episode.INTERRUPTED))
    rows, areas = act[flat // N_AREAS], flat % N_AREAS
    queue = rows * N_AREAS + areas
    reach, tie = rng.random(len(queue)), rng.random(len(queue))
    u_case = rng.random(n).astype(np.float32)
    eligible = rng.random((N_MOD, N_PROF)) < 0.6
    case_share = rng.random(N_PROF)
    # severities on both sides of float32(0.7) and equal to it (0.7 itself is not a float32)
    severe_at = 0.7
    severity = rng.choice(np.array([0.2, 0.7, 0.9, np.nextafter(np.float32(0.7), np.float32(0))], np.float32),
                          (n, N_AREAS))
    consts = (0.45, 0.85, 0.37, 0.3)
    args = (queue, reach, tie, pop["ep"], pop["ep_transfer"], pop["ep_u"], pop["ep_interrupted"],
            pop["ep_wait_since"], severity, pop["modality"], pop["profile"], pop["region"], u_case,
            pop["trust_gov"], pop["threshold"], N_MOD, N_PROF, 3, eligible, case_share, *consts,
            np.float32(severe_at))
    got = kernels.match_terms(*args)
    _equal(got, kernels.match_terms.py_func(*args))
    # numpy reference (the model's vectorised step 6)
    rs, rs_ext, handoff, w = consts
    transfer = pop["ep"][rows, areas] == Episode.INTERRUPTED
    warm = transfer & pop["ep_transfer"][rows, areas]
    national = _national(pop, rows, areas) | warm
    mod, prof, reg = pop["modality"][rows], pop["profile"][rows], pop["region"][rows]
    case_national = ~eligible[mod, prof] | (u_case[rows] < case_share[prof])
    p_match = np.where(case_national, rs, rs_ext)
    p_match = np.where(warm, handoff * (1 - w + w * pop["trust_gov"][rows]), p_match)
    since = np.where(transfer, pop["ep_interrupted"][rows, areas], pop["ep_wait_since"][rows, areas])
    keep = np.flatnonzero(reach < p_match)
    cell = Provider.cell_code(areas, reg, mod, prof, 3)  # N_MOD, N_PROF: the model's numbers
    severe = severity[rows, areas] >= severe_at
    _equal(got, (rows[keep], areas[keep], national[keep], cell[keep], severe[keep], transfer[keep],
                 since[keep], tie[keep]))
    assert 0 < len(keep) < len(queue) and warm[keep].any() and severe.any() and not severe.all()
    # a provider picks the first requests it may take, in queue order
    cell = rng.integers(0, 40, len(rows))
    serves = rng.random(40) < 0.7
    severe = rng.random(len(rows)) < 0.3
    by_referral = rng.random(N_AREAS) < 0.5
    taken = rng.random(len(rows)) < 0.2
    for side in (True, False):
        ok = (national == side) & serves[cell] & ~(severe & by_referral[areas]) & ~taken
        for limit in (0, 3, len(rows) + 5):
            pick = kernels.first_eligible(national, side, serves, cell, severe, by_referral, areas, taken, limit)
            assert np.array_equal(pick, np.flatnonzero(ok)[:limit])
            assert np.array_equal(pick, kernels.first_eligible.py_func(
                national, side, serves, cell, severe, by_referral, areas, taken, limit))


def _queue_order_numpy(interrupted, since, tie):
    """The model's queue order before the kernel."""
    return np.argsort((~interrupted) * 1e7 + since + tie, kind="stable")


#: Tie draws that stress the sort: 0, exact repeats, and draws so close to 1 that
#: since + tie rounds up to since + 1 (equal to the next month's key with tie 0).
_TIES = np.array([0.0, 0.25, 0.5, 0.5 + 2**-40, 1 - 2**-53, 1 - 2**-30, 1 - 2**-29, 1 - 2**-28])


def _check_queue_order(interrupted, since, tie):
    want = _queue_order_numpy(interrupted, since, tie)
    assert np.array_equal(kernels.queue_order(interrupted, since, tie), want)
    assert np.array_equal(kernels.queue_order.py_func(interrupted, since, tie), want)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n, months", [(0, 1), (1, 1), (7, 2), (300, 3), (5000, 4), (2000, 40), (50, 100), (40, 1000)])
def test_queue_order_is_numpys_stable_argsort(seed, n, months):
    """Exactly the stable argsort, ties included (few months: buckets; many: the fallback)."""
    rng = np.random.default_rng(seed)
    interrupted = rng.random(n) < 0.2
    since = (60 + rng.integers(0, months, n)).astype(np.int32)
    tie = rng.random(n)
    special = rng.random(n) < 0.5
    tie[special] = rng.choice(_TIES, special.sum())
    _check_queue_order(interrupted, since, tie)


def test_queue_order_known_answer():
    """Interrupted first; a tie draw so close to 1 that the key rounds up to the next month's
    ties with that month's draw 0 and keeps its index order."""
    interrupted = np.array([False, False, True, False, False, True])
    since = np.array([6, 5, 9, 5, 5, 8], dtype=np.int32)
    tie = np.array([0.0, 1 - 2**-53, 0.5, 0.3, 0.3, 0.9])
    assert np.array_equal(kernels.queue_order(interrupted, since, tie), [5, 2, 3, 4, 0, 1])
    _check_queue_order(interrupted, since, tie)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5) | st.integers(0, 2 * 10**7), st.sampled_from(list(_TIES))
                          | st.floats(0, 1, exclude_max=True)), max_size=60))
def test_queue_order_property(items):
    interrupted = np.array([x[0] for x in items], dtype=bool)
    since = np.array([x[1] for x in items], dtype=np.int32)
    tie = np.array([x[2] for x in items], dtype=np.float64)
    _check_queue_order(interrupted, since, tie)


def _assign_numpy(pop, rows, areas, pick, provider, by_referral, external, t, lo, hi, smin, e):
    """The model's vectorised `_assign` before the kernel (Python floats with float32 columns)."""
    r, a = rows[pick], areas[pick]
    pop["ep"][r, a] = Episode.IN_SERVICE
    pop["ep_provider"][r, a] = provider
    pop["ep_referral"][r, a] = by_referral[a]
    pop["ep_external"][r, a] = external
    s = (pop["ep_severity"][r, a] - smin) / max(1 - smin, 1e-9)
    pos = (1 - e) * pop["ep_u_duration"][r, a] + e * np.clip(s, 0.0, 1.0)
    pop["ep_duration"][r, a] = np.minimum(hi, lo + np.floor(pos * (hi - lo + 1))).astype(np.int16)
    first = pop["ep_first_served"][r, a]
    pop["ep_first_served"][r, a] = np.where(first < 0, t, first)
    if external:
        pop["ever_external"][r] = True
    pop["ep_interrupted"][r, a] = -1
    pop["ep_transfer"][r, a] = False


@pytest.mark.parametrize("seed, smin, e, external", [(1, 0.2, 0.3, True), (2, 0.0, 0.0, False),
                                                      (3, 0.35, 1.0, True)])
def test_assign_matches_numpy(seed, smin, e, external):
    pop = _population(seed)
    rng = np.random.default_rng(seed + 10)
    n = len(pop["ep"])
    pop |= {"ep_external": rng.random((n, N_AREAS)) < 0.5,
            "ep_severity": (smin + (1 - smin) * rng.random((n, N_AREAS))).astype(np.float32),
            "ep_u_duration": rng.random((n, N_AREAS)).astype(np.float32),
            "ep_first_served": np.where(rng.random((n, N_AREAS)) < 0.5, -1, 3).astype(np.int32),
            "ever_external": rng.random(n) < 0.2}
    cells = rng.choice(n * N_AREAS, 300, replace=False)  # distinct requests, as in the model
    rows, areas = (cells // N_AREAS).astype(np.int64), (cells % N_AREAS).astype(np.int64)
    pick = np.sort(rng.choice(300, 120, replace=False)).astype(np.int64)
    by_referral = rng.random(N_AREAS) < 0.5
    lo, hi, t = 4, 11, 17
    want = _copy(pop)
    _assign_numpy(want, rows, areas, pick, 2, by_referral, external, t, lo, hi, smin, e)
    for fn in (kernels.assign, kernels.assign.py_func):
        got = _copy(pop)
        taken = np.zeros(300, dtype=bool)
        fn(rows, areas, pick, 2, by_referral, external, t, lo, hi, np.float32(smin),
           np.float32(max(1 - smin, 1e-9)), np.float32(1 - e), np.float32(e), got["ep"],
           got["ep_provider"], got["ep_referral"], got["ep_external"], got["ep_severity"],
           got["ep_u_duration"], got["ep_duration"], got["ep_first_served"], got["ep_interrupted"],
           got["ep_transfer"], got["ever_external"], taken)
        for key in want:
            assert want[key].dtype == got[key].dtype and np.array_equal(want[key], got[key]), key
        assert np.array_equal(np.flatnonzero(taken), pick)
    assert (want["ep_duration"][rows[pick], areas[pick]] >= lo).all()  # the check can fail
    assert (want["ep_duration"][rows[pick], areas[pick]] <= hi).all()


@pytest.mark.parametrize("seed", [1, 2])
def test_close_files_matches_numpy(seed):
    pop = _population(seed)
    rng = np.random.default_rng(seed + 20)
    n, act = len(pop["ep"]), pop["act"]
    arrival = rng.integers(0, 20, n).astype(np.int32)
    leaves = rng.random(len(act)) < 0.2
    idle = rng.random(len(act)) < 0.4
    t, monitoring = 20, 12
    load = np.bincount(pop["ep_provider"][pop["ep"] == Episode.IN_SERVICE], minlength=N_PROV)
    # numpy reference: the model's `_end_files` before the kernel
    want = _copy(pop) | {"status": np.zeros(n, np.int8), "exit_month": np.full(n, -1, np.int32),
                         "load": load.copy()}

    def end(rows, code):
        want["status"][rows] = code
        want["exit_month"][rows] = t
        served = want["ep"][rows] == Episode.IN_SERVICE
        want["load"] -= np.bincount(want["ep_provider"][rows][served], minlength=N_PROV)
        want["ep"][rows] = np.where(served, Episode.ENDED, want["ep"][rows])
        want["ep_provider"][rows] = np.where(served, -1, want["ep_provider"][rows])

    end(act[leaves], 2)
    still = act[~leaves]
    ends = (t - arrival[still] + 1 >= monitoring) | (idle[~leaves] & (pop["follow_until"][still] < t))
    end(still[ends], 1)
    for fn in (kernels.close_files, kernels.close_files.py_func):
        got = _copy(pop) | {"status": np.zeros(n, np.int8), "exit_month": np.full(n, -1, np.int32),
                            "load": load.copy()}
        kept, left, closed = fn(act, leaves, idle, arrival, got["follow_until"], t, monitoring, got["ep"],
                                got["ep_provider"], got["status"], got["exit_month"], got["load"], 2, 1)
        assert np.array_equal(kept, still[~ends]) and left == leaves.sum() and closed == ends.sum()
        for key in ("status", "exit_month", "load", "ep", "ep_provider"):
            assert np.array_equal(want[key], got[key]), key
    assert 0 < ends.sum() < len(still) and leaves.any()  # both branches exercised
