"""The little statistics the experiments report, in one place (the in-node load
generator and the experiments both use them)."""
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


def spread(values):
    """Median, min, max and how many of the measured values (None: not measured)."""
    v = [x for x in values if x is not None]
    if not v:
        return {'median': None, 'min': None, 'max': None, 'measured': 0}
    return {'median': round(statistics.median(v), 3), 'min': min(v), 'max': max(v),
            'measured': len(v)}
