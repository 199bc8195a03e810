"""Integration: Pacemaker + Corosync on the real cluster (UML here): the paper's
experiment with 8/8 figures and the lost primary fenced before the takeover; a
partition that fencing ends with one owner (the holder shoots first)."""
import json
import time

from conftest import EXPECTED_MODE, experiment, leftovers
from test_failover_integration import check_paper_run
from test_faults_integration import run_faults


def fences(run_dir):
    return [json.loads(line) for line in (run_dir / 'events.jsonl').read_text().splitlines()
            if '"fence"' in line]


def test_pacemaker_failover_fences_the_lost_primary_first(run_dir):
    t0 = time.monotonic()
    p = experiment('failover', '--results', str(run_dir), '--stack', 'pacemaker',
                   '--hot-standby', '--token', '1000')
    print('pacemaker hot standby, token 1000 ms: %.1fs (%s)' % (time.monotonic() - t0,
                                                                 EXPECTED_MODE))
    assert p.returncode == 0
    s = check_paper_run(run_dir, 'pacemaker', True, ('laicoy', 'corosync.log', 'Members left: 1'))
    assert s['parameters']['stack']['token'] == 1000 and s['parameters']['stack']['fencing'] == 'on'
    # laicoy fenced the powered-off laicoz through the testbed's power, then took the VIP
    [fence] = [f for f in fences(run_dir) if f['node'] == 'laicoz']
    assert fence['action'] == 'off'
    fo = s['failover']
    assert fo['detected_s'] <= fo['fenced_s'] <= fo['vip_taken_s']
    # the fence waited its priority delay (2 s) for the holder laicoz had been
    assert fo['fenced_s'] - fo['detected_s'] >= 1.5
    assert "Operation 'off' targeting laicoz" in (run_dir / 'logs' / 'laicoy' /
                                                  'pacemaker.log').read_text()
    assert leftovers(p.run_id) == []


def test_a_partition_ends_with_the_backup_fenced_and_one_owner(run_dir):
    """With --ping (both directors still reach the client, so each one's ping heuristic
    lets its fencing go on): the fence level of two devices works end to end."""
    p, s, cell, cell_dir, cs = run_faults(run_dir, '--fault', 'partition', '--stack', 'pacemaker',
                                          '--token', '1000', '--ping')
    assert p.returncode == 0 and cell['passed']
    # both lost each other; the holder (laicoz) fenced first, laicoy's fence of it waited
    # the priority delay and never came: never two owners
    assert cell['noticed_s'] is not None
    assert cell['dual_owner_s'] == 0 and cell['final_owner'] == 'laicoz'
    assert cell['fenced'] and cell['fenced'].startswith('laicoy off at ')
    assert [f['node'] for f in fences(cell_dir)] == ['laicoy']
    assert cs['invariants']['false_takeovers'] == []
    log = (cell_dir / 'logs' / 'laicoz' / 'pacemaker.log').read_text()
    assert "targeting laicoy using heuristic-laicoy returned 0" in log
    assert leftovers(p.run_id) == []
