"""The load experiment's parts that need no cluster: h2load's output (captured from
real runs), the statistics, the hardware profile's limits, the goals, the
connection counts, and the flags refused before anything starts."""
import time

import pytest

from conftest import refused

from topo.agents import h2load
from topo.network import hardware, ipvs
from topo.network.config import ConfigError
from topo.stats import percentile, scaling_efficiency


# -- h2load ------------------------------------------------------------------------------
def test_h2load_summary_of_a_clean_run(data):
    s = h2load.parse_summary(data('h2load/ok.out'))
    assert (s['total'], s['succeeded'], s['failed']) == (40, 40, 0)
    assert s['status']['2xx'] == 40 and s['elapsed_s'] > 0 and s['rps'] > 0
    assert h2load.errors_by_kind(s) == {}


def test_h2load_summary_when_the_server_dies_mid_run(data):
    """nginx's worker killed: the requests in flight failed, and those the stopped
    clients never started are failures too (they are in no log line)."""
    s = h2load.parse_summary(data('h2load/killed-worker.out'))
    assert (s['total'], s['started'], s['succeeded']) == (100000, 33668, 33648)
    kinds = h2load.errors_by_kind(s)
    assert kinds == {'errored': 20, 'not-started': 66332}
    assert sum(kinds.values()) == s['total'] - s['succeeded']


def test_h2load_summary_when_nobody_listens(data):
    s = h2load.parse_summary(data('h2load/refused.out'))
    assert s['succeeded'] == 0 and h2load.errors_by_kind(s) == {'not-started': 20}


def test_h2load_without_a_summary_is_an_error():
    with pytest.raises(ValueError, match='no h2load summary'):
        h2load.parse_summary('starting benchmark...\nspawning thread #0\n')


def test_h2load_log_lines(data):
    rows = h2load.parse_log(data('h2load/ok.log'))
    assert len(rows) == 40 and all(status == 200 for _, status, _ in rows)
    assert all(0 < d < 1 for _, _, d in rows) and rows[0][0] > 1.7e9   # seconds since 1970
    failed = h2load.parse_log(data('h2load/with-failure.log'))
    assert [status for _, status, _ in failed] == [200, -1, 200]
    assert failed[1][2] == 2.0


def test_h2load_command_line():
    cmd = h2load.command('http://10.0.14.146:80/', 1000, 10000, '/run/x.log')
    assert cmd[:2] == ['h2load', '--h1'] and '--log-file=/run/x.log' in cmd
    assert cmd[cmd.index('-c') + 1] == '1000' and cmd[cmd.index('-n') + 1] == '10000'
    gz = h2load.command('http://x/work.html', 1, 1, '/l', headers=['Accept-Encoding: gzip'])
    assert gz[-3:] == ['-H', 'Accept-Encoding: gzip', 'http://x/work.html']


def test_the_cgi_page_costs_cpu_but_little_wire(tmp_path):
    """What --page cgi asks nginx for: a 1 MB page it must compress on every request."""
    import zlib
    from topo.network.webserver import WORK_BYTES, WORK_PATH, NginxServer
    nginx = NginxServer('laico2', 80, tmp_path)
    nginx.render()
    page = (tmp_path / WORK_PATH.lstrip('/')).read_bytes()
    assert abs(len(page) - WORK_BYTES) < 10 and page.startswith(b'laico2 laico2 ')
    assert len(zlib.compress(page, 9)) < 4096
    assert 'location = %s' % WORK_PATH in nginx.conf.read_text()


# -- statistics --------------------------------------------------------------------------
def test_percentiles_nearest_rank():
    v = list(range(1, 101))
    assert (percentile(v, 50), percentile(v, 90), percentile(v, 99), percentile(v, 100)) == \
        (50, 90, 99, 100)
    assert percentile([7], 99) == 7 and percentile([], 50) is None
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9


