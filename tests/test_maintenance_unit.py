"""The rolling upgrade's arithmetic (topo/analysis/maintenance.py) on a made-up run."""
from topo.analysis.maintenance import analyse, numbers
from topo.engine.run import RunResult


def made_up_run():
    r = RunResult()
    # laico2: drained 100-101, stopped 101, out 101.5, started 102, back 104
    r.measured.maintenance = [
        {'server': 'laico2', 'drain': 100.0, 'drained': 101.0, 'stop': 101.0, 'removed': 101.5,
         'started': 102.0, 'back': 104.0, 'version': 2},
        {'server': 'laico3', 'stop': 110.0, 'removed': 112.0, 'started': 112.5, 'back': 115.0,
         'version': 2}]
    r.history.probes = [{'t': t, 'ok': ok} for t, ok in (
        (99.0, True), (100.5, True), (103.0, True), (110.5, False), (111.0, False),
        (116.0, True), (120.0, False))]
    r.measured.load_done = {'ok': 500, 'failed': {'timeout': 3, 'refused': 1}}
    r.history.t_end = 121.0
    return r


def test_each_servers_times_and_its_failures_in_its_window():
    m = analyse(made_up_run())['maintenance']
    laico2, laico3 = m['servers']
    assert (laico2['drain_s'], laico2['removed_after_stop_s'], laico2['back_after_start_s'],
            laico2['out_of_service_s']) == (1.0, 0.5, 2.0, 4.0)
    assert (laico2['probes'], laico2['failed_probes']) == (2, 0)
    # the naive way: no drain, its window starts at the stop
    assert laico3['drain_s'] is None and laico3['out_of_service_s'] == 5.0
    assert (laico3['probes'], laico3['failed_probes']) == (2, 2)
    # in all: the failure outside every window counts too, and the load's by kind
    assert (m['failed_probes'], m['probes'], m['load_failed'], m['failed_requests']) == \
        (3, 7, 4, 7)


def test_a_runs_headline_numbers():
    n = numbers(analyse(made_up_run()))
    assert n == {'failed_requests': 7, 'failed_probes': 3, 'probes': 7, 'load_failed': 4,
                 'load_answered': 500, 'longest_out_of_service_s': 5.0}
    assert numbers(analyse(RunResult()))['load_failed'] is None        # prober alone
