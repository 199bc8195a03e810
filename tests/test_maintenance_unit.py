"""The arithmetic of a rolling upgrade and of a resize (topo/analysis/maintenance.py)
on made-up runs."""
from topo.analysis.maintenance import analyse, growth, numbers
from topo.engine.run import RunResult


def made_up_run():
    r = RunResult()
    # laico2: drained 100-101, stopped 101, out 101.5, started 102, back 104
    r.measured.server_work = [
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
    a = analyse(made_up_run())
    laico2, laico3 = a['maintenance']['servers']
    m = a['requests']
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


def test_a_resize_from_the_reload_to_the_table_and_the_new_servers_answers():
    r = RunResult()
    r.measured.resizes = [
        {'servers': 6, 'from': 3, 'reload': 200.0, 'table': 201.5, 'added': ['laico5', 'laico6',
         'laico7'], 'removed': [], 'answered': {'laico5': 201.6, 'laico6': 201.7, 'laico7': 202.0}},
        {'servers': 3, 'from': 6, 'reload': 230.0, 'table': 230.8, 'added': [],
         'removed': ['laico5', 'laico6', 'laico7'], 'answered': {}}]
    r.history.probes = [{'t': t, 'ok': ok} for t, ok in ((199.0, False), (205.0, True),
                                                         (231.0, False), (232.0, True))]
    r.history.t_end = 240.0
    a = growth(r)
    grow, shrink = a['growth']['resizes']
    assert (grow['table_s'], grow['all_new_answered_s'], grow['probes'],
            grow['failed_probes']) == (1.5, 2.0, 1, 0)
    assert (shrink['table_s'], shrink['all_new_answered_s'], shrink['failed_probes']) == \
        (0.8, None, 1)
    assert a['requests']['failed_requests'] == 2        # the one before the growth too
    n = numbers(a)
    assert (n['table_3_to_6_s'], n['new_answered_3_to_6_s'], n['table_6_to_3_s']) == \
        (1.5, 2.0, 0.8)
    assert 'new_answered_6_to_3_s' not in n
