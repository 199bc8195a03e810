"""The statistics of repeated trials (topo/stats.py) on known samples and edge cases,
their aggregation per cell, the console report and trials.png from a summary."""
import json
import math
import time
from pathlib import Path

import pytest

from topo.analysis import report
from topo.engine.fidelity import FidelityMonitor, verdict
from topo.plots import plot
from topo.stats import compare, median_ci, quartiles, spread, spreads


def test_quartiles_interpolate_between_order_statistics():
    assert quartiles([1, 2, 3, 4, 5]) == (2, 4)
    assert quartiles([1.0, 2.0, 3.0, 4.0]) == (1.75, 3.25)      # numpy's default
    assert quartiles([7.0]) == (7.0, 7.0)


def test_median_ci_from_order_statistics():
    # n = 10: P(B <= 1) = 11/1024 <= 2.5 % < P(B <= 2) = 56/1024: [x(2), x(9)]
    low, high, coverage = median_ci(list(range(1, 11)))
    assert (low, high) == (2, 9)
    assert coverage == pytest.approx(1 - 2 * 11 / 1024, abs=1e-4)
    # n = 6: only [min, max], covering 1 - 2/64
    assert median_ci([1, 2, 3, 4, 5, 6]) == (1, 6, round(1 - 2 / 64, 4))
    # below 6 values not even [min, max] covers 95 %
    assert median_ci([1, 2, 3, 4, 5]) is None
    # the coverage is always at least the level asked for
    for n in range(6, 60):
        assert median_ci(list(range(n)))[2] >= 0.95


def test_spread_of_one_trial_of_ties_and_of_none():
    one = spread([4.2])
    assert (one['median'], one['iqr'], one['min'], one['max'], one['measured']) == \
        (4.2, 0, 4.2, 4.2, 1)
    assert one['ci95'] is None
    ties = spread([3.0] * 7)
    assert (ties['median'], ties['iqr'], ties['ci95']) == (3.0, 0.0, [3.0, 3.0])
    assert spread([None, None])['median'] is None and spread([None])['measured'] == 0
    skew = spread([1.0, 1.1, 1.2, 1.3, 9.0, 1.15])   # an outlier moves the median little
    assert skew['median'] == pytest.approx(1.175) and skew['max'] == 9.0


def test_compare_counts_every_pair_of_trials():
    assert compare([0.6, 0.7, None, 0.5], [4.7, 5.0, 5.1]) == \
        {'below': 9, 'pairs': 9, 'all_below': True}
    assert compare([0.6, 4.8], [4.7, 5.0]) == {'below': 3, 'pairs': 4, 'all_below': False}
    assert compare([], [1.0])['all_below'] is False


def test_spreads_per_cell_over_passed_trials_only():
    entries = [
        {'cell': 'keepalived-crash', 'trial': 1, 'noticed_s': 0.6, 'passed': True,
         'fault': 'crash', 'final_owner': 'laicoz'},
        {'cell': 'keepalived-crash', 'trial': 2, 'noticed_s': 0.8, 'passed': True},
        {'cell': 'keepalived-crash', 'trial': 3, 'noticed_s': 40.0, 'passed': False},
        {'cell': 'heartbeat-crash', 'trial': 1, 'noticed_s': None, 'passed': True},
    ]
    s = spreads(entries)
    kc = s['keepalived-crash']
    assert (kc['trials'], kc['passed']) == (3, 2)
    assert kc['metrics']['noticed_s']['values'] == [0.6, 0.8]       # the failed trial left out
    assert kc['metrics']['noticed_s']['median'] == pytest.approx(0.7)
    assert set(kc['metrics']) == {'noticed_s'}       # not trial, passed or text
    assert s['heartbeat-crash']['metrics']['noticed_s']['measured'] == 0


