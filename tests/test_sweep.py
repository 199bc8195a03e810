"""The failover sweep: statistics (unit) and a short two-point sweep end to end."""
import csv
import json
import subprocess

import pytest

from conftest import PYTHON, ROOT, leftovers
from experiments import sweep


def test_points_come_from_the_stacks_layouts_and_axes():
    args = sweep.parse_args(['--deadtimes', '2', '--advert-ints', '0.5', '--repeats', '1'])
    assert [(p[0], p[3]) for p in args.points] == \
        [('heartbeat', 2.0), ('hot-standby', 2.0), ('keepalived', 0.5)]
    heartbeat, hot, keepalived = [p[4] for p in args.points]
    # keepalive scales with the deadtime, as the heartbeat stack's sweep axis says
    assert (heartbeat.deadtime, heartbeat.keepalive, heartbeat.hot_standby) == (2.0, 0.5, False)
    assert hot.hot_standby is True and keepalived.advert_int == 0.5


def test_median_and_ratio():
    rows = [{'setting_s': 2.0, 'outage_s': o} for o in (5.0, 9.0, 4.0)]
    assert sweep.median_row(rows) == {'median_outage_s': 5.0, 'min_outage_s': 4.0,
                                      'max_outage_s': 9.0, 'outage_per_setting': 2.5,
                                      'measured': 3}
    rows.append({'setting_s': 2.0, 'outage_s': None})      # a failover not measured
    assert sweep.median_row(rows)['measured'] == 3
    assert sweep.median_row([{'setting_s': 1.0, 'outage_s': None}])['median_outage_s'] is None


@pytest.mark.parametrize('argv', [['--configurations', 'nope'], ['--deadtimes', '1,x'],
                                  ['--repeats', '0'], ['--advert-ints', '1.5'],
                                  ['--deadtimes', '0.02']])
def test_bad_sweeps_are_refused_before_anything_starts(argv):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'sweep.py')] + argv,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    assert p.returncode == 2 and 'kernel mode' not in p.stdout, p.stdout


def test_two_point_sweep(run_dir):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'sweep.py'), '--results',
                        str(run_dir), '--configurations', 'keepalived',
                        '--advert-ints', '0.2,1', '--repeats', '1'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=1200)
    print(p.stdout)
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
    assert leftovers() == []