def test_scaling_efficiency():
    assert scaling_efficiency({1: 100.0, 2: 180.0, 4: 200.0}) == {1: 1.0, 2: 0.9, 4: 0.5}
    with pytest.raises(ValueError):
        scaling_efficiency({2: 100.0})


def test_ramp_goals_compare_vip_with_the_same_runs_direct_baseline():
    from topo.analysis.load import ramp_goals
    lv = lambda target, c, rps, p99, failed=0: {'target': target, 'concurrency': c, 'rps': rps,
                                                'p99_s': p99, 'failed': failed}
    goals = ramp_goals([lv('vip', 10, 95, 0.012), lv('direct', 10, 100, 0.010),
                        lv('vip', 1000, 80, 0.5, failed=3), lv('direct', 1000, 100, 0.4)])
    g10, g1000 = goals
    assert g10['throughput_ratio'] == 0.95 and g10['throughput_ok']
    assert g10['p99_ratio'] == 1.2 and g10['p99_ok'] and g10['zero_failed']
    assert g1000['throughput_ratio'] == 0.8 and not g1000['throughput_ok']
    assert not g1000['zero_failed'] and not g1000['no_extra_failures']


def test_ramp_goals_pair_each_pattern_and_each_repeat_of_a_level():
    """A connection per request is judged on new connections/s (no p99 goal); five
    times 1,000 clients in one cluster are five goals, each against its own baseline."""
    from topo.analysis.load import ramp_goals
    lv = lambda i, pattern, target, rps, failed=0: {
        'level': i, 'pattern': pattern, 'target': target, 'concurrency': 1000, 'rps': rps,
        'p99_s': 0.5, 'failed': failed}
    levels = []
    for i in range(5):
        levels += [lv(i, 'keepalive', 'vip', 100), lv(i, 'keepalive', 'direct', 100),
                   lv(i, 'close', 'vip', 85 + i, failed=i), lv(i, 'close', 'direct', 100)]
    goals = ramp_goals(levels)
    assert [(g['level'], g['pattern']) for g in goals] == [
        (i, p) for i in range(5) for p in ('keepalive', 'close')]
    close = [g for g in goals if g['pattern'] == 'close']
    assert [g['throughput_ratio'] for g in close] == [0.85, 0.86, 0.87, 0.88, 0.89]
    assert [g['vip_failed'] for g in close] == [0, 1, 2, 3, 4]
    assert 'p99_ok' not in close[0] and goals[0]['p99_ok']


# -- the paper's 2003 hardware -------------------------------------------------------------
def test_2003_profile_limits():
    p = hardware.get('2003')
    assert p.link_mbit == 10
    assert p.cpu_max('director') == '10000 100000'       # Pentium 100: 10 % of one CPU
    assert p.cpu_max('server') == '23300 100000'         # Pentium 233
    assert (p.mem_mb('director'), p.mem_mb('server')) == (32, 64)
    with pytest.raises(ConfigError, match='unknown hardware profile'):
        hardware.get('1999')


# -- IPVS connection entries (what the sync daemon gives the backup) -------------------------
def test_connection_entries_counted_per_state():
    text = ('IPVS connection entries\n'
            'pro expire state       source             virtual            destination\n'
            'TCP 14:59  ESTABLISHED 10.0.14.20:40112   10.0.14.146:80     10.0.14.12:80\n'
            'TCP 14:58  ESTABLISHED 10.0.14.20:40114   10.0.14.146:80     10.0.14.13:80\n'
            'TCP 01:58  FIN_WAIT    10.0.14.20:40116   10.0.14.146:80     10.0.14.14:80\n'
            'TCP 14:59  ESTABLISHED 10.0.14.20:40118   10.0.14.99:80      10.0.14.14:80\n')
    assert ipvs.count_connections(text, '10.0.14.146:80') == {'ESTABLISHED': 2, 'FIN_WAIT': 1}
    assert ipvs.count_connections('IPVS connection entries\n', '10.0.14.146:80') == {}