def test_spreads_leave_degraded_trials_out_unless_kept():
    entries = [{'cell': 'c', 'outage_s': v, 'passed': True, 'degraded': d}
               for v, d in ((1.0, False), (9.0, True), (2.0, None))]
    s = spreads(entries)['c']
    assert (s['trials'], s['passed'], s['degraded'], s['used']) == (3, 3, 1, 2)
    assert s['metrics']['outage_s']['values'] == [1.0, 2.0]
    assert spreads(entries, keep_degraded=True)['c']['metrics']['outage_s']['max'] == 9.0


def calibration(start_ms, late_ms, p95_ms=None):
    return {'process_start_s': {'median': start_ms / 1e3, 'p95': (p95_ms or start_ms) / 1e3},
            'timer_late_s': {'p95': late_ms / 1e3}}


def test_fidelity_verdict_on_known_numbers():
    base = calibration(18.0, 2.0)
    assert verdict(base, calibration(30.0, 40.0, 170.0)) == (False, [])
    degraded, reasons = verdict(base, calibration(40.0, 5.0))
    assert degraded and '2.2x the 18.0 ms calibrated' in reasons[0]
    degraded, reasons = verdict(base, calibration(20.0, 250.0))
    assert degraded and reasons == ['timers fired 250 ms late (95th percentile; limit 100 ms)']
    # a stall: the median is fine, the slowest starts are not
    degraded, reasons = verdict(base, calibration(20.0, 1.0, 1700.0))
    assert degraded and reasons[0].startswith('a stall: process starts took 1700 ms')
    # a 2 ms kernel (UML 7.2, seccomp): 26 ms at the 95th percentile is 12x, but shorter
    # than the prober's period; 60 ms is not
    # the machine taken away between two probes: only the monitor's own wait saw it
    away = dict(calibration(2.5, 0.8, 4.2), wait_late_s={'max': 6.4}, period_s=2.0)
    degraded, reasons = verdict(calibration(2.5, 0.1), away)
    assert degraded and reasons == ["a stall: the machine was taken away for 6.4 s (the "
                                    "monitor's own 2 s wait ended that late; limit 0.5 s)"]
    assert verdict(calibration(2.5, 0.1), dict(away, wait_late_s={'max': 0.2})) == (False, [])
    fast = calibration(2.1, 0.5)
    assert verdict(fast, calibration(3.7, 4.4, 26.0)) == (False, [])
    degraded, reasons = verdict(fast, calibration(3.7, 4.4, 60.0))
    assert degraded and reasons[0].startswith('a stall: process starts took 60 ms')


def test_a_run_that_loads_the_cpu_itself_is_judged_at_4x():
    """The load lab's ramp: 74-79 ms starts under its own load against 34.5 ms idle."""
    base = calibration(34.5, 0.3)
    assert FidelityMonitor(loaded=True).slower == 4.0 and FidelityMonitor().slower == 2.0
    assert verdict(base, calibration(76.0, 0.4, 120.0), 4.0) == (False, [])
    assert verdict(base, calibration(76.0, 0.4, 120.0))[0]          # 2.2x: a quiet run's limit
    degraded, reasons = verdict(base, calibration(150.0, 0.4, 200.0), 4.0)
    assert degraded and '4.3x the 34.5 ms calibrated (limit 4x)' in reasons[0]


def test_fidelity_monitor_measures_this_machine():
    m = FidelityMonitor(period=0.05)
    m.calibration = cal = m.calibrate()
    assert cal['process_start_s']['n'] == 10 and 0 < cal['process_start_s']['median'] < 5
    assert cal['timer_late_s']['n'] == 20 and cal['timer_late_s']['median'] >= 0
    assert m.report()['degraded'] is None           # nothing probed yet: no verdict
    m.start()
    time.sleep(1.0)
    m.stop()
    r = m.report(keep=True)
    assert r['during']['process_start_s']['n'] >= 3 and len(r['samples']) >= 3
    assert r['degraded'] in (True, False) and r['thresholds']['process_start_slower_x'] == 2.0


