"""The compiled kernels (sim/kernels.py) against their Python source and against the
vectorised numpy code they replaced, bit for bit, on random populations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import kernels
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
        "u_follow": rng.random(n).astype(np.float32),
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
    want = np.concatenate([act[flat // N_AREAS] * N_AREAS + flat % N_AREAS,
                           rows[again] * N_AREAS + areas[again]])
    _equal((queue,), (want,))
    assert requests.any() and again.any() and (seeks & latent).sum() < latent.sum()


def _deliver_numpy(s, act, econ, consts, load):
    """The model's vectorised step 7 before the kernels, in place; returns the rows with an
    episode done."""
    gain_c, ref_c, decay, pull = consts
    ep = s["ep"][act]
    score = s["score"][act]
    flat = np.flatnonzero(ep == Episode.IN_SERVICE)
    r, a = flat // N_AREAS, flat % N_AREAS
    rows = act[r]
    prov = s["ep_provider"][rows, a]
    gain = gain_c * s["quality"][prov, a] * np.where(s["ep_referral"][rows, a], ref_c, 1.0)
    per_area = np.zeros(ep.shape, dtype=np.float32)
    per_area[r, a] = gain
    for k in range(N_AREAS):
        score[:, AREA_DIM[k]] += per_area[:, k]
    unmet_dim = np.zeros((len(act), N_DIMS), dtype=bool)
    for k in range(N_AREAS):
        unmet_dim[:, AREA_DIM[k]] |= _open(ep)[:, k]
    np.subtract(score, np.float64(decay), out=score, where=unmet_dim)
    target = np.take(econ, s["region"][act])
    score[:, 0] += pull * (target - score[:, 0])
    np.clip(score, 0.0, 1.0, out=score)
    s["score"][act] = score
    months = s["ep_months"][rows, a] + 1
    s["ep_months"][rows, a] = months
    finished = months >= s["ep_duration"][rows, a]
    load -= np.bincount(prov[finished], minlength=N_PROV)
    s["ep"][rows[finished], a[finished]] = Episode.DONE
    s["ep_provider"][rows[finished], a[finished]] = -1
    return np.unique(rows[finished])


def _drops_and_hazard_terms_numpy(s, act, t, tolerance, consts):
    """The model's vectorised step 8 before the draws (drops in place); returns exponent,
    follow factor, idle and the number dropped."""
    sustainable, unmet_c, score_c, effect, nat_q, ext_q = consts
    ep = s["ep"][act]
    late = (ep == Episode.INTERRUPTED) & (t - s["ep_interrupted"][act] + 1 >= tolerance)
    ep[late] = Episode.LATENT
    r, a = np.nonzero(late)
    s["ep"][act[r], a] = Episode.LATENT
    s["ep_interrupted"][act[r], a] = -1
    s["ep_transfer"][act[r], a] = False
    s["ep_wait_since"][act[r], a] = -1
    score = s["score"][act]
    n_unmet = _open(ep).sum(axis=1).astype(np.int16)
    composite = (score[:, 0] + score[:, 1] + score[:, 2]) / np.float32(3)
    below = np.maximum(0.0, sustainable - composite)
    following = s["follow_until"][act] >= t
    quality = np.where(s["follow_national"][act], nat_q, ext_q)
    idle = ~(_open(ep) | (ep == Episode.IN_SERVICE)).any(axis=1) & (ep == Episode.DONE).any(axis=1)
    return unmet_c * n_unmet + score_c * below, 1 - effect * following * quality, idle, int(late.sum())


def _serve_and_assess(fn, s, act, t, eligible, follow_share, is_national, econ, load, service, hazard):
    return fn(act, s["ep"], s["ep_provider"], s["ep_referral"], s["ep_months"], s["ep_duration"],
              s["ep_interrupted"], s["ep_transfer"], s["ep_wait_since"], s["ep_u"], s["score"],
              s["region"], s["modality"], s["profile"], s["u_follow"], s["follow_until"],
              s["follow_national"], s["arrival"], load, s["quality"], AREA_DIM, econ, eligible,
              follow_share, is_national, s["threshold"], N_PROF, t, 4, 3, 12, service, hazard)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_serve_and_assess_matches_numpy(seed):
    """One pass of steps 7-9 equals the vectorised steps run one after the other: service,
    follow-up start, drops and hazard terms, closure flags, trust's direction and the
    month's counts."""
    pop = _population(seed)
    rng = np.random.default_rng(seed + 30)
    pop["arrival"] = rng.integers(0, 20, len(pop["ep"])).astype(np.int32)
    idle_rows = rng.choice(pop["act"], 40, replace=False)  # nothing open or in service, one done
    pop["ep"][idle_rows] = Episode.NONE
    pop["ep"][idle_rows, 2] = Episode.DONE
    pop["ep_provider"][idle_rows] = -1
    act, t = pop["act"], 19
    eligible = rng.random((N_MOD, N_PROF)) < 0.6
    follow_share = rng.random(N_PROF)
    is_national = np.array([False, True, True, False])
    econ = np.array([0.2, 0.5, 0.9])
    service = (0.05, 0.6, 0.004, 0.02)
    hazard = (0.5, 0.3, 2.5, 0.4, 0.7, 0.35)
    runs = []
    for fn in (kernels.serve_and_assess, kernels.serve_and_assess.py_func):
        s = _copy(pop)
        load = np.full(N_PROV, 1000, dtype=np.int64)
        out = _serve_and_assess(fn, s, act, t, eligible, follow_share, is_national, econ, load, service, hazard)
        runs.append((out, load, s))
    _equal(runs[0][0][:4], runs[1][0][:4])
    assert runs[0][0][4:] == runs[1][0][4:] and np.array_equal(runs[0][1], runs[1][1])
    for key in pop:
        assert np.array_equal(runs[0][2][key], runs[1][2][key]), key
    # numpy reference: the model's vectorised steps 7, 8 (before the draws) and 9
    want = _copy(pop)
    load = np.full(N_PROV, 1000, dtype=np.int64)
    done = _deliver_numpy(want, act, econ, service, load)
    prof = want["profile"][done]
    want["follow_national"][done] = ~eligible[want["modality"][done], prof] | (want["u_follow"][done] < follow_share[prof])
    want["follow_until"][done] = t + 4
    exponent, follow, idle, dropped = _drops_and_hazard_terms_numpy(want, act, t, 3, hazard)
    ep, prov = want["ep"][act], want["ep_provider"][act]
    served = np.isin(prov, np.flatnonzero(is_national)).any(axis=1)
    flat = np.flatnonzero(ep == Episode.WAITING)
    r, a = flat // N_AREAS, flat % N_AREAS
    waiting = np.zeros(len(act), dtype=bool)
    waiting[r[_national(want, act[r], a)]] = True
    steps = np.where(served, 1, np.where(waiting, -1, 0)).astype(np.int8)
    closes = (t - want["arrival"][act] + 1 >= 12) | (idle & (want["follow_until"][act] < t))
    out, got_load, got = runs[0]
    _equal(out[:4], (exponent, follow, closes, steps))
    assert out[4:] == (dropped, int((ep == Episode.WAITING).sum()), int(_open(ep).sum()))
    assert np.array_equal(got_load, load)
    for key in pop:
        assert np.array_equal(got[key], want[key]), key
    # every branch is exercised
    assert len(done) and dropped and (steps == 1).any() and (steps == -1).any()
    assert (idle & (want["follow_until"][act] < t) & (t - want["arrival"][act] + 1 < 12)).any()