def test_connection_sources_are_the_clients_of_the_service():
    text = ('TCP 14:59  ESTABLISHED 198.18.0.7:40112   10.0.14.146:80     10.0.14.12:80\n'
            'TCP 01:58  FIN_WAIT    198.18.0.9:40116   10.0.14.146:80     10.0.14.14:80\n'
            'TCP 14:59  ESTABLISHED 198.18.0.8:40118   10.0.14.99:80      10.0.14.14:80\n')
    assert ipvs.connection_sources(text, '10.0.14.146:80') == ['198.18.0.7:40112',
                                                               '198.18.0.9:40116']


# -- active/active ----------------------------------------------------------------------------
def test_two_directors_are_judged_by_the_busier_one_s_share():
    from topo.analysis.load import ramp_goals
    lv = lambda target, rps, split=None: {'target': target, 'concurrency': 1000, 'rps': rps,
                                          'p99_s': 0.1, 'failed': 0, 'pattern': 'close',
                                          'ipvs_by_director': split or {}}
    [g] = ramp_goals([lv('vip', 4400, {'laicoz': 5200, 'laicoy': 4800}),
                      lv('one-director', 4000), lv('direct', 4500)])
    assert g['two_directors_ratio'] == 1.1 and g['throughput_ratio'] == 0.978
    assert g['director_shares'] == {'laicoy': 0.48, 'laicoz': 0.52}
    assert g['capacity_ratio'] == 1.92 and g['capacity_ok']
    [g] = ramp_goals([lv('vip', 4400, {'laicoz': 9000, 'laicoy': 1000}),
                      lv('one-director', 4000), lv('direct', 4500)])
    assert g['capacity_ratio'] == 1.11 and not g['capacity_ok']     # ECMP did not spread
    [g] = ramp_goals([lv('vip', 4400), lv('direct', 4500)])
    assert 'two_directors_ratio' not in g                           # one director only
    # trials report both numbers of each level, for their spreads
    from types import SimpleNamespace as NS
    from topo.analysis.load import load_numbers
    levels = [lv('vip', 4400, {'laicoz': 5200, 'laicoy': 4800}), lv('one-director', 4000),
              lv('direct', 4500)]
    numbers = load_numbers(NS(measured=NS(levels=levels, scale=[]),
                              analysis={'goals': ramp_goals(levels)}))
    assert numbers['close_1000_two_directors_ratio'] == 1.1
    assert numbers['close_1000_capacity_ratio'] == 1.92
    assert numbers['close_one-director_1000_rps'] == 4000


def test_active_active_sessions_are_told_apart_by_the_director_they_went_through():
    from types import SimpleNamespace as NS
    from topo.analysis.load import conn_sync_cell
    from topo.network.config import ClusterConfig
    # [server, how its first connection broke, when, last answer, its source]
    per_session = [['laico2', None, None, 130.0, '198.18.0.1:1000'],    # laicoz's, carried
                   ['laico3', 'reset', 100.4, 100.1, '198.18.0.2:1000'],  # laicoz's, broken
                   ['laico4', None, None, 131.0, '198.18.0.3:1000'],    # laicoy's
                   ['laico2', None, None, 131.0, '198.18.0.4:1000']]    # in neither table
    done = {'sessions': 4, 'unbroken': 3, 'unbroken_last_ok': [130.0, 131.0, 131.0],
            'failed': {'reset': 1}, 'per_session': per_session}
    events = [{'kind': 'arp', 'node': 'router', 't': 99.0, 'mac': 'aa'},
              {'kind': 'arp', 'node': 'router', 't': 100.6, 'mac': 'bb'}]
    result = NS(history=NS(faults=[NS(injected=100.0)], events=events),
                measured=NS(load_done=done, connection_entries={}, hardware=None,
                            server_change=None, macs={'aa': 'laicoz', 'bb': 'laicoy'},
                            connection_sources={'laicoz': ['198.18.0.1:1000',
                                                           '198.18.0.2:1000'],
                                                'laicoy': ['198.18.0.3:1000']}),
                analysis={}, passed=True)
    c = conn_sync_cell('active-active', ClusterConfig(scheduler='mh', active_active=True), 4,
                       result, '/x')
    rows = c['by_director']
    assert list(rows) == ['laicoz', 'laicoy', None]
    assert (rows['laicoz']['sessions'], rows['laicoz']['carried']) == (2, 1)
    assert rows['laicoz']['broken_after_fault'] == {'reset': 1}
    assert rows['laicoy']['carried'] == 1 and c['survivor_broken_after_fault'] == 0
    assert c['ecmp_moved_s'] == 0.6 and c['survived'] == 3
    # an ordinary cluster's cell has none of it
    result.measured.connection_sources = {}
    assert 'by_director' not in conn_sync_cell('mh', ClusterConfig(scheduler='mh'), 4,
                                               result, '/x')


