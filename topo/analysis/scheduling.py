"""The maths of IPVS's schedulers rr, wrr, lc and wlc (the paper's section 2.2):
what share of short requests and of long-lived connections each real server
should get, and the checks of what the kernel did; and of the hashing schedulers sh
and mh: every client address always on one server, the addresses spread by weight.
No cluster here: unit-tested on hand-made inputs, used by the schedulers experiment
(topo/engine/steps/schedulers.py).
"""
import math
from functools import reduce

from topo.network.config import HASHING, SCHEDULERS

# the schedulers that look at the weights' values (sh and mh fill their tables by weight)
WEIGHTED = ('wrr', 'wlc') + HASHING
COUNTING = ('lc', 'wlc')            # the schedulers that look at the connection counters


def _gcd(values):
    return reduce(math.gcd, values, 0)


def _lcm(a, b):
    return a * b // math.gcd(a, b)


def in_service(weights):
    """Names of the servers IPVS schedules to (weight > 0), in order."""
    return [s for s, w in weights.items() if w > 0]


def wrr_round(weights):
    """IPVS wrr's cycle: {server: picks per cycle}; the cycle has sum(w)/gcd(w) picks.

    The kernel lowers its current weight by gcd(w) from max(w) down to gcd(w),
    passing over the servers whose weight reaches it: a server with weight w
    is picked w/gcd times per cycle (2, 3, 4 of 9 for the weights 2, 3, 4).
    """
    g = _gcd([w for w in weights.values() if w > 0])
    if not g:
        raise ValueError('no server has a weight above 0')
    return {s: w // g for s, w in weights.items()}


def round_size(weights):
    """Requests per round: whole wrr cycles that are also whole rr turns."""
    return _lcm(sum(wrr_round(weights).values()), len(in_service(weights)))


def expected_share(scheduler, weights):
    """Share of short requests each server should get, starting from 0 counters.

    rr and lc: equal shares among the servers in service (lc: every short
    connection is inactive again before the next is scheduled, so the least
    InActConn goes round like rr); wrr and wlc: proportional to the weights.
    """
    if scheduler not in SCHEDULERS:
        raise ValueError('unknown scheduler %r' % scheduler)
    live = in_service(weights)
    if not live:
        raise ValueError('no server has a weight above 0')
    if scheduler in WEIGHTED:
        total = sum(weights[s] for s in live)
        return {s: (weights[s] / total if s in live else 0.0) for s in weights}
    return {s: (1 / len(live) if s in live else 0.0) for s in weights}


def max_deviation(counts, share):
    """Largest |observed - expected| over the servers, in requests (0: exact)."""
    total = sum(counts.get(s, 0) for s in share)
    return max(abs(counts.get(s, 0) - share[s] * total) for s in share)


def count(names, servers):
    """{server: how many of names} for every server (0 included)."""
    out = {s: 0 for s in servers}
    for n in names:
        if n in out:
            out[n] += 1
    return out


def rounds(sequence, servers, size):
    """Counts per server in each consecutive whole round of size requests."""
    return [count(sequence[i:i + size], servers)
            for i in range(0, len(sequence) - size + 1, size)]


def rounds_exact(sequence, share, size):
    """True when every whole round gives each server exactly share * size requests."""
    per_round = rounds(sequence, list(share), size)
    want = {s: share[s] * size for s in share}
    return bool(per_round) and len(sequence) % size == 0 and all(
        all(abs(r[s] - want[s]) < 1e-9 for s in share) for r in per_round)


def water_fill(start, weights, extra):
    """Where `extra` new connections end up when each goes to the least loaded server.

    Least loaded: smallest connections/weight among the servers in service
    (lc: pass weight 1 for each). Real-valued: the level c with
    sum(max(start_i, c * w_i)) = sum(start) + extra; servers already above
    it keep what they have. An integer scheduler lands within 1 of it.
    """
    live = in_service(weights)
    if not live:
        raise ValueError('no server has a weight above 0')
    target = sum(start[s] for s in live) + extra

    def filled(c):
        return sum(max(start[s], c * weights[s]) for s in live)
    lo, hi = 0.0, max(start[s] / weights[s] for s in live) + extra / min(weights[s] for s in live) + 1
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if filled(mid) < target else (lo, mid)
    c = (lo + hi) / 2
    return {s: (round(max(start[s], c * weights[s]), 6) if s in live else start[s]) for s in start}


def expected_held(scheduler, weights, preload, new):
    """ActiveConn per server once `new` long-lived connections join `preload` held ones.

    rr and wrr ignore the connections already there (new ones split equally,
    or by weight); lc equalizes ActiveConn, wlc makes ActiveConn/weight equal,
    as far as the new connections allow. Returns (active, new per server).
    """
    if scheduler in COUNTING:
        w = weights if scheduler == 'wlc' else {s: (1 if weights[s] > 0 else 0) for s in weights}
        active = water_fill(preload, w, new)
    else:
        share = expected_share(scheduler, weights)
        active = {s: round(preload[s] + share[s] * new, 6) for s in weights}
    return active, {s: round(active[s] - preload[s], 6) for s in weights}


def held_deviation(observed, expected):
    return max(abs(observed.get(s, 0) - expected[s]) for s in expected)


def tolerance(scheduler, weights, expected):
    """How far (in connections) a correct scheduler may land from `expected`.

    0 when every expected count is a whole number: whole rounds for rr and
    wrr, and for lc/wlc a level the greedy pick reaches exactly (a server can
    only pass its share once every other server has reached its own). Else
    the integer rounding: under 1 for rr and lc; for wlc, whose pick is the
    least ActiveConn/weight, a heavy server may lag by up to
    servers * weight / weight sum connections.
    """
    if all(abs(v - round(v)) < 1e-6 for v in expected.values()):
        return 0
    live = in_service(weights)
    if scheduler == 'wlc':
        return max(1.0, len(live) * max(weights[s] for s in live) / sum(weights[s] for s in live))
    return 1.0


def within(deviation, tol):
    return deviation < 1e-9 if tol == 0 else deviation < tol


def checks_for(sched, r):
    """The pass/fail checks of one scheduler's results."""
    short_tol = (0 if sched in ('rr', 'wrr') or not r['expired_during_phase']
                 else tolerance(sched, r['weights'], r['expected_answers']))
    c = {
        'no_failed_requests': r['failed'] == 0 and r['held_failed'] == 0,
        # rr, wrr: the counters play no part, so every round must be exact; lc,
        # wlc: exact too from drained counters while no connection expires
        # during the phase, else within the integer granularity
        'short_share': within(r['max_deviation'], short_tol) and (r['rounds_exact']
                                                                  or short_tol > 0),
        'preload_on_one_server': r['preload_answers'] == r['preload'],
        'all_held_active': sum(r['active_peak'].values()) == sum(r['preload'].values()) + r['new'],
        # the client's view (X-Served-By) and the director's (ActiveConn) agree
        'client_matches_ipvsadm': all(
            r['held_answers'][s] + r['preload_answers'][s] == r['active_snapshot'][s]
            for s in r['active_snapshot']),
        'held_spread': within(r['held_max_deviation'], r['held_tolerance']),
    }
    if not r['expired_during_phase']:
        # every finished short connection is one InActConn (figure 6's view)
        c['short_inactive_matches_answers'] = r['inactive_after'] == r['answers']
    return c


def scheduler_numbers(result):
    """Each scheduler's measured numbers, prefixed with its name (a trial's entry)."""
    from topo.stats import numeric
    return {'%s_%s' % (sched, k): v for sched, r in result.measured.schedulers.items()
            for k, v in numeric(r).items()}


# how far a hashing scheduler's count of client addresses per server may stray from
# its weight's share, in standard deviations of a binomial draw (the hash spreads the
# addresses like a random draw: sh by a multiplicative hash into 256 buckets, mh by
# siphash into a Maglev table of 4093 slots)
SPREAD_SIGMAS = 4


def by_source(replies):
    """{client address: [server or None per request, in order]}."""
    out = {}
    for r in replies:
        out.setdefault(r['source'], []).append(r.get('server') if r.get('ok') else None)
    return out


def hashing_result(replies, weights):
    """A hashing scheduler's numbers from requests made by many client addresses, each
    several times: which addresses kept their server (sticky), how the addresses spread."""
    servers = list(weights)
    seen = by_source(replies)
    sticky = {src: got[0] for src, got in seen.items()
              if got and got[0] is not None and all(g == got[0] for g in got)}
    moved = sorted(src for src, got in seen.items() if None not in got and src not in sticky)
    sources = count(sticky.values(), servers)
    n = len(seen)
    share = expected_share('mh', weights)
    expected = {s: round(share[s] * n, 3) for s in servers}
    tol = {s: round(SPREAD_SIGMAS * math.sqrt(n * share[s] * (1 - share[s])) + 1, 3)
           for s in servers}
    answers = count([r.get('server') for r in replies if r.get('ok')], servers)
    return {
        'requests': len(replies), 'failed': sum(1 for r in replies if not r.get('ok')),
        'sources': n, 'passes': max((len(g) for g in seen.values()), default=0),
        'answers': answers, 'expected_share': {s: round(v, 6) for s, v in share.items()},
        'expected_answers': {s: round(share[s] * len(replies), 3) for s in servers},
        'sources_per_server': sources, 'expected_sources': expected,
        'sources_tolerance': tol, 'sticky_sources': len(sticky), 'moved_sources': moved[:20],
        'moved_count': len(moved),
    }


def hashing_checks(r):
    """The pass/fail checks of a hashing scheduler's results."""
    return {
        'no_failed_requests': r['failed'] == 0,
        # the promise of hashing: a client address keeps its server, request after request
        'every_source_sticky': r['sticky_sources'] == r['sources'] and r['passes'] >= 2,
        # the addresses spread by weight, as a random draw would (a server of weight 0
        # gets none)
        'sources_spread_by_weight': all(
            abs(r['sources_per_server'][s] - r['expected_sources'][s]) <= r['sources_tolerance'][s]
            for s in r['expected_sources']),
    }