@pytest.mark.parametrize("seed", [8, 9])
def test_update_trust_matches_numpy(seed):
    pop = _population(seed)
    act = pop["act"]
    steps = np.random.default_rng(seed).integers(-1, 2, len(act)).astype(np.int8)
    consts = (0.05, 0.1, 0.45)
    runs = []
    for fn in (kernels.update_trust, kernels.update_trust.py_func):
        s = _copy(pop)
        fn(act, steps, s["trust_gov"], *consts)
        runs.append(s["trust_gov"])
    _equal(runs[:1], runs[1:])
    # numpy reference: the model's step 9 before the kernels (step as float32)
    learning, reversion, norm = consts
    trust = pop["trust_gov"][act]
    delta = learning * steps.astype(np.float32)
    delta += reversion * (norm - trust)
    want = pop["trust_gov"].copy()
    want[act] = np.clip(trust + delta, 0.0, 1.0)
    _equal(runs[:1], [want])


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
    cell = np.ravel_multi_index((areas, reg, mod, prof), (N_AREAS, 3, N_MOD, N_PROF))  # serves_cell's layout
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
@pytest.mark.parametrize("n, months", [(0, 1), (1, 1), (7, 2), (300, 3), (5000, 4), (2000, 40),
                                       (50, 100), (40, 1000)])
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
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5) | st.integers(0, 2 * 10**7),
                          st.sampled_from(list(_TIES)) | st.floats(0, 1, exclude_max=True)),
                max_size=60))