def test_the_active_active_way_is_asked_for_by_name():
    import json
    import subprocess
    from conftest import PYTHON, ROOT
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'load.py'), '--conn-sync', '--stack',
                        'keepalived', '--ways', 'mh,active-active', '--plan'],
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=120, check=True)
    cells = {c['name']: c for c in json.loads(p.stdout)['cells']}
    aa = cells['active-active']['cluster']
    assert (aa['scheduler'], aa['sloppy_tcp'], aa['active_active']) == ('mh', True, True)
    assert aa['addresses']['client'] == '192.0.2.200' and aa['next_hops']['laicoz'] == '10.0.14.4'
    assert 'active_active' not in cells['mh']['cluster']


# -- flags refused before anything starts ---------------------------------------------------
@pytest.mark.parametrize('argv, message', [
    (['--concurrency', '10,0'], 'positive whole numbers'),
    (['--concurrency', '100', '--requests', '50'], 'less than the concurrency'),
    (['--scale', '2,4'], 'must include 1'),
    (['--deadtime', '2'], 'apply to --conn-sync only'),
    (['--failover', '--hot-standby'], 'the layouts are of 3 stacks); or use them with --conn-sync'),
    (['--failover', '--layouts', 'heartbeat,bogus'], 'unknown layout'),
    (['--conn-sync', '--sync-daemon'], 'leave out --sync-daemon'),
    (['--hardware', '1999'], 'invalid choice'),
    (['--failover', '--concurrency', '10'], '--concurrency applies to the ramp and --scale'),
    (['--sessions', '10'], '--sessions applies to --conn-sync only'),
    (['--scale', '1,2', '--servers', '4'], '--servers applies to'),
    (['--crossover'], '--crossover applies to --failover and --conn-sync'),
    (['--conn-sync', '--active-active', '--scheduler', 'mh'], '--ways active-active'),
    (['--active-active', '--scheduler', 'rr'], '--scheduler sh or mh'),
    (['--active-active', '--scheduler', 'mh', '--forwarding', 'nat'], 'use dr or tun'),
])
def test_bad_load_flags(argv, message):
    assert message in refused('load', *argv)


