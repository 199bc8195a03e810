"""Integration: the paper's claim of maintenance without unavailability, measured: a
rolling upgrade of every real server with keepalived, drained first, costs no request."""
import json
import time

from conftest import EXPECTED_MODE, experiment, leftovers


def test_rolling_upgrade_drained_loses_no_request(run_dir):
    t0 = time.monotonic()
    p = experiment('maintenance', '--results', str(run_dir), '--layouts', 'keepalived',
                   '--ways', 'drained')
    print('rolling upgrade, keepalived, drained: %.1fs (%s)' % (time.monotonic() - t0,
                                                                 EXPECTED_MODE))
    assert p.returncode == 0
    s = json.loads((run_dir / 'summary.json').read_text())
    assert s['complete'] and s['passed'] and s['kernel_mode'] == EXPECTED_MODE
    [cell] = s['maintenance']
    assert (cell['layout'], cell['way'], cell['failed_requests']) == ('keepalived', 'drained', 0)
    assert cell['probes'] > 100                     # the prober ran all along
    c = json.loads((run_dir / 'cells' / 'keepalived-drained' / 'summary.json').read_text())
    assert c['checks'] == {'forwarded': [], 'steps_done': [], 'invariants': [],
                           'upgraded': [], 'no_failed_requests': []}
    # each server: drained, stopped, taken out by the health check, back, in turn
    servers = c['maintenance']['servers']
    assert [r['server'] for r in servers] == ['laico2', 'laico3', 'laico4']
    assert all(r['version'] == 2 and r['failed_probes'] == 0 for r in servers)
    assert all(r['drain_s'] is not None and r['removed_after_stop_s'] is not None
               and r['back_after_start_s'] is not None for r in servers)
    marks = c['marks']
    order = [k for k in sorted(marks, key=marks.get) if k.startswith('stage:laico')]
    assert order[:3] == ['stage:laico2 draining', 'stage:laico2 down', 'stage:laico2 back']
    assert c['versions'] == {'laico2': 2, 'laico3': 2, 'laico4': 2}
    assert (run_dir / 'maintenance.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert leftovers(p.run_id) == []
