"""The failover sweep: its points come from the stacks' layouts and sweep axes, its
statistics, bad sweeps refused, and a short two-point sweep end to end."""
import csv
import json
import subprocess

import pytest

from conftest import PYTHON, ROOT, experiment, leftovers, refused
from topo import ha
from topo.stats import spread


def plan(*argv):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'sweep.py'), '--plan'] + list(argv),
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=60, check=True)
    return json.loads(p.stdout)


def test_points_come_from_the_stacks_layouts_and_axes():
    cells = plan('--repeats', '1')['cells']
    want = [(name, float(v)) for name, (cls, _, _) in ha.layouts().items()
            for v in cls.sweep_axis.default.split(',')]
    assert [(c['configuration'], c['setting_s']) for c in cells] == want
    one = plan('--configurations', 'heartbeat,keepalived', '--deadtimes', '2',
               '--advert-ints', '0.5')['cells']
    heartbeat, keepalived = [c['stack'] for c in one]
    # keepalive scales with the deadtime, as the heartbeat stack's sweep axis says
    assert (heartbeat['deadtime'], heartbeat['keepalive'], heartbeat['hot_standby']) == \
        (2.0, 0.5, False)
    assert keepalived['advert_int'] == 0.5


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
