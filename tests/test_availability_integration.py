"""Integration: availability under a fault schedule, one director without HA against
keepalived: the same seeded schedule (one power-off of laicoz, 20 s) costs the lone
director the whole repair and keepalived a takeover."""
import json
import time

from conftest import EXPECTED_MODE, experiment, leftovers


def test_one_schedule_replayed_the_lone_director_waits_for_its_repair(run_dir):
    t0 = time.monotonic()
    p = experiment('availability', '--results', str(run_dir), '--layouts', 'single,keepalived',
                   '--faults', 'power-off', '--targets', 'laicoz', '--duration', '40',
                   '--mtbf', '5', '--mttr', '20', '--min-repair', '20', '--seed', '5')
    print('availability, single and keepalived, 40 s each: %.1fs (%s)'
          % (time.monotonic() - t0, EXPECTED_MODE))
    assert p.returncode == 0
    s = json.loads((run_dir / 'summary.json').read_text())
    assert s['complete'] and s['passed'] and s['kernel_mode'] == EXPECTED_MODE
    [planned] = s['parameters']['schedule']
    assert (planned['fault'], planned['target'], planned['repair']) == ('power-off', 'laicoz', 20)
    runs = {}
    for cell in s['availability']:
        c = json.loads((run_dir / 'cells' / cell['layout'] / 'summary.json').read_text())
        assert c['checks']['invariants'] == [] and c['checks']['availability_measured'] == []
        [played] = c['schedule']['faults']
        assert played['late_s'] < 1.0              # replayed on the clock
        runs[cell['layout']] = c['availability']
    single, kept = runs['single'], runs['keepalived']
    [lone], [ha] = single['faults'], kept['faults']
    # no one to take over: down through the repair, and the boot after it
    assert lone['waited_for_repair'] and lone['down_during_s'] >= 18, lone
    assert single['downtime_s'] >= 20
    # keepalived's backup took over within seconds, whatever the repair time
    assert not ha['waited_for_repair'] and ha['downtime_s'] < 5
    assert kept['by_time'] > single['by_time']
    assert single['extrapolated']['cost_per_fault_s']['director'] > 4 * 3600
    assert kept['extrapolated']['nines'] > single['extrapolated']['nines']
    assert (run_dir / 'availability.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert leftovers(p.run_id) == []