def test_queue_order_property(items):
    """Any mix of groups, months (including the fallback's wide spans) and tie draws."""
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
    n, act, t = len(pop["ep"]), pop["act"], 20
    leaves = rng.random(len(act)) < 0.2
    closes = rng.random(len(act)) < 0.3
    steps = rng.integers(-1, 2, len(act)).astype(np.int8)
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
    end(act[~leaves & closes], 1)
    gone = leaves | closes
    ep = pop["ep"][act]
    for fn in (kernels.close_files, kernels.close_files.py_func):
        got = _copy(pop) | {"status": np.zeros(n, np.int8), "exit_month": np.full(n, -1, np.int32),
                            "load": load.copy()}
        kept, kept_steps, left, closed, waiting_gone, open_gone = fn(
            act, leaves, closes, steps, t, got["ep"], got["ep_provider"], got["status"],
            got["exit_month"], got["load"], 2, 1)
        assert np.array_equal(kept, act[~gone]) and left == leaves.sum() and closed == (~leaves & closes).sum()
        _equal([kept_steps], [steps[~gone]])
        assert waiting_gone == (ep[gone] == Episode.WAITING).sum() and open_gone == _open(ep[gone]).sum()
        for key in ("status", "exit_month", "load", "ep", "ep_provider"):
            assert np.array_equal(want[key], got[key]), key
    assert (leaves & closes).any() and (~leaves & closes).any()  # both branches exercised


def test_exp_ceiling_bounds_numpy_exp():
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-800, 800, 40_001), rng.standard_normal(20_000) * 4,
                        [0.0, -0.0, 709.7, 709.8, 1e308, -1e308, np.inf, -np.inf]])
    with np.errstate(over="ignore"):
        exact = np.exp(x)
    bound = np.array([kernels.exp_ceiling(v) for v in x])
    assert (bound >= exact).all()
    normal = (x > -600) & (x < 600)
    assert (bound[normal] <= exact[normal] * 1.087).all()  # tight: the chord's 8.7% at most
    assert np.isinf(kernels.exp_ceiling(np.nan))
    assert all(kernels.exp_ceiling.py_func(v) == b for v, b in zip(x[::97], bound[::97]))


@pytest.mark.parametrize("seed, base", [(1, 0.02), (2, 0.3), (3, 0.0), (4, -0.01)])
def test_may_leave_finds_every_leaver(seed, base):
    """The draws outside `may_leave`'s rows never leave by the full numpy computation of the
    model before the screen; the rows it keeps are few (about the leaving share)."""
    rng = np.random.default_rng(seed)
    n = 20_000
    exponent = rng.normal(0.5, 1.5, n)
    follow = np.where(rng.random(n) < 0.02, -0.5, rng.random(n))
    exponent[:3] = (np.nan, 800.0, -800.0)
    with np.errstate(over="ignore", invalid="ignore"):
        hazard = base * np.exp(exponent)
        hazard *= follow
        p = 1 - np.exp(-hazard)
    u = rng.random(n)
    # draws right at the exact probability, one unit in the last place either side
    u[3:1003] = np.nextafter(np.abs(p[3:1003]), rng.choice([-1.0, 2.0], 1000))
    leaves = u < p
    for fn in (kernels.may_leave, kernels.may_leave.py_func):
        rows = fn(u, exponent, follow, base)
        screened = np.ones(n, dtype=bool)
        screened[rows] = False
        assert not leaves[screened].any()
        assert np.array_equal(rows, np.unique(rows))
    if base > 0:  # the screen is tight: few rows beyond the leavers and the draws set at p
        assert leaves.sum() > 100 and len(rows) < 2 * leaves.sum() + 1200
    elif base == 0:  # no hazard: only a negative factor or draw, or a NaN, is left
        assert np.array_equal(rows, np.flatnonzero((follow < 0) | (u < 1e-12) | ~(exponent < 700)))
    else:  # a negative base is never screened
        assert len(rows) == n