def test_a_conn_sync_cell_counts_the_sessions_answered_after_the_fault():
    from types import SimpleNamespace as NS
    from topo.analysis.load import conn_sync_cell
    from topo.network.config import ClusterConfig
    # four unbroken first connections, two of them answered after the fault at t=100;
    # the others broke (their requests reset) and came back on new connections
    done = {'sessions': 6, 'unbroken': 4, 'unbroken_last_ok': [99.5, 100.2, 130.0, 0],
            'failed': {'reset': 2},
            'per_session': [['laico2', None, None, 99.5], ['laico2', None, None, 100.2],
                            ['laico3', None, None, 130.0], ['laico3', None, None, 0],
                            ['laico3', 'reset', 100.1, 100.0], ['laico4', 'reset', 100.3, 99.9]]}
    result = NS(history=NS(faults=[NS(injected=100.0)]),
                measured=NS(load_done=done, connection_entries={
                    'laicoz': {'ESTABLISHED': 6}, 'laicoy': {}}, hardware=None,
                    server_change={'change': 'weight', 'server': 'laico4', 'at': 90.0}),
                analysis={'failover': {'outage_s': 0.6}}, passed=True)
    config = ClusterConfig(scheduler='mh', sloppy_tcp=True)
    c = conn_sync_cell('mh', config, 6, result, '/x')
    assert (c['total'], c['survived'], c['broken'], c['unbroken']) == (6, 2, 4, 4)
    assert c['failed_requests'] == {'reset': 2} and c['scheduler'] == 'mh' and c['sloppy_tcp']
    assert c['primary_entries_before'] == {'ESTABLISHED': 6} and c['outage_s'] == 0.6
    assert not c['sync'] and c['way'] == 'mh'
    assert c['by_server']['laico3']['carried'] == 1 and c['change']['server'] == 'laico4'
    # laico4's own session does not count against the others
    assert c['others_broken_after_fault'] == 1


def test_each_conn_sync_way_is_its_own_cluster_and_stack():
    import json
    import subprocess
    from conftest import PYTHON, ROOT
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'load.py'), '--conn-sync', '--stack',
                        'keepalived', '--plan'], stdout=subprocess.PIPE, universal_newlines=True,
                       timeout=120, check=True)
    cells = {c['name']: c for c in json.loads(p.stdout)['cells']}
    assert list(cells) == ['none', 'sloppy', 'sync', 'sh', 'mh', 'mh+sync']
    assert cells['sh']['cluster'] == {'scheduler': 'sh', 'sloppy_tcp': True}
    assert 'cluster' not in cells['none'] and not cells['none']['stack']['sync_daemon']
    assert cells['sloppy']['cluster'] == {'sloppy_tcp': True}
    assert cells['sync']['stack']['sync_daemon'] and 'cluster' not in cells['sync']
    for way in ('mh', 'mh+sync'):
        assert cells[way]['cluster'] == {'scheduler': 'mh', 'sloppy_tcp': True}
    assert cells['mh+sync']['stack']['sync_daemon'] and not cells['mh']['stack']['sync_daemon']
    # mh's own flags are kept when the run schedules with mh already
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'load.py'), '--conn-sync', '--ways',
                        'none,mh', '--scheduler', 'mh', '--sched-flags', 'mh-port', '--plan'],
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=120, check=True)
    cells = {c['name']: c for c in json.loads(p.stdout)['cells']}
    assert cells['mh']['cluster'] == {'sloppy_tcp': True}
    assert json.loads(p.stdout)['parameters']['sched_flags'] == ['mh-port']


def test_sessions_per_server_split_by_when_and_how_they_broke():
    from topo.analysis.load import by_server
    # [first server, how its first connection broke, when, last answer]
    per_session = [['laico2', None, None, 130.0],          # carried across the fault at 100
                   ['laico2', None, None, 90.0],           # unbroken, never answered after
                   ['laico3', 'closed', 80.0, 79.0],        # its server stopped at 70
                   ['laico3', 'reset', 60.0, 59.0],         # broke before the change
                   ['laico4', 'reset', 100.5, 100.2],       # broke at the failover
                   [None, 'connect-timeout', 10.0, 0]]      # never answered at all
    rows = by_server(per_session, ['laico2', 'laico3', 'laico4'], t_fault=100.0, t_change=70.0)
    assert list(rows) == ['laico2', 'laico3', 'laico4', None]
    assert rows['laico2'] == {'sessions': 2, 'carried': 1, 'broken_before_change': {},
                              'broken_after_change': {}, 'broken_after_fault': {}}
    assert rows['laico3']['broken_after_change'] == {'closed': 1}
    assert rows['laico3']['broken_before_change'] == {'reset': 1}
    assert rows['laico4']['broken_after_fault'] == {'reset': 1}
    assert rows[None]['broken_before_change'] == {'connect-timeout': 1}
    # no change: everything before the fault is "before the change"
    assert by_server(per_session, ['laico3'], 100.0)['laico3']['broken_before_change'] == {
        'closed': 1, 'reset': 1}


