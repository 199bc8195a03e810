"""Integration: faults end to end on the real cluster (UML here), their invariants
checked against what the daemons themselves logged."""
import json
import time

import pytest

from conftest import PYTHON, ROOT, Terminal, experiment, leftovers
from topo import faults, ha


def run_faults(run_dir, *flags):
    t0 = time.monotonic()
    p = experiment('faults', '--results', str(run_dir), *flags)
    print('faults.py %s: %.1fs' % (' '.join(flags), time.monotonic() - t0))
    s = json.loads((run_dir / 'summary.json').read_text())
    [cell] = s['faults']
    cell_dir = run_dir / 'cells' / ('%s-%s' % (cell['layout'], cell['fault']))
    cell_summary = json.loads((cell_dir / 'summary.json').read_text())
    return p, s, cell, cell_dir, cell_summary


def log(cell_dir, node, name):
    return (cell_dir / 'logs' / node / name).read_text()


@pytest.mark.slow     # (the fault itself: keepalived's test; heartbeat's: the matrix)
def test_cable_pull_with_heartbeat(run_dir):
    p, s, cell, cell_dir, cs = run_faults(run_dir, '--fault', 'cable-pull')
    assert s['complete'] and cell['fault'] == 'cable-pull' and cell['target'] == 'laicoz'
    laicoy, laicoz = log(cell_dir, 'laicoy', 'ha-log'), log(cell_dir, 'laicoz', 'ha-log')
    # the backup noticed the silence and took the VIP while the cable was out
    assert 'node laicoz: is dead' in laicoy and cell['noticed_s'] is not None
    # decomposed as every fault is: laicoy took the VIP while the cable was out, and its
    # (cold: ldirectord starts with the VIP) table was complete only after that
    assert 0 < cell['noticed_s'] < cell['owner_change_s'] < cell['cleared_s']
    assert cell['table_complete_s'] is None or cell['table_complete_s'] > cell['owner_change_s']
    assert cell['failed_requests'] > 0 and cell['outage_s'] > 0
    # split brain as heartbeat itself saw it after the plug <=> as the monitors measured it
    saw_two = any(w in laicoy + laicoz for w in ('Both machines own', 'returning after partition'))
    assert (cell['dual_owner_s'] > 0) == saw_two, (cell['dual_owner'], saw_two)
    # the testbed reports the fault's timeline and comes back to one owner with the full table
    assert (cell_dir / 'fault_timeline.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert (run_dir / 'fault_timeline.png').exists() and (run_dir / 'fault_matrix.csv').exists()
    assert p.returncode == 0 and cell['passed'] and cell['left_behind'] == []
    assert cell['final_owner'] == 'laicoz' and cell['recovered_after_clear_s'] is not None
    assert cs['invariants']['false_takeovers'] == []
    assert leftovers(p.run_id) == []


def test_cable_pull_with_keepalived_never_gives_two_owners(run_dir):
    """Run with GRE tunnels to real servers behind a router: laicoz reaches them only by
    its route through the router, which the kernel drops with the cable; its table is
    whole again after the plug only if the route came back."""
    p, s, cell, cell_dir, cs = run_faults(run_dir, '--stack', 'keepalived', '--fault',
                                          'cable-pull', '--forwarding', 'tun', '--tun-type',
                                          'gre', '--remote-servers')
    assert cs['parameters']['tun_type'] == 'gre' and cs['parameters']['remote_servers']
    assert cs['parameters']['addresses']['laico2'] == '192.168.14.12'
    assert cell['recovered_after_clear_s'] is not None
    laicoz = log(cell_dir, 'laicoz', 'keepalived.log')
    assert 'Entering FAULT STATE' in laicoz       # its interface went down: it lets go at once
    assert 'Entering MASTER STATE' in log(cell_dir, 'laicoy', 'keepalived.log')
    assert cell['dual_owner_s'] <= cs['dual_owner_tolerance_s']
    assert p.returncode == 0 and cell['passed'] and cell['final_owner'] == 'laicoz'
    assert leftovers(p.run_id) == []


def test_a_starved_primary_loses_the_vip_to_fast_detection(run_dir):
    """keepalived's adverts every 0.1 s from a laicoz that keeps a tenth of a CPU in
    one burst a second: laicoy becomes MASTER while laicoz never failed (a false
    takeover), and gives the VIP back at each burst; the service still answers (IPVS
    forwards in the kernel, which no cgroup caps). laicoz's group was throttled."""
    p, s, cell, cell_dir, cs = run_faults(run_dir, '--stack', 'keepalived', '--advert-int',
                                          '0.1', '--fault', 'starve', '--hold', '6')
    assert p.returncode == 0 and cell['passed'] and cell['final_owner'] == 'laicoz'
    assert cell['owner_change_s'] is not None and cell['owner_change_s'] < 3
    assert 'Entering MASTER STATE' in log(cell_dir, 'laicoy', 'keepalived.log')
    assert cs['cgroup_usage']['laicoz']['throttled_periods'] >= 3
    assert leftovers(p.run_id) == []


def test_partition_then_power_off_is_split_brain_then_a_false_takeover(run_dir):
    """keepalived: with the path between the directors cut, both become MASTER (two
    owners, measured); switching laicoz off then is no failover, since laicoy held
    the VIP already: reported as a false takeover, and the run fails its check."""
    p, s, cell, cell_dir, cs = run_faults(run_dir, '--stack', 'keepalived', '--fault',
                                          'partition', '--then', 'power-off', '--hold', '4')
    laicoy = log(cell_dir, 'laicoy', 'keepalived.log')
    assert 'Entering MASTER STATE' in laicoy
    assert cell['dual_owner_s'] > 0 and cell['dual_owner'][0][0] >= 0    # after the cut
    power_off = [f for f in cs['failover_repeats'] if f['false_takeover']]
    assert power_off and power_off[0]['outage_s'] is None       # never "an outage of 0.03 s"
    assert p.returncode == 1 and not cell['passed'] and s['passed'] is False
    assert 'false takeover' in p.stdout or 'held the VIP before the fault' in p.stdout
    assert leftovers(p.run_id) == []


def test_the_live_lab_on_a_terminal():
    """cluster.py --cli --stack keepalived: owners, a partition and its heal, figure;
    then every registered fault, injected and cleared by its own lab command."""
    term = Terminal([PYTHON, str(ROOT / 'experiments' / 'cluster.py'), '--cli',
                     '--stack', 'keepalived'])

    def command(text, until='lab>', timeout=120):
        term.type(text)
        return term.expect(until, timeout)

    try:
        term.expect('lab>')
        assert 'partition' in command('help')
        listed = command('faults')
        assert all(name in listed for name in faults.load())
        assert 'VIP owners: laicoz' in command('owners')
        assert 'directors partitioned' in command('partition')
        command('sh sleep 3')
        assert 'SPLIT BRAIN' in command('owners')
        assert 'directors healed' in command('heal')
        command('sh sleep 5')
        assert 'VIP owners: laicoz\r\n' in command('owners')
        out = command('figure')
        assert '--- laicoz' in out and '--- laicoy' in out and 'laico2:http' in out
        for name, cls in sorted(faults.load().items()):
            target = 'laico3' if cls.targets == 'real server' else 'laicoy'
            words = {'flap': 'count=1 period=1'}.get(name, '')
            node = '' if cls.targets == 'directors' else target
            done = command('inject %s %s %s' % (name, node or 'laicoz', words))
            assert cls.description in done, (name, done)
            assert 'faults in place: %s on' % name in command('owners')
            assert cls.clear_word in command('clear %s %s' % (node or 'laicoz', name),
                                             timeout=180), name
        assert 'in place: nothing' in command('faults')
        assert 'laicoy lossy' in command('loss laicoy 20')           # the short forms
        assert 'laicoy clean' in command('loss laicoy 0')
        term.type('exit')
        assert term.proc.wait(timeout=120) == 0
    finally:
        term.close()
    assert leftovers(term.run_id) == []


@pytest.mark.slow
def test_the_fault_matrix(run_dir):
    """Every fault against every layout (about an hour in uml mode)."""
    p = experiment('faults', '--results', str(run_dir), '--matrix', timeout=5400)
    s = json.loads((run_dir / 'summary.json').read_text())
    assert s['complete'] and len(s['faults']) == len(faults.load()) * len(ha.layouts())
    assert (run_dir / 'fault_matrix.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert leftovers(p.run_id) == []
