"""The load lab's results from its runs: the ramp's goals (VIP against the same
run's direct baseline), scale-out efficiency, what failover under load and
connection sync did to the clients."""
from collections import namedtuple

from topo.network.config import BACKUP, PRIMARY
from topo.stats import scaling_efficiency

SERIES_FIELDS = ['layout', 't', 'ok', 'failed', 'p50_s', 'p99_s', 'max_s', 'open']

# How an established connection may outlive its director (load.py --conn-sync --ways):
# the IPVS sync daemon, the scheduler (None: the run's), sloppy TCP, the directors
# active/active behind the router's ECMP, and what it is
Way = namedtuple('Way', 'sync scheduler sloppy active_active description')
WAYS = {
    'none': Way(False, None, False, False, 'neither: the new director knows no connection'),
    'sloppy': Way(False, None, True, False,
                  'sloppy TCP alone: the new director schedules a packet in mid-flow afresh '
                  '(rr: maybe to another real server)'),
    'sync': Way(True, None, False, False, 'the IPVS sync daemon: the backup holds every entry'),
    'sh': Way(False, 'sh', True, False, 'source hashing (sh) and sloppy TCP, no state shared'),
    'mh': Way(False, 'mh', True, False,
              'Maglev hashing (mh) and sloppy TCP, no state shared: the new director picks '
              'the same real server for a packet in mid-flow'),
    'mh+sync': Way(True, 'mh', True, False, 'both'),
    'active-active': Way(False, 'mh', True, True,
                         'both directors serve at once behind the router\'s ECMP route, mh '
                         'and sloppy TCP (keepalived moves a failed director\'s next hop)'),
}
# (active/active needs a stack that can run it: asked for by name)
DEFAULT_WAYS = [w for w, way in WAYS.items() if not way.active_active]


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
        one = by.get(key + ('one-director',))
        if one:
            g.update(two_directors(vip, one))
        goals.append(g)
    return goals


def two_directors(both, one):
    """Active/active: the level through both directors against laicoz alone. On a
    machine whose one CPU runs every node the rates are alike; where each director has a
    CPU of its own and it is the limit, the busier director sets the pace: two carry
    1 / (its share of the connections) times what one does (the goal: >= 1.8)."""
    split = both.get('ipvs_by_director') or {}
    total = sum(split.values())
    shares = {d: round(n / total, 3) for d, n in sorted(split.items())} if total else {}
    capacity = round(1 / max(shares.values()), 2) if shares else None
    return {'two_directors_ratio': round(both['rps'] / one['rps'], 3) if one['rps'] else None,
            'director_shares': shares, 'capacity_ratio': capacity,
            'capacity_ok': capacity is not None and capacity >= 1.8}


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
    answer, its first connection's source]; sessions never answered are under None."""
    return _tally(per_session, lambda r: r[0], list(servers) + [None], t_fault, t_change)


def by_director(per_session, sources, t_fault):
    """Active/active: the same tally by the director each session's first connection
    went through, which the directors' connection tables said before the fault
    (sources: {director: its entries' client addresses 'ip:port'}); None: in neither."""
    through = {a: d for d, addresses in sources.items() for a in addresses}
    return _tally(per_session, lambda r: through.get(r[4]) if len(r) > 4 else None,
                  list(sources) + [None], t_fault)


def _tally(per_session, group, groups, t_fault, t_change=None):
    out = {}
    for record in per_session:
        _, how, when, last_ok = record[:4]
        row = out.setdefault(group(record), {
            'sessions': 0, 'carried': 0, 'broken_before_change': {},
            'broken_after_change': {}, 'broken_after_fault': {}})
        row['sessions'] += 1
        if how is None:
            row['carried'] += 1 if last_ok > t_fault else 0
            continue
        key = 'broken_after_fault' if when >= t_fault else 'broken_before_change' \
            if t_change is None or when < t_change else 'broken_after_change'
        row[key][how] = row[key].get(how, 0) + 1
    return {g: out[g] for g in groups if g in out}


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
    return {'way': way, 'sync': WAYS[way].sync, 'scheduler': config.scheduler,
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
            'hardware': m.hardware, 'passed': result.passed, 'results': str(out),
            **(active_active(h, m, done, t_fault) if config.active_active else {})}


def active_active(history, measured, done, t_fault):
    """Active/active: the sessions by the director they went through (the survivor's
    must all carry on), and when the router's ECMP route stopped sending to laicoz:
    its ARP entry for laicoz's next hop pointing to laicoy."""
    rows = by_director(done.get('per_session', []), measured.connection_sources,
                       t_fault or 0) if t_fault else {}
    moved = next((e['t'] for e in sorted(history.events, key=lambda e: e['t'])
                  if e.get('kind') == 'arp' and t_fault and e['t'] >= t_fault
                  and (measured.macs or {}).get(e.get('mac')) == BACKUP), None)
    return {'by_director': rows,
            'survivor_broken_after_fault': sum(rows[BACKUP]['broken_after_fault'].values())
            if BACKUP in rows else None,
            'ecmp_moved_s': round(moved - t_fault, 3) if moved else None}


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
    for g in result.analysis.get('goals') or []:       # active/active: both against one
        if 'two_directors_ratio' in g:
            name = '%s_%d' % (g['pattern'], g['concurrency'])
            out[name + '_two_directors_ratio'] = g['two_directors_ratio']
            out[name + '_capacity_ratio'] = g['capacity_ratio']
    efficiency = result.analysis.get('scaling_efficiency') or {}
    for row in result.measured.scale:
        n = row['servers']
        out['servers_%d_rps' % n] = row.get('rps')
        out['servers_%d_efficiency' % n] = efficiency.get(n, efficiency.get(str(n)))
    return out