class Node:
    def __init__(self, name, drops):
        self.name, self.drops = name, drops

    def proc_net(self, name):
        if name == 'dev':
            return ''
        head = 'entries  insert_failed drop early_drop'
        return '%s\n00000000 00000000 %08x 00000000\n' % (head, self.drops)


def test_a_run_whose_network_dropped_packets_by_itself_is_degraded():
    client = Node('client', 5)
    lookups = {'hit': 100, 'missed': 5, 'lost': 0}
    network = type('Network', (), {'nodes': [client, Node('laicoz', 0)],
                                   'hub_drops': lambda self: {},
                                   'hub_lookups': lambda self: dict(lookups),
                                   'probe_machines': lambda self, period: False})()
    m = FidelityMonitor(period=60)
    m.calibration = m.calibrate()
    m.start(network)
    client.drops = 650                  # 645 SYNs lost to a full conntrack table
    lookups.update(hit=1100, missed=15)
    m.stop()
    r = m.report()
    # the hub's flow cache over the measurement: recorded, not judged
    assert r['hub_lookups'] == {'hit': 1000, 'missed': 10}
    # (the kernel's backlog counter is this host's: left out, it may rise on its own)
    assert {k: v for k, v in r['network_drops'].items() if 'conntrack' in k} == \
        {'client conntrack drop': 645}
    assert r['degraded'] and 'client conntrack drop 645' in r['reasons'][-1]
    quiet = FidelityMonitor(period=60)
    quiet.start(network)
    quiet.stop()
    assert not [k for k in quiet.report()['network_drops'] if 'conntrack' in k]


def test_a_slow_machine_of_the_cluster_degrades_the_run_and_is_named():
    """On real machines each one's speed agent calibrates and probes it: laicoy, four
    times slower while measuring than at its calibration, degrades the run by name;
    laicoz, as fast as calibrated, and the client, probed too seldom, do not."""
    from topo.agents.recorder import Recorder
    rec = Recorder()
    network = type('Network', (), {'nodes': [], 'hub_drops': lambda self: {},
                                   'hub_lookups': lambda self: None, 'recorder': rec,
                                   'probe_machines': lambda self, period: True})()
    m = FidelityMonitor(period=60)
    m.calibration = m.calibrate()
    m.start(network)
    m.probe_machines()          # (the run's traffic steady)
    t = time.time()

    def said(node, **fields):
        rec.add(node, json.dumps(dict(fields, kind='speed', t=t)))
    for node in ('laicoz', 'laicoy', 'client'):
        said(node, calibration={'process_start_s': [0.003] * 10, 'timer_late_s': [0.0002] * 20,
                                'load1': 0.1})
    for i in range(5):
        said('laicoz', start_s=0.0032, late_s=0.0003, load1=0.2, away_s=0.001)
        said('laicoy', start_s=0.012, late_s=0.0003, load1=2.5, away_s=0.001)
    said('client', start_s=0.003, late_s=0.0003, load1=0.2, away_s=0.001)
    m.stop()
    r = m.report()
    assert r['machines']['laicoz']['degraded'] is False
    assert r['machines']['laicoy']['degraded'] is True
    assert r['machines']['client']['degraded'] is None      # 1 probe: no verdict
    assert r['degraded'] and [x for x in r['reasons'] if x.startswith('laicoy: ')] == [
        'laicoy: a process start took 12.0 ms during the measurement, 4.0x the 3.0 ms '
        'calibrated (limit 2x)']
    assert not [x for x in r['reasons'] if x.startswith(('laicoz', 'client'))]


