"""The failover sweep: its points come from the stacks' layouts and sweep axes, its
statistics, bad sweeps refused, and a short two-point sweep end to end."""
import csv
import json
import subprocess
from types import SimpleNamespace

import pytest

from conftest import PYTHON, ROOT, experiment, leftovers, refused
from experiments import sweep
from topo import ha
from topo.analysis.report import false_takeovers
from topo.engine.matrix import Cell
from topo.stats import spread


def plan(*argv):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'sweep.py'), '--plan'] + list(argv),
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=60, check=True)
    return json.loads(p.stdout)


def test_points_come_from_the_stacks_layouts_and_axes():
    cells = plan('--repeats', '1')['cells']
    want = [(name, float(v) * cls.sweep_axis.seconds) for name, (cls, _, _)
            in ha.layouts().items() for v in cls.sweep_axis.default.split(',')]
    assert [(c['configuration'], c['setting_s']) for c in cells] == pytest.approx(want)
    # Corosync's token is given in ms, its points are in seconds like every other stack's
    tokens = [c for c in cells if c['configuration'] == 'pacemaker']
    assert [(c['stack']['token'], c['setting_s']) for c in tokens] == [
        (3000, 3.0), (1000, 1.0), (500, 0.5)]
    one = plan('--configurations', 'heartbeat,keepalived', '--deadtimes', '2',
               '--advert-ints', '0.5')['cells']
    heartbeat, keepalived = [c['stack'] for c in one]
    # keepalive scales with the deadtime, as the heartbeat stack's sweep axis says
    assert (heartbeat['deadtime'], heartbeat['keepalive'], heartbeat['hot_standby']) == \
        (2.0, 0.5, False)
    assert keepalived['advert_int'] == 0.5


def test_the_service_may_be_ipv6_or_both_families():
    s = plan('--configurations', 'keepalived', '--advert-ints', '0.2', '--repeats', '1',
             '--vip', '2001:db8:14::146', '--dual-stack')
    assert s['parameters']['vips'] == ['2001:db8:14::146', '10.0.14.146']
    assert s['parameters']['subnet6'] == '2001:db8:14::/64'
    assert [c['configuration'] for c in s['cells']] == ['keepalived']
    assert 'not inside the IPv6 subnet' in refused('sweep', '--vip', '2001:db8:99::1')


def test_each_condition_adds_a_boot_to_every_point():
    cells = plan('--configurations', 'keepalived,hot-standby', '--advert-ints', '0.1,1',
                 '--deadtimes', '1', '--loss', '25', '--starve', '0.2', '--cycle', '0.5',
                 '--hold', '12')['cells']
    assert [(c['name'], c['scenario']) for c in cells] == [
        ('keepalived-advert_int-0.1', 'failovers'), ('keepalived-advert_int-0.1-loss', 'fault'),
        ('keepalived-advert_int-0.1-starve', 'fault'),
        ('keepalived-advert_int-1', 'failovers'), ('keepalived-advert_int-1-loss', 'fault'),
        ('keepalived-advert_int-1-starve', 'fault'),
        ('hot-standby-deadtime-1', 'failovers'), ('hot-standby-deadtime-1-loss', 'fault'),
        ('hot-standby-deadtime-1-starve', 'fault')]
    lossy, starved = cells[1], cells[2]
    assert (lossy['fault'], lossy['target'], lossy['params'], lossy['hold_s']) == \
        ('loss', 'laicoz', {'percent': 25.0}, 12.0)
    assert (starved['fault'], starved['params'], starved['condition']) == \
        ('starve', {'share': 0.2, 'cycle': 0.5}, 'CPU 0.2 of every 0.5 s')
    # the boots under a condition run the point's own settings
    assert lossy['stack']['advert_int'] == 0.1 and cells[4]['stack']['advert_int'] == 1.0
    assert cells[8]['stack']['deadtime'] == 1.0 and cells[8]['stack']['hot_standby']


