"""The load lab's results from its runs: the ramp's goals (VIP against the same
run's direct baseline), scale-out efficiency, what failover under load and
connection sync did to the clients."""
from topo.network.config import BACKUP, PRIMARY
from topo.stats import scaling_efficiency

SERIES_FIELDS = ['layout', 't', 'ok', 'failed', 'p50_s', 'p99_s', 'max_s', 'open']

# How an established connection may outlive its director (load.py --conn-sync --ways):
# {way: (the IPVS sync daemon, the scheduler (None: the run's), sloppy TCP, what it is)}
WAYS = {
    'none': (False, None, False, 'neither: the new director knows no connection'),
    'sloppy': (False, None, True, 'sloppy TCP alone: the new director schedules a packet in '
                                  'mid-flow afresh (rr: maybe to another real server)'),
    'sync': (True, None, False, 'the IPVS sync daemon: the backup holds every entry'),
    'sh': (False, 'sh', True, 'source hashing (sh) and sloppy TCP, no state shared'),
    'mh': (False, 'mh', True, 'Maglev hashing (mh) and sloppy TCP, no state shared: the new '
                              'director picks the same real server for a packet in mid-flow'),
    'mh+sync': (True, 'mh', True, 'both'),
}


def level_key(lv):
    """Which measurements a goal compares: the same pattern at the same place of the
    ramp (a level may be repeated: five times 1,000 clients in one cluster)."""
    return (lv.get('pattern', 'keepalive'), lv.get('level', lv['concurrency']))


def ramp_goals(levels):
    """The goals, each with its numbers: VIP vs direct per level and pattern. Keep-alive:
    throughput >= 0.9 x direct, p99 <= 1.2 x; a connection per request: new connections
    per second >= 0.9 x direct; both: no request failed through the VIP."""
    by = {level_key(lv) + (lv['target'],): lv for lv in levels}
    goals = []
    for key in sorted({level_key(lv) for lv in levels}, key=lambda k: (k[1], k[0] != 'keepalive')):
        vip, direct = by.get(key + ('vip',)), by.get(key + ('direct',))
        if not vip or not direct:
            continue
        ratio = round(vip['rps'] / direct['rps'], 3) if direct['rps'] else None
        p99 = round(vip['p99_s'] / direct['p99_s'], 3) if vip['p99_s'] and direct['p99_s'] \
            else None
        g = {'pattern': key[0], 'level': key[1], 'concurrency': vip['concurrency'],
             'vip_failed': vip['failed'], 'direct_failed': direct['failed'],
             'no_extra_failures': vip['failed'] <= direct['failed'],
             'zero_failed': vip['failed'] == 0,
             'throughput_ratio': ratio, 'throughput_ok': ratio is not None and ratio >= 0.9}
        if key[0] == 'keepalive':
            g.update(p99_ratio=p99, p99_ok=p99 is not None and p99 <= 1.2)
        goals.append(g)
    return goals


def scale_goals(rows):
    """Scaling efficiency rps(N) / (N x rps(1)); the goal: >= 0.8 up to 3 servers."""
    eff = scaling_efficiency({r['servers']: r['rps'] for r in rows})
    return ({str(k): v for k, v in eff.items()},
            [{'servers': n, 'efficiency': e, 'ok': e >= 0.8} for n, e in eff.items() if n <= 3])


def load_series(events):
    """The load generator's per-second reports."""
    return [e for e in events if e['kind'] == 'load' and e.get('node') == 'load']


def _prober_cpu(events):
    done = [e for e in events if e['kind'] == 'done' and e.get('node') == 'client']
    return done[-1]['cpu_s'] if done else None


def failover_cell(layout, clients, result, out):
    """One layout's failover under load: what the clients saw at the power-off and at
    the power-on; and the per-second series of the load generator (CSV rows)."""
    h, m = result.history, result.measured
    series = load_series(h.events)
    t_off, t_on = (h.faults[0].injected, h.faults[0].cleared) if h.faults else (None, None)

    def failed(t0, t1):
        return sum(sum(e['failed'].values()) for e in series
                   if t0 is not None and t0 <= e['t'] + 1 and (t1 is None or e['t'] < t1))
    done = m.load_done or {}
    cell = {'layout': layout, 'clients': clients, 'passed': result.passed,
            'answered': done.get('ok'), 'failed': done.get('failed'),
            'failed_at_power_off': failed(t_off, t_on), 'failed_at_power_on': failed(t_on, None),
            'outage_s': (result.analysis.get('failover') or {}).get('outage_s'),
            'loadgen_cpu_s': done.get('cpu_s'), 'loadgen_elapsed_s': done.get('elapsed_s'),
            'prober_cpu_s': _prober_cpu(h.events), 'power_off': t_off, 'power_on': t_on,
            'hardware': m.hardware, 'results': str(out)}
    rows = [dict(e, layout=layout, failed=sum(e['failed'].values())) for e in series]
    return cell, rows


