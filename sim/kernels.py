"""Compiled kernels of the monthly phases: one pass over the active returnees' episodes.

The phases of `sim.model` used to test the whole (active x areas) episode array several
times per phase, gather the rows they needed (`np.take`) and scatter the results back; at
fine scales that array traffic was most of a run. Each kernel here does the row-by-row part
of one phase (steps 7-9 share one: `serve_and_assess`) in a single loop over the active
rows, reading and writing the population arrays in place. Random draws and transcendental
functions stay in numpy, in the model (a kernel only bounds them, to find the values that
are needed: `may_leave`), so that every run draws the same numbers in the same order and
gets bit-for-bit the results of the vectorised code these kernels replace
(`benchmarks/check_identical.py`).

Arithmetic follows numpy's types exactly: float32 columns are combined in float32 where
numpy did (a Python float times a float32 array is float32), in float64 where numpy
promoted. The kernels are plain Python loops compiled with numba (`njit`, cached on
disk); with `NUMBA_DISABLE_JIT=1` they run as ordinary, slow, Python, which is how the
tests check the compiled code against its source (`tests/test_kernels.py`).

Episode codes are those of `sim.domain.Episode`; rows are visited in the order of `act`
(ascending) and areas in order, the order of the flat `nonzero` the vectorised code used.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.domain import AREAS, DIMENSIONS, Episode

#: Columns of the per-area arrays. Module constants are compile-time constants to numba:
#: the inner loops over areas are unrolled (about twice as fast as a loop bounded by
#: `ep.shape[1]`).
N_AREAS = len(AREAS)
# `serve_and_assess` writes the score dimensions out one by one, the economic one first.
if DIMENSIONS[:1] != ("economic",) or len(DIMENSIONS) != 3:
    raise ImportError(f"sim.kernels.serve_and_assess expects the score dimensions (economic, two "
                      f"others); sim.domain.DIMENSIONS is {DIMENSIONS}")
#: log2(e) and the powers of two 2^k, k = -1000 ... 1023, for `exp_ceiling`.
LOG2E = 1.4426950408889634
POW2 = np.ldexp(1.0, np.arange(-1000, 1024))

NONE, LATENT, WAITING, IN_SERVICE, DONE, INTERRUPTED, ENDED = (
    int(Episode.NONE), int(Episode.LATENT), int(Episode.WAITING), int(Episode.IN_SERVICE),
    int(Episode.DONE), int(Episode.INTERRUPTED), int(Episode.ENDED))

# Tables indexed by the episode code: looking a state up is cheaper than branching on it
# (the states of neighbouring cells are unpredictable).
_CODES = np.arange(max(Episode) + 1)
#: An unmet need: latent, waiting or interrupted.
OPEN = np.isin(_CODES, [LATENT, WAITING, INTERRUPTED])
#: The same sets, and single codes, as bits of a row's set of codes (bit 1 << code).
OPEN_BITS = (1 << LATENT) | (1 << WAITING) | (1 << INTERRUPTED)
BUSY_BITS = OPEN_BITS | (1 << IN_SERVICE)
WAITING_BIT, IN_SERVICE_BIT, DONE_BIT, INTERRUPTED_BIT = 1 << WAITING, 1 << IN_SERVICE, 1 << DONE, 1 << INTERRUPTED


@njit(cache=True)
def national_channel(u: float, modality: int, profile: int, area: int, n_profiles: int,
                     n_areas: int, threshold: np.ndarray) -> bool:
    """The episode goes to the national channel (see `HandoverModel._national_threshold`)."""
    return u < threshold[(modality * n_profiles + profile) * n_areas + area]


@njit(cache=True)
def seek(act, ep, ep_transfer, ep_wait_since, ep_u, modality, profile, registered, trust_gov,
         trust_ext, threshold, n_profiles, help_seeking, unregistered_factor, t, patience):
    """Step 5 before the draws, in one pass: who may seek help, requests given up, the queue.

    Visits the episodes in flat (row, area) order (flat index row x N_AREAS + area):

    - latent episodes and interrupted ones not transferred under an exit plan may seek
      help; each gets its probability of doing so this month: help_seeking x (1 or
      unregistered_factor) x trust in the episode's channel (government or external), in
      float64 as numpy computed it;
    - waiting requests older than `patience` months go back to latent (not seekers this
      month), in place;
    - the other waiting requests, and interrupted episodes transferred under an exit plan,
      are already in step 6's queue.

    Seekers are returned as flat indices only: whether one is latent or interrupted is
    read from `ep` after the draws (this pass does not change a seeker's state). Flat
    indices halve the output written compared with (rows, areas, latent) arrays.

    Returns:
        seekers (flat, int64), their probability (float64), queued (flat, int64); both
        lists ascending.
    """
    n = len(act) * N_AREAS
    seekers = np.empty(n, np.int64)
    prob = np.empty(n, np.float64)
    queued = np.empty(n, np.int64)
    k = q = 0
    for row in act:
        # Per-row terms in locals: the compiler cannot keep them in registers across the
        # stores below (it cannot prove the arrays do not overlap).
        cell0 = (modality[row] * n_profiles + profile[row]) * N_AREAS
        p_gov = help_seeking * (1.0 if registered[row] else unregistered_factor) * np.float64(trust_gov[row])
        p_ext = help_seeking * (1.0 if registered[row] else unregistered_factor) * np.float64(trust_ext[row])
        for a in range(N_AREAS):
            s = ep[row, a]
            if s == LATENT or (s == INTERRUPTED and not ep_transfer[row, a]):
                seekers[k] = row * N_AREAS + a
                prob[k] = p_gov if ep_u[row, a] < threshold[cell0 + a] else p_ext
                k += 1
            elif s == WAITING and t - ep_wait_since[row, a] >= patience:
                # given up: latent again, but not a seeker before next month
                ep[row, a] = LATENT
                ep_wait_since[row, a] = -1
            elif s == WAITING or s == INTERRUPTED:  # interrupted here: transferred
                queued[q] = row * N_AREAS + a
                q += 1
    return seekers[:k], prob[:k], queued[:q]


@njit(cache=True)
def request(ep, ep_wait_since, t, seekers, prob, u, queued):
    """Step 5 after the draws: seekers with u < prob ask for help; returns step 6's queue.

    A latent seeker starts waiting at month t (in place); an interrupted one (not
    transferred) is matched this month only, without waiting. The queue is what step 6
    used to find by scanning all active episodes after this step: waiting requests and
    transferred interrupted episodes in flat order (`queued` merged with the new
    requests, both ascending), then the interrupted seekers in flat order.

    Returns:
        The queue (flat indices row x N_AREAS + area, int64).
    """
    out = np.empty(len(queued) + len(seekers), np.int64)
    again = np.empty(len(seekers), np.int64)
    k = j = n_again = 0
    for i in range(len(seekers)):
        if not u[i] < prob[i]:
            continue
        f = seekers[i]
        row = f // N_AREAS
        a = f - row * N_AREAS
        if ep[row, a] == LATENT:
            while j < len(queued) and queued[j] < f:
                out[k] = queued[j]
                k += 1
                j += 1
            out[k] = f
            k += 1
            ep[row, a] = WAITING
            ep_wait_since[row, a] = t
        else:
            again[n_again] = f
            n_again += 1
    for i in range(j, len(queued)):
        out[k] = queued[i]
        k += 1
    out[k:k + n_again] = again[:n_again]
    return out[:k + n_again]


@njit(cache=True)
def serve_and_assess(act, ep, ep_provider, ep_referral, ep_months, ep_duration, ep_interrupted,
                     ep_transfer, ep_wait_since, ep_u, score, region, modality, profile, u_follow,
                     follow_until, follow_national, arrival, load, quality, area_dim, econ_target,
                     eligible, follow_share, is_national, threshold, n_profiles, t, follow_months,
                     tolerance, monitoring, service, hazard):
    """Steps 7-9 row by row, in one pass: service, drops, the re-migration hazard's terms
    and the direction of trust; in place.

    The three phases read and write the same episode columns, and nothing between them
    touches another row or draws a number (step 7's completions free places only, and the
    tables below are fixed for the month), so each row can go through all three at once.
    Per active row, in the model's order:

    7. Service (`service` = (gain, referral_factor, unmet_decay, context_pull)): each
       episode in service adds float32(gain x quality x (referral_factor or 1)) to its
       area's score dimension (areas in order); each dimension with an open (latent,
       waiting or interrupted) need loses `unmet_decay` (in float64, rounded to float32);
       the economic score moves toward the region's labour market by `context_pull`;
       scores are clipped to [0, 1]. Episodes in service count one more month; those that
       reach their duration are done and free their provider's place (`load`). A row with
       an episode done starts follow-up until t + follow_months, by the national services
       if the programme does not accept the returnee (`eligible`) or if its `u_follow`
       falls below the national share of follow-up (`follow_share`, per profile).
    8. Drops and hazard terms (`hazard` = (sustainable_score, remigration_unmet,
       remigration_score, follow_up_effect, national_quality, external_quality)):
       interrupted episodes not picked up within `tolerance` months are dropped (back to
       latent). The re-migration hazard is remigration_base x exp(exponent) x
       follow_factor, with exponent = remigration_unmet x (open needs) +
       float32(remigration_score x max(0, sustainable_score - composite score)) and
       follow_factor = 1 - follow_up_effect x following x quality of follow-up (national
       or external); the model takes the exponential and draws (numpy's, as before).
       A file that does not re-migrate closes when the monitoring period is over (t -
       arrival + 1 >= monitoring) or when nothing is open or in service, some episode is
       done and follow-up ended before t.
    9. Trust's direction: +1 when served by a national provider, -1 while waiting on the
       national channel (and not served), else 0; `update_trust` applies it once the
       system has moved (the norm trust reverts to depends on it).

    Types are numpy's: scores and the composite in float32, the rest in float64.

    Returns:
        Per active row: exponent, follow_factor (float64), closes (bool: the file closes
        unless the returnee re-migrates) and the trust step (int8); then the episodes
        dropped, and the waiting and the open episodes of all active rows (after drops).
    """
    gain_c, referral_factor, unmet_decay, context_pull = service
    sustainable, unmet_c, score_c, follow_effect, national_q, external_q = hazard
    n = len(act)
    exponent = np.empty(n, np.float64)
    follow = np.empty(n, np.float64)
    closes = np.empty(n, np.bool_)
    steps = np.empty(n, np.int8)
    sustain32, coef32, three = np.float32(sustainable), np.float32(score_c), np.float32(3)
    zero32, one32 = np.float32(0.0), np.float32(1.0)
    dropped = n_waiting = n_open_all = 0
    for i in range(n):
        row = act[i]
        # The row at a glance, without a branch per episode (their states are unpredictable):
        # the codes present (bit 1 << code), the open needs and the dimensions they touch.
        codes = 0
        n_open = 0
        unmet = 0
        for a in range(N_AREAS):
            s = int(ep[row, a])
            codes |= 1 << s
            is_open = (OPEN_BITS >> s) & 1
            n_open += is_open
            unmet |= is_open << area_dim[a]
        # 7: service, scores, completions and the start of follow-up
        if codes & IN_SERVICE_BIT:
            for a in range(N_AREAS):
                if ep[row, a] == IN_SERVICE:
                    d = area_dim[a]
                    factor = referral_factor if ep_referral[row, a] else 1.0
                    score[row, d] = score[row, d] + np.float32(gain_c * quality[ep_provider[row, a], a] * factor)
        # x - 0.0 is x exactly: the decay is applied without a branch (same values)
        x0 = np.float32(np.float64(score[row, 0]) - unmet_decay * (unmet & 1))
        x1 = np.float32(np.float64(score[row, 1]) - unmet_decay * ((unmet >> 1) & 1))
        x2 = np.float32(np.float64(score[row, 2]) - unmet_decay * ((unmet >> 2) & 1))
        e0 = np.float64(x0)
        x0 = np.float32(e0 + context_pull * (econ_target[region[row]] - e0))
        x0 = min(max(x0, zero32), one32)
        x1 = min(max(x1, zero32), one32)
        x2 = min(max(x2, zero32), one32)
        score[row, 0] = x0
        score[row, 1] = x1
        score[row, 2] = x2
        national = False  # served by a national provider (after completions)
        if codes & IN_SERVICE_BIT:
            codes &= ~IN_SERVICE_BIT
            any_done = False
            for a in range(N_AREAS):
                if ep[row, a] != IN_SERVICE:
                    continue
                ep_months[row, a] += 1
                if ep_months[row, a] >= ep_duration[row, a]:
                    load[ep_provider[row, a]] -= 1
                    ep[row, a] = DONE
                    ep_provider[row, a] = -1
                    any_done = True
                else:
                    codes |= IN_SERVICE_BIT
                    national |= is_national[ep_provider[row, a]]
            if any_done:
                codes |= DONE_BIT
                prof = profile[row]
                follow_national[row] = not eligible[modality[row], prof] or u_follow[row] < follow_share[prof]
                follow_until[row] = t + follow_months
        # 8: drops (interrupted -> latent: still open, so n_open and `codes` hold)
        if codes & INTERRUPTED_BIT:
            for a in range(N_AREAS):
                if ep[row, a] == INTERRUPTED and t - ep_interrupted[row, a] + 1 >= tolerance:
                    ep[row, a] = LATENT
                    ep_interrupted[row, a] = -1
                    ep_transfer[row, a] = False
                    ep_wait_since[row, a] = -1
                    dropped += 1
        # 9: waiting on the national channel
        waiting = False
        if codes & WAITING_BIT:
            cell0 = (modality[row] * n_profiles + profile[row]) * N_AREAS
            for a in range(N_AREAS):
                is_waiting = ep[row, a] == WAITING
                n_waiting += is_waiting
                waiting |= is_waiting & (ep_u[row, a] < threshold[cell0 + a])
        # 8: the hazard's terms
        composite = (x0 + x1 + x2) / three
        below = max(zero32, sustain32 - composite)
        exponent[i] = unmet_c * n_open + np.float64(coef32 * below)
        following = 1.0 if follow_until[row] >= t else 0.0
        quality_f = national_q if follow_national[row] else external_q
        follow[i] = 1 - follow_effect * following * quality_f
        idle = (codes & DONE_BIT) != 0 and (codes & BUSY_BITS) == 0
        closes[i] = t - arrival[row] + 1 >= monitoring or (idle and follow_until[row] < t)
        steps[i] = 1 if national else (-1 if waiting else 0)
        n_open_all += n_open
    return exponent, follow, closes, steps, dropped, n_waiting, n_open_all


@njit(cache=True)
def update_trust(act, steps, trust_gov, learning, reversion, norm):
    """Trust in government (step 9), in place: up by `learning` x step (the direction found
    by `serve_and_assess`, in the order of `act`), then back toward `norm` by `reversion`;
    clipped to [0, 1]. All in float32, as numpy computed it."""
    learning32, reversion32, norm32 = np.float32(learning), np.float32(reversion), np.float32(norm)
    for i in range(len(act)):
        row = act[i]
        trust = trust_gov[row]
        delta = learning32 * np.float32(steps[i])
        delta = delta + reversion32 * (norm32 - trust)
        trust_gov[row] = min(max(trust + delta, np.float32(0.0)), np.float32(1.0))


@njit(cache=True)
def match_terms(queue, reach, tie, ep, ep_transfer, ep_u, ep_interrupted, ep_wait_since, ep_severity,
                modality, profile, region, u_case, trust_gov, threshold, n_modalities, n_profiles,
                n_regions, eligible, case_share, referral_national, referral_external, handoff,
                transfer_trust_weight, severe32):
    """Step 6 after the draws: the requests reached by case management, with what the queue
    order and the providers need.

    A request (flat index row x N_AREAS + area, from `request`) is reached when its draw
    `reach` is below its chance: `referral_national` or `referral_external` depending on the
    case-management channel; for a transfer under an exit plan instead handoff x (1 - w + w x
    trust in government), computed in float32 as numpy did. Interrupted requests wait since
    their interruption, the others since they started waiting.

    Returns:
        For the reached requests, in queue order: rows, areas (int64); national (national
        channel, or a transfer); cell (the index into `Provider.serves_cell`); severe (severity >= severe32,
        compared in float32 as numpy compares a float32 column with a Python float);
        interrupted; since (int32); tie (their `tie` draw).
    """
    n = len(queue)
    rows = np.empty(n, np.int64)
    areas = np.empty(n, np.int64)
    national = np.empty(n, np.bool_)
    cell = np.empty(n, np.int64)
    severe = np.empty(n, np.bool_)
    interrupted = np.empty(n, np.bool_)
    since = np.empty(n, np.int32)
    ties = np.empty(n, np.float64)
    handoff32 = np.float32(handoff)
    w32, rest32 = np.float32(transfer_trust_weight), np.float32(1 - transfer_trust_weight)
    k = 0
    for i in range(n):
        row = queue[i] // N_AREAS
        a = queue[i] - row * N_AREAS
        mod, prof = modality[row], profile[row]
        was_interrupted = ep[row, a] == INTERRUPTED
        warm = was_interrupted and ep_transfer[row, a]  # transferred under an exit plan
        if warm:
            p_match = np.float64(handoff32 * (rest32 + w32 * trust_gov[row]))
        elif not eligible[mod, prof] or u_case[row] < case_share[prof]:  # national case management
            p_match = referral_national
        else:
            p_match = referral_external
        if not reach[i] < p_match:
            continue
        rows[k] = row
        areas[k] = a
        national[k] = national_channel(ep_u[row, a], mod, prof, a, n_profiles, N_AREAS, threshold) or warm
        cell[k] = ((a * n_regions + region[row]) * n_modalities + mod) * n_profiles + prof
        severe[k] = ep_severity[row, a] >= severe32
        interrupted[k] = was_interrupted
        since[k] = ep_interrupted[row, a] if was_interrupted else ep_wait_since[row, a]
        ties[k] = tie[i]
        k += 1
    return rows[:k], areas[:k], national[:k], cell[:k], severe[:k], interrupted[:k], since[:k], ties[:k]


@njit(cache=True)
def queue_order(interrupted, since, tie):
    """The queue order of step 6: np.argsort(key, kind="stable") with key = (~interrupted)
    x 1e7 + since + tie (float64, computed as numpy does), in expected linear time.

    Interrupted requests come first, then the others, each oldest first (`since`), ties in
    the order of the draws `tie` (in [0, 1)). numpy's stable sort is O(n log n); here the
    keys are counted into buckets by their integer part, floor(key) (the key itself, not
    `since`: since + tie can round up to since + 1), and within a bucket into as many
    slots as it has keys by the fractional part; an insertion sort then orders each slot.
    Slots are monotone in the key and filled in index order, and the insertion sort only
    moves keys past strictly greater ones, so equal keys keep their index order, exactly as
    a stable sort. When the months of waiting span too many buckets (or could let the
    two groups overlap) it falls back to a stable merge sort.

    Returns:
        The permutation (int64).
    """
    n = len(tie)
    key = np.empty(n, np.float64)
    for i in range(n):
        key[i] = np.float64(not interrupted[i]) * 1e7 + np.float64(since[i]) + tie[i]
    if n == 0:
        return np.empty(0, np.int64)
    lo = np.int64(since.min())
    width = np.int64(since.max()) - lo + 2  # integer parts since .. since + 1
    if width >= 10**7 or width > n + 64:
        return np.argsort(key, kind="mergesort")
    # buckets: interrupted (0 .. width - 1), then the others (width .. 2 width - 1)
    bucket = np.empty(n, np.int64)
    start = np.zeros(2 * width + 1, np.int64)
    for i in range(n):
        late = not interrupted[i]
        b = np.int64(np.floor(key[i])) - (10**7 if late else 0) - lo + (width if late else 0)
        bucket[i] = b
        start[b + 1] += 1
    for b in range(2 * width):
        start[b + 1] += start[b]
    # slots within a bucket by the fractional part, monotone in the key
    slot = np.empty(n, np.int64)
    fill = np.zeros(n + 1, np.int64)
    for i in range(n):
        b = bucket[i]
        size = start[b + 1] - start[b]
        s = start[b] + min(np.int64((key[i] - np.floor(key[i])) * size), size - 1)
        slot[i] = s
        fill[s + 1] += 1
    for s in range(n):
        fill[s + 1] += fill[s]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[fill[slot[i]]] = i
        fill[slot[i]] += 1
    for j in range(1, n):
        x = order[j]
        kx = key[x]
        i = j - 1
        while i >= 0 and key[order[i]] > kx:
            order[i + 1] = order[i]
            i -= 1
        order[i + 1] = x
    return order


@njit(cache=True)
def first_eligible(national, serves_national, serves_cell, cell, severe, by_referral, areas, taken,
                   limit):
    """Indices of the first `limit` requests (in queue order) a provider can take: not
    taken, on its side (national or external channel), a cell it serves, and not a severe
    need if it works by referral in that area."""
    out = np.empty(min(limit, len(cell)), np.int64)
    k = 0
    for i in range(len(cell)):
        if k == len(out):
            break
        if (taken[i] or national[i] != serves_national or not serves_cell[cell[i]]
                or (severe[i] and by_referral[areas[i]])):
            continue
        out[k] = i
        k += 1
    return out[:k]


@njit(cache=True)
def assign(rows, areas, pick, provider, by_referral, external, t, lo, hi, smin32, span32,
           keep32, e32, ep, ep_provider, ep_referral, ep_external, ep_severity, ep_u_duration,
           ep_duration, ep_first_served, ep_interrupted, ep_transfer, ever_external, taken):
    """Step 6: provider `provider` takes the requests `pick` (indices into rows, areas), in place.

    Each episode goes into service with this provider; its length in months is
    min(hi, lo + floor(pos x (hi - lo + 1))) with pos = keep x u_duration + e x
    clip((severity - smin) / span, 0, 1), all in float32 as numpy computed it (the
    constants arrive as float32: `keep` = 1 - e). A first service is dated t.
    """
    width32 = np.float32(hi - lo + 1)
    lo32, hi32 = np.float32(lo), np.float32(hi)
    zero32, one32 = np.float32(0.0), np.float32(1.0)
    for i in pick:
        row, a = rows[i], areas[i]
        ep[row, a] = IN_SERVICE
        ep_provider[row, a] = provider
        ep_referral[row, a] = by_referral[a]
        ep_external[row, a] = external
        s = (ep_severity[row, a] - smin32) / span32
        pos = keep32 * ep_u_duration[row, a] + e32 * min(max(s, zero32), one32)
        ep_duration[row, a] = np.int16(min(hi32, lo32 + np.floor(pos * width32)))
        if ep_first_served[row, a] < 0:
            ep_first_served[row, a] = t
        if external:
            ever_external[row] = True
        ep_interrupted[row, a] = -1
        ep_transfer[row, a] = False
        taken[i] = True


@njit(cache=True)
def exp_ceiling(x):
    """An upper bound of exp(x), at most 8.7% above it (+inf for NaN or near overflow).

    With x log2(e) = k + f (k whole, 0 <= f < 1), exp(x) = 2^k 2^f <= 2^k (1 + f): on [0, 1]
    the chord 1 + f lies above the convex 2^f. Rounding errs by less than 1e-12 relative.
    """
    y = x * LOG2E
    if not y < 1023.0:  # exp(x) overflows, or x is NaN
        return np.inf
    y = max(y, -1000.0)  # below, exp(x) < 2^-1000
    whole = int(y)  # truncated: one less below zero
    whole -= whole > y
    return POW2[whole + 1000] * (1.0 + (y - whole))


@njit(cache=True)
def may_leave(u, exponent, follow, base):
    """Step 8: the rows whose re-migration draw needs the exact hazard (indices, ascending).

    A returnee leaves when u < 1 - exp(-hazard), hazard = base x exp(exponent) x follow,
    computed with numpy's exponentials. As 1 - exp(-h) <= h, a draw u >= base x
    `exp_ceiling`(exponent) x follow stays whatever the exact values, given margins (1e-9
    relative, 1e-12 absolute) far above the few units in the last place by which numpy's
    exponentials and this arithmetic can err. The rows left are about the share that
    leaves; a negative base or factor, or a value that is not finite, makes a row one.
    """
    rows = np.empty(len(u), np.int64)
    k = 0
    for i in range(len(u)):
        ceiling = base * exp_ceiling(exponent[i]) * follow[i] * (1.0 + 1e-9) + 1e-12
        if not (base >= 0.0 and follow[i] >= 0.0 and u[i] >= ceiling):
            rows[k] = i
            k += 1
    return rows[:k]


@njit(cache=True)
def close_files(act, leaves, closes, steps, t, ep, ep_provider, status, exit_month, load, remigrated,
                closed):
    """Step 8 after the draws: files end, in place; returns the rows still active.

    A returnee who `leaves` re-migrates; one who stays is closed if the file `closes`
    (`serve_and_assess`). An ended file's episodes in service end and free their
    provider's place (`load`).

    Returns:
        The active rows that stay (ascending) and their trust `steps`; the numbers
        re-migrated and closed; the waiting and the open episodes of the files ended
        (taken off the month's counts).
    """
    n = len(act)
    keep = np.empty(n, np.int64)
    kept_steps = np.empty(n, np.int8)
    n_keep = n_left = n_closed = waiting_gone = open_gone = 0
    for i in range(n):
        row = act[i]
        if leaves[i]:
            code = remigrated
            n_left += 1
        elif closes[i]:
            code = closed
            n_closed += 1
        else:
            keep[n_keep] = row
            kept_steps[n_keep] = steps[i]
            n_keep += 1
            continue
        status[row] = code
        exit_month[row] = t
        for a in range(N_AREAS):
            s = ep[row, a]
            waiting_gone += s == WAITING
            open_gone += OPEN[s]
            if s == IN_SERVICE:
                load[ep_provider[row, a]] -= 1
                ep[row, a] = ENDED
                ep_provider[row, a] = -1
    return keep[:n_keep], kept_steps[:n_keep], n_left, n_closed, waiting_gone, open_gone