def test_a_takeover_under_a_condition_is_false_only_while_it_is_in_place():
    cell = Cell('k-loss', None, None, {'configuration': 'keepalived', 'setting': 'advert_int',
                                       'setting_s': 0.1, 'condition': '30% loss'})

    def result(timeline, passed=True, steps_done=(), forwarded=()):
        return SimpleNamespace(analysis={'fault_timelines': [timeline]}, passed=passed,
                               checks={'forwarded': list(forwarded), 'invariants': [],
                                       'steps_done': list(steps_done)})
    taken = {'owner_change_s': 3.2, 'cleared_s': 20.0, 'dual_owner_s': 0.4, 'failed_requests': 2}
    entry, rows = sweep.under_stress(cell, result(taken), 'out')
    assert entry['false_takeover'] is True and entry['dual_owner_s'] == 0.4 and rows == [entry]
    # laicoz kept the VIP the whole hold; a move after the clear is not a false takeover
    for t in ({'owner_change_s': None, 'cleared_s': 20.0}, {'owner_change_s': 20.5,
                                                           'cleared_s': 20.0}):
        assert sweep.under_stress(cell, result(t), 'out')[0]['false_takeover'] is False
    assert entry['vouched'] is True
    # a split brain that never healed within the wait: the run fails, the boot still
    # vouches for its false takeover; a hub that did not forward vouches for nothing
    unhealed = sweep.under_stress(cell, result(taken, False, ['did not come back']), 'out')[0]
    assert unhealed['vouched'] and not unhealed['passed']
    dead_hub = sweep.under_stress(cell, result(taken, False, forwarded=['lost']), 'out')[0]
    assert not dead_hub['vouched']
    # boots counted per point and condition: those that vouch and were not degraded
    starved = dict(entry, condition='CPU 0.1 of every 1 s')
    runs = [dict(entry), dict(entry, false_takeover=False), dead_hub,
            dict(entry, degraded=True), unhealed,
            dict(entry, setting_s=1.0, false_takeover=False), starved]
    assert false_takeovers(runs) == [(('keepalived', 0.1, '30% loss'), 2, 3),
                                     (('keepalived', 1.0, '30% loss'), 0, 1),
                                     (('keepalived', 0.1, 'CPU 0.1 of every 1 s'), 1, 1)]


@pytest.mark.parametrize('argv, message', [
    (['--loss', '0'], 'share of packets lost'), (['--loss', '101'], 'share of packets lost'),
    (['--loss', '30', '--hold', '0'], 'positive'), (['--hold', '5'], 'only with --loss'),
    (['--starve', '1'], '--starve 1: the share of one CPU'), (['--cycle', '0.5'], 'only with'),
    (['--starve', '0.1', '--cycle', '2'], '1 ms to 1 s')])
def test_bad_conditions_are_refused(argv, message):
    assert message in refused('sweep', *argv)


def test_spread():
    assert spread([5.0, 9.0, 4.0]) == {'median': 5.0, 'q1': 4.5, 'q3': 7.0, 'iqr': 2.5,
                                       'min': 4.0, 'max': 9.0, 'ci95': None,
                                       'ci95_coverage': None, 'measured': 3}
    assert spread([5.0, None, 4.0])['measured'] == 2     # a failover not measured
    assert spread([None])['median'] is None


@pytest.mark.parametrize('argv, message', [
    (['--configurations', 'nope'], 'unknown configuration'), (['--deadtimes', '1,x'], 'seconds'),
    (['--repeats', '0'], 'at least 1'), (['--advert-ints', '1.5'], 'whole seconds'),
    (['--deadtimes', '0.02'], 'at least 10 ms'),
    (['--configurations', 'keepalived', '--deadtimes', '2'], 'none of the chosen')])
def test_bad_sweeps_are_refused_before_anything_starts(argv, message):
    assert message in refused('sweep', *argv)


@pytest.mark.slow     # (its points and flags: the unit tests above)
def test_two_point_sweep(run_dir):
    p = experiment('sweep', '--results', str(run_dir), '--configurations', 'keepalived',
                   '--advert-ints', '0.2,1', '--repeats', '1')
    assert p.returncode == 0
    s = json.loads((run_dir / 'summary.json').read_text())
    assert s['complete'] and s['passed'] and len(s['points']) == 2
    for point in s['points']:
        assert point['measured'] == 1 and 0 < point['median_outage_s'] < 60
        assert point['outage_per_setting'] == round(point['median_outage_s'] /
                                                    point['setting_s'], 2)
    with open(run_dir / 'sweep.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['configuration'], r['setting_s']) for r in rows] == \
        [('keepalived', '0.2'), ('keepalived', '1.0')]
    assert (run_dir / 'failover_sweep.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert leftovers(p.run_id) == []
