"""The little statistics the experiments report, in one place (the in-node load
generator and the experiments both use them)."""
import math
import statistics


def percentile(sorted_values, q):
    """Nearest-rank q-th percentile of an ascending list (None if empty): the smallest
    value with at least q % of the values at or below it."""
    if not sorted_values:
        return None
    n = len(sorted_values)
    k = -(-q * n // 100)            # ceil(q/100 * n) without float error for integer q
    return sorted_values[max(0, min(n - 1, int(k) - 1))]


def scaling_efficiency(rps):
    """{servers: rps(N) / (N * rps(1))}: 1.0 is perfect scale-out."""
    if 1 not in rps or not rps[1]:
        raise ValueError('scaling efficiency needs the throughput with one real server')
    return {n: round(r / (n * rps[1]), 3) for n, r in sorted(rps.items())}


def quartiles(sorted_values):
    """(q1, q3) of an ascending list, linear interpolation between order statistics
    (numpy's default, 'inclusive'): one value gives (v, v)."""
    n = len(sorted_values)
    if n == 1:
        return sorted_values[0], sorted_values[0]
    q1, _, q3 = statistics.quantiles(sorted_values, n=4, method='inclusive')
    return q1, q3


def median_ci(sorted_values, level=0.95):
    """A distribution-free confidence interval for the median from order statistics:
    [x(k), x(n+1-k)] with the largest k whose binomial tail P(B <= k-1) (B ~ Bin(n, 1/2))
    is at most (1 - level) / 2. It holds whatever the distribution (failover times are
    skewed, not normal). (low, high, coverage); None below 6 values, where even
    [min, max] covers less than 95 % (5 values: 93.75 %)."""
    n = len(sorted_values)
    tail, k, below = 0.0, 0, 0.0
    for j in range(n):
        tail += math.comb(n, j) / 2 ** n        # P(B <= j)
        if tail > (1 - level) / 2:
            break
        k, below = j + 1, tail
    if k == 0:
        return None
    return sorted_values[k - 1], sorted_values[n - k], round(1 - 2 * below, 4)


def spread(values, places=3):
    """How a measurement spread over trials or repeats: median, quartiles and IQR, min,
    max, the median's 95 % confidence interval (median_ci) and how many were measured
    (None: not measured, left out)."""
    v = sorted(x for x in values if x is not None)
    out = {'median': None, 'q1': None, 'q3': None, 'iqr': None, 'min': None, 'max': None,
           'ci95': None, 'ci95_coverage': None, 'measured': len(v)}
    if not v:
        return out
    q1, q3 = quartiles(v)
    r = lambda x: round(x, places)     # noqa: E731
    out.update(median=r(statistics.median(v)), q1=r(q1), q3=r(q3), iqr=r(q3 - q1),
               min=v[0], max=v[-1])
    ci = median_ci(v)
    if ci:
        out.update(ci95=[ci[0], ci[1]], ci95_coverage=ci[2])
    return out


def compare(a, b):
    """Two independent sets of trials (None: not measured): in how many of all the
    pairs (a trial of a, a trial of b) a was below b, and whether every trial of a
    was below every trial of b (the sets do not overlap)."""
    a, b = [x for x in a if x is not None], [y for y in b if y is not None]
    return {'below': sum(x < y for x in a for y in b), 'pairs': len(a) * len(b),
            'all_below': bool(a and b) and max(a) < min(b)}


# numbers that are not measurements: the trial's index, instants (epoch seconds)
NOT_METRICS = {'trial', 'power_off', 'power_on'}


def numeric(entry, skip=()):
    """The measured numbers of a dict (booleans, NOT_METRICS and skip left out)."""
    return {k: v for k, v in entry.items() if isinstance(v, (int, float))
            and not isinstance(v, bool) and k not in NOT_METRICS and k not in skip}


def spreads(entries, key='cell', keep_degraded=False, skip=()):
    """{entry[key]: {'trials', 'passed', 'degraded', 'used', 'metrics': {name: spread}}}
    over the entries used: those that passed (a trial whose checks failed measured
    nothing the run can vouch for) and, unless keep_degraded, were not degraded (the
    machine much slower while measuring, topo/engine/fidelity.py). A metric measured in
    any entry is in every cell (measured 0 times where it never was); skip: what the
    cells are labelled with (a sweep's setting), not what they measured."""
    groups, names = {}, []
    for e in entries:
        groups.setdefault(e[key], []).append(e)
        names += [k for k in numeric(e, skip) if k not in names]
    out = {}
    for name, group in groups.items():
        good = [e for e in group if e.get('passed')
                and (keep_degraded or not e.get('degraded'))]
        out[name] = {'trials': len(group), 'passed': sum(bool(e.get('passed')) for e in group),
                     'degraded': sum(bool(e.get('degraded')) for e in group),
                     'used': len(good), 'metrics': {m: dict(spread([e.get(m) for e in good]),
                                         values=[e.get(m) for e in good]) for m in names}}
    return out