def summary_with_trials(tmp_path):
    values = [4.1, 5.3, 4.7, 6.0, 4.9, 5.1]
    entries = [{'cell': 'heartbeat', 'trial': i + 1, 'outage_s': v, 'detected_s': 1.0 + i / 10,
                'passed': True, 'results': str(tmp_path / 'trials' / str(i))}
               for i, v in enumerate(values)]
    for e in entries:           # each trial a run of its own (an experiment without plots)
        Path(e['results']).mkdir(parents=True)
        (Path(e['results']) / 'summary.json').write_text('{"experiment": "example"}')
    s = {'experiment': 'example', 'kernel_mode': 'uml', 'passed': True,
         'trials': entries, 'spreads': spreads(entries)}
    (tmp_path / 'summary.json').write_text(json.dumps(s))
    return s


def test_report_gives_median_iqr_range_and_ci(tmp_path, capsys):
    s = summary_with_trials(tmp_path)
    report.spreads(s, ('outage_s', 'detected_s'))
    text = capsys.readouterr().out
    assert 'heartbeat, uml mode: 6 of 6 trials passed' in text
    m = s['spreads']['heartbeat']['metrics']['outage_s']
    assert math.isclose(m['median'], 5.0)
    assert 'outage_s                 5.0 [IQR %s-%s] range 4.1-6.0 (6 trials; 95%% CI 4.1-6.0)' \
        % (m['q1'], m['q3']) in text


def test_trials_plot_is_a_png(tmp_path):
    summary_with_trials(tmp_path)
    assert plot(tmp_path) == ['trials.png']
    assert (tmp_path / 'trials.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_a_trials_numbers_from_a_run_result():
    """What one trial of a ramp, a scale-out and the schedulers reports."""
    from topo.analysis.load import load_numbers
    from topo.analysis.scheduling import scheduler_numbers
    from topo.engine.run import RunResult
    r = RunResult()
    r.measured.levels = [{'target': 'vip', 'concurrency': 100, 'rps': 812.5, 'p99_s': 0.21,
                          'failed': 0, 'ok': 1000}]
    r.measured.scale = [{'servers': 1, 'rps': 300.0}, {'servers': 2, 'rps': 540.0}]
    r.analysis = {'scaling_efficiency': {1: 1.0, 2: 0.9}}
    assert load_numbers(r) == {'vip_100_rps': 812.5, 'vip_100_p99_s': 0.21, 'vip_100_failed': 0,
                               'servers_1_rps': 300.0, 'servers_1_efficiency': 1.0,
                               'servers_2_rps': 540.0, 'servers_2_efficiency': 0.9}
    r.measured.schedulers = {'wrr': {'max_deviation': 0.0, 'failed': 0, 'rounds_exact': True,
                                     'answers': {'laico2': 8}}}
    assert scheduler_numbers(r) == {'wrr_max_deviation': 0.0, 'wrr_failed': 0}


def test_compare_script_says_what_the_trials_support(tmp_path):
    import subprocess
    from conftest import PYTHON, ROOT
    for name, values in (('keepalived', [0.6, 0.55, 0.7]), ('hot-standby', [4.7, 4.2, 5.3])):
        entries = [{'cell': name, 'outage_s': v, 'passed': True} for v in values]
        (tmp_path / name).mkdir()
        (tmp_path / name / 'summary.json').write_text(json.dumps(
            {'kernel_mode': 'uml', 'spreads': spreads(entries)}))
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'compare.py'),
                        str(tmp_path / 'hot-standby'), str(tmp_path / 'keepalived'),
                        '--metrics', 'outage_s', '--plot', str(tmp_path / 'c.png')],
                       stdout=subprocess.PIPE,
                       universal_newlines=True, timeout=60)
    assert p.returncode == 0
    assert 'hot-standby (3/3)                  median 4.7' in p.stdout
    assert 'keepalived (3/3) below hot-standby (3/3) in 9 of 9 pairs of trials: every trial' \
        in p.stdout
    assert (tmp_path / 'c.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    (tmp_path / 'single').mkdir()
    (tmp_path / 'single' / 'summary.json').write_text('{"experiment": "failover"}')
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'compare.py'),
                        str(tmp_path / 'single')], stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=60)
    assert p.returncode == 2 and 'run it with --trials N' in p.stderr
