"""Availability under a random fault schedule (experiments/availability.py), from a
run's data alone: the service's downtime (stretches of failed probes), each fault's
share of it (while the fault was in place, and after its repair until the next
fault), the availability and its nines, and an extrapolation to realistic fault and
repair rates.

Extrapolation: a fault whose outage lasted through its whole repair (the service
down at the clear, after at least 90 % of the repair) waits for the repair, and
costs the real repair time plus what followed the clear (a boot, a failback); any
other fault costs what it cost here, whatever the repair time (a takeover, a health
check). Each node fails at the real rate; each role's (director, real server) mean
cost per fault is measured over the faults on its nodes.
"""
import math

from topo.analysis.timeline import failed_stretches

YEAR_S = 365 * 86400.0
WAITED = 0.9            # an outage this much of the repair (and past it) waited for it


def overlap(stretches, a, b):
    """Seconds of the stretches within [a, b)."""
    return sum(max(0.0, min(y, b) - max(x, a)) for x, y in stretches)


def nines(availability):
    """-log10 of the unavailability: 0.999 -> 3 (None when nothing was lost)."""
    if availability is None or availability >= 1.0:
        return None
    return round(-math.log10(1.0 - availability), 2)


def role_of(target, directors):
    return 'director' if target in directors else 'real server'


def per_fault(stretches, played, t_end, directors):
    """Each replayed fault's share of the downtime: the failed stretches from its
    injection until the next fault's, clipped to that window (a request sent just
    before a power-off fails with it, so its stretch may begin a moment before);
    split at its clear."""
    out = []
    for i, f in enumerate(played):
        nxt = played[i + 1]['injected'] if i + 1 < len(played) else t_end
        mine = [(max(a, f['injected']), min(b, nxt)) for a, b in stretches
                if b > f['injected'] and a < nxt]
        during = overlap(mine, f['injected'], f['cleared'])
        repair = f['cleared'] - f['injected']
        waited = during >= WAITED * repair and any(a <= f['cleared'] <= b for a, b in mine)
        out.append({'fault': f['fault'], 'target': f['target'],
                    'role': role_of(f['target'], directors), 'repair_s': round(repair, 3),
                    'down_during_s': round(during, 3),
                    'down_after_s': round(overlap(mine, f['cleared'], math.inf), 3),
                    'downtime_s': round(sum(b - a for a, b in mine), 3),
                    'waited_for_repair': waited})
    return out


def by_kind(faults):
    """{'<fault> <role>': faults, downtime in all and per fault}."""
    out = {}
    for f in faults:
        k = out.setdefault('%s %s' % (f['fault'], f['role']), {'faults': 0, 'downtime_s': 0.0})
        k['faults'] += 1
        k['downtime_s'] = round(k['downtime_s'] + f['downtime_s'], 3)
    for k in out.values():
        k['mean_s'] = round(k['downtime_s'] / k['faults'], 3)
    return out


def extrapolate(faults, nodes, mtbf_days, mttr_h):
    """The yearly downtime and availability if each of `nodes` ({role: count}) failed
    once per mtbf_days and took mttr_h to repair, from the measured cost per fault."""
    mttr_s = mttr_h * 3600.0
    per_year, cost, unmeasured = 0.0, {}, []
    for role, count in sorted(nodes.items()):
        mine = [f for f in faults if f['role'] == role]
        if not mine:
            unmeasured.append(role)
            continue
        each = [f['down_after_s'] + (mttr_s if f['waited_for_repair'] else f['down_during_s'])
                for f in mine]
        cost[role] = round(sum(each) / len(each), 3)
        per_year += count * (365.0 / mtbf_days) * cost[role]
    a = 1.0 - per_year / YEAR_S
    return {'node_mtbf_days': mtbf_days, 'mttr_h': mttr_h, 'nodes': nodes,
            'cost_per_fault_s': cost, 'roles_unmeasured': unmeasured,
            'downtime_min_per_year': round(per_year / 60.0, 2),
            'availability': round(a, 8), 'nines': nines(a)}


def analyse(result, period, nodes, directors, mtbf_days, mttr_h):
    """The run's availability (None when the schedule did not run to its end)."""
    sched = result.measured.schedule or {}
    if 'end' not in sched:
        return {'availability': None}
    t0, t1 = sched['start'], sched['end']
    window = [p for p in result.history.probes if t0 <= p['t'] < t1]
    stretches = [(max(a, t0), min(b, t1)) for a, b in failed_stretches(window, period)]
    down = sum(b - a for a, b in stretches)
    answered = sum(p['ok'] for p in window)
    by_requests = answered / len(window) if window else None
    by_time = 1.0 - down / (t1 - t0)
    faults = per_fault(stretches, sched['faults'], t1, directors)
    first = sched['faults'][0]['injected'] if sched['faults'] else t1
    return {'availability': {
        'duration_s': round(t1 - t0, 3), 'requests': len(window), 'answered': answered,
        'by_requests': round(by_requests, 6) if by_requests is not None else None,
        'by_time': round(by_time, 6), 'nines': nines(by_time), 'downtime_s': round(down, 3),
        'background_down_s': round(overlap(stretches, t0, first), 3),
        'late_faults': sum(f['late_s'] > 1.0 for f in sched['faults']),
        'faults': faults, 'by_kind': by_kind(faults),
        'extrapolated': extrapolate(faults, nodes, mtbf_days, mttr_h)}}


def numbers(analysis):
    """A run's headline numbers (a trial's or a cell's entry)."""
    a = analysis.get('availability')
    if not a:
        return {}
    e = a['extrapolated']
    out = {'availability': a['by_time'], 'answered_share': a['by_requests'],
           'downtime_s': a['downtime_s'], 'nines': a['nines'], 'faults': len(a['faults']),
           'extrapolated_availability': e['availability'],
           'extrapolated_downtime_min_per_year': e['downtime_min_per_year']}
    for role, cost in e['cost_per_fault_s'].items():
        out['cost_per_%s_fault_s' % role.replace(' ', '_')] = cost
    return out