def test_the_load_generator_knows_each_session_s_server():
    from topo.agents.loadgen import served_by
    answer = b'HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Served-By: laico3\r\n\r\nlaico3\n'
    assert served_by(answer) == 'laico3'
    assert served_by(b'HTTP/1.1 200 OK\r\n\r\nX-Served-By: no') is None


def test_the_director_s_udp_and_multicast_between_two_readings():
    from topo.analysis.load import lan_traffic
    from topo.network.counters import multicast_out
    snmp = ('Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\n'
            'Udp: 5 0 0 120 0\n')
    netstat = ('IpExt: InNoRoutes OutMcastPkts OutMcastOctets\n'
               'IpExt: 0 130 52000\n')
    b = dict(multicast_out(snmp, netstat), t=110.0)
    assert b == {'udp_datagrams': 120, 'mcast_packets': 130, 'mcast_octets': 52000, 't': 110.0}
    a = {'udp_datagrams': 20, 'mcast_packets': 25, 'mcast_octets': 2000, 't': 100.0}
    got = lan_traffic({'sessions start': {'laicoz': a}, 'before the fault': {'laicoz': b}})
    assert got == {'udp_datagrams_per_s': 10.0, 'mcast_packets_per_s': 10.5,
                   'mcast_octets_per_s': 5000.0, 'seconds': 10.0}
    assert lan_traffic({'before the fault': {'laicoz': b}}) is None


def test_ipvs_counts_are_read_after_an_estimator_tick_that_follows_the_load(data, monkeypatch):
    """IPVS adds its per-CPU counts to ip_vs_stats at its estimator's ticks only: the
    level's count is read once the file changed after the load; a director with an
    empty connection table whose counts did not move is not waited for."""
    from topo.engine.steps import ramp
    text = data('proc/ip_vs_stats.txt')
    counted = lambda n: text.replace('       5       1E', '%8X       1E' % n)
    header = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n'
    entry = 'TCP 0A000101 9C40 0A000E92 0050 0A000E0C 0050 FIN_WAIT        119\n'
    reads = iter([counted(98)] * 3 + [counted(100)])

    class Director:
        def __init__(self, name, read, table):
            self.name, self.read, self.table = name, read, table

        def proc_net(self, name):
            return self.table if name == 'ip_vs_conn' else self.read()
    idle = counted(0)
    cost = ramp.Cost.__new__(ramp.Cost)
    cost.net = type('Net', (), {'directors': [
        Director('laicoz', lambda: next(reads), header + entry * 100),
        Director('laicoy', lambda: idle, header)]})()
    # laicoz's counts did not move during the level (no tick came): its table says
    # that it scheduled something
    cost.before = {'ipvs_stats': {'laicoz': counted(98), 'laicoy': idle}}
    monkeypatch.setattr(ramp, 'IPVS_ESTIMATOR_S', 1.0)
    start = time.monotonic()
    settled = cost.settle({'laicoz': counted(98), 'laicoy': idle})
    assert counters_of(settled) == {'laicoz': 100, 'laicoy': 0}
    assert time.monotonic() - start < 1.5             # the change ends the wait
    # no tick within two ticks' time: the last reading stands, without waiting longer
    reads = iter([counted(98)] * 20)
    start = time.monotonic()
    assert counters_of(cost.settle({'laicoz': counted(98), 'laicoy': idle}))['laicoz'] == 98
    assert time.monotonic() - start < 2 * 1.0 + 0.5


def counters_of(stats):
    from topo.network.counters import ipvs_connections
    return {n: ipvs_connections(t) for n, t in stats.items()}