def by_server(per_session, servers, t_fault, t_change=None):
    """{server: sessions, carried (answered after the fault on their first connection),
    broken before the change, between it and the fault, after the fault (each by how)}
    from the load generator's per-session records [server, how it broke, when, last
    answer]; sessions never answered are under None."""
    out = {}
    for server, how, when, last_ok in per_session:
        row = out.setdefault(server, {'sessions': 0, 'carried': 0, 'broken_before_change': {},
                                      'broken_after_change': {}, 'broken_after_fault': {}})
        row['sessions'] += 1
        if how is None:
            row['carried'] += 1 if last_ok > t_fault else 0
            continue
        key = 'broken_after_fault' if when >= t_fault else 'broken_before_change' \
            if t_change is None or when < t_change else 'broken_after_change'
        row[key][how] = row[key].get(how, 0) + 1
    return {s: out[s] for s in list(servers) + [None] if s in out}


def lan_traffic(readings, director=PRIMARY):
    """What the director sent between the sessions' start and the fault, per second:
    UDP datagrams (the sync daemon's), multicast packets and bytes (the sync daemon's
    and VRRP's adverts), or None without both readings."""
    a = (readings.get('sessions start') or {}).get(director)
    b = (readings.get('before the fault') or {}).get(director)
    if not a or not b or b['t'] <= a['t']:
        return None
    span = b['t'] - a['t']
    return dict({k + '_per_s': round((b[k] - a[k]) / span, 1) for k in a
                 if k != 't' and a[k] is not None and b[k] is not None},
                seconds=round(span, 2))


def conn_sync_cell(way, config, sessions, result, out):
    """Sessions that carried on through the failover, and the connection entries each
    director's kernel held before it."""
    h, m = result.history, result.measured
    done = m.load_done or {}
    t_fault = h.faults[0].injected if h.faults else None
    carried = sum(1 for t in done.get('unbroken_last_ok', []) if t_fault and t > t_fault)
    entries = m.connection_entries
    change = m.server_change or {}
    per_server = by_server(done.get('per_session', []), config.real_servers, t_fault or 0,
                           change.get('at')) if t_fault else {}
    others = [s for s in config.real_servers if s != change.get('server')]
    return {'way': way, 'sync': WAYS[way][0], 'scheduler': config.scheduler,
            'change': change or None, 'by_server': per_server,
            'primary_sent': lan_traffic(getattr(m, 'multicast', {}) or {}),
            # what consistent hashing promises: the sessions of the servers the change
            # did not touch carry on
            'others_broken_after_fault': sum(sum(per_server[s]['broken_after_fault'].values())
                                             for s in others if s in per_server),
            'sloppy_tcp': config.sloppy_tcp,
            'total': done.get('sessions', sessions), 'survived': carried,
            'unbroken': done.get('unbroken'),
            'broken': (done.get('sessions', sessions) - carried) if done else None,
            # why they broke: the sessions' failed requests, by kind (reset, timeout, ...)
            'failed_requests': done.get('failed'),
            'backup_entries_before': entries.get(BACKUP, {}),
            'primary_entries_before': entries.get(PRIMARY, {}),
            'outage_s': (result.analysis.get('failover') or {}).get('outage_s'),
            'hardware': m.hardware, 'passed': result.passed, 'results': str(out)}


def load_numbers(result):
    """A ramp's or a scale-out's numbers as a trial reports them: per level (target and
    clients) the throughput, p99 latency and failed requests; per number of real
    servers the throughput and the scaling efficiency."""
    out = {}
    repeated = len({lv['concurrency'] for lv in result.measured.levels}) < \
        len({lv.get('level') for lv in result.measured.levels})
    for lv in result.measured.levels:
        name = '%s_%d' % (lv['target'], lv['concurrency'])
        if lv.get('pattern', 'keepalive') != 'keepalive':
            name = '%s_%s' % (lv['pattern'], name)
        if repeated:
            name += '_level%d' % lv['level']
        for k in ('rps', 'p99_s', 'failed'):
            out['%s_%s' % (name, k)] = lv.get(k)
    efficiency = result.analysis.get('scaling_efficiency') or {}
    for row in result.measured.scale:
        n = row['servers']
        out['servers_%d_rps' % n] = row.get('rps')
        out['servers_%d_efficiency' % n] = efficiency.get(n, efficiency.get(str(n)))
    return out
