"""The availability experiment without a cluster: the seeded fault schedule
(topo/engine/schedule.py), the availability arithmetic (topo/analysis/availability.py)
on made-up runs, and the experiment's refusals before anything starts."""
import statistics

import pytest

from experiments import availability as experiment
from topo.analysis import availability as A
from topo.engine import schedule
from topo.engine.run import RunResult

CHOICES = {'laicoz': ['crash', 'power-off'], 'laicoy': ['crash', 'power-off'],
           'laico2': ['hang', 'power-off']}


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another():
    one = schedule.generate(7, 3600, 60, 30, CHOICES, min_repair=20)
    assert one == schedule.generate(7, 3600, 60, 30, CHOICES, min_repair=20)
    assert one != schedule.generate(8, 3600, 60, 30, CHOICES, min_repair=20)
    assert len(one) > 10


def test_faults_come_one_at_a_time_within_the_duration_each_of_a_kind_its_node_takes():
    faults = schedule.generate(3, 5000, 40, 30, CHOICES, min_repair=20)
    for f in faults:
        assert f.fault in CHOICES[f.target]
        assert f.repair >= 20 and f.cleared <= 5000
    for a, b in zip(faults, faults[1:]):
        assert b.at > a.cleared                 # the next only after the repair


def test_up_and_repair_times_have_the_means_asked_for():
    faults = schedule.generate(11, 2_000_000, 60, 30, CHOICES, min_repair=20)
    ups = [b.at - a.cleared for a, b in zip(faults, faults[1:])]
    assert statistics.mean(ups) == pytest.approx(60, rel=0.05)
    assert statistics.mean(f.repair for f in faults) == pytest.approx(30, rel=0.05)
    assert {f.target for f in faults} == set(CHOICES)


@pytest.mark.parametrize('args', [dict(mtbf=0, mttr=30), dict(mtbf=60, mttr=-1),
                                  dict(mtbf=60, mttr=10, min_repair=20)])
def test_impossible_schedules_are_refused(args):
    with pytest.raises(ValueError):
        schedule.generate(1, 600, choices=CHOICES, **args)


def test_only_the_kinds_that_apply_to_a_node_are_drawn_for_it():
    got = schedule.applicable(['crash', 'hang'], ['laicoz', 'laico2', 'client'],
                              lambda k, t: (k == 'crash') == t.startswith('laicoz'))
    assert got == {'laicoz': ['crash'], 'laico2': ['hang'], 'client': ['hang']}


def made_up_run():
    """200 s probed 10 times a second: a director power-off at 20 s, repaired at 50 s,
    down 20.0-52.0 (through the repair, then a boot); a hang at 100 s, repaired at
    130 s, down 100.0-103.0 (the health check); failed probes at 5.0-5.2 before any."""
    r = RunResult()
    down = [(5.0, 5.3), (20.0, 52.0), (100.0, 103.0)]
    r.history.probes = [{'t': t / 10, 'ok': not any(a <= t / 10 < b for a, b in down)}
                        for t in range(0, 2000)]
    r.measured.schedule = {'start': 0.0, 'end': 200.0, 'duration_s': 200.0, 'faults': [
        {'fault': 'power-off', 'target': 'laicoz', 'injected': 20.0, 'cleared': 50.0,
         'late_s': 0.0},
        {'fault': 'hang', 'target': 'laico2', 'injected': 100.0, 'cleared': 130.0,
         'late_s': 2.5}]}
    return r


def analysed(mtbf_days=30, mttr_h=4):
    return A.analyse(made_up_run(), 0.1, {'director': 2, 'real server': 3},
                     ('laicoz', 'laicoy'), mtbf_days, mttr_h)['availability']


def test_downtime_is_the_failed_stretches_and_each_fault_gets_its_share():
    a = analysed()
    assert a['downtime_s'] == pytest.approx(35.3)
    assert a['by_time'] == pytest.approx(1 - 35.3 / 200)
    assert (a['requests'], a['answered']) == (2000, 2000 - 353)
    assert a['background_down_s'] == pytest.approx(0.3)
    off, hang = a['faults']
    assert off['down_during_s'] == pytest.approx(30) and off['down_after_s'] == pytest.approx(2)
    assert off['waited_for_repair'] and off['role'] == 'director'
    assert hang['downtime_s'] == pytest.approx(3) and not hang['waited_for_repair']
    assert a['by_kind']['hang real server'] == {'faults': 1, 'downtime_s': 3.0, 'mean_s': 3.0}
    assert a['late_faults'] == 1


def test_the_extrapolation_puts_the_real_repair_where_the_outage_waited_for_it():
    e = analysed(mtbf_days=30, mttr_h=4)['extrapolated']
    assert e['cost_per_fault_s'] == {'director': pytest.approx(4 * 3600 + 2),
                                     'real server': pytest.approx(3)}
    per_year = 2 * 365 / 30 * (4 * 3600 + 2) + 3 * 365 / 30 * 3
    assert e['downtime_min_per_year'] == pytest.approx(per_year / 60, abs=0.01)
    assert e['availability'] == pytest.approx(1 - per_year / A.YEAR_S, abs=1e-8)


def test_a_request_that_failed_just_before_the_fault_does_not_hide_its_outage():
    # a probe sent 0.3 s before the power-off timed out with it: the stretch begins before
    [f] = A.per_fault([(19.7, 52.0)], [{'fault': 'power-off', 'target': 'laicoz',
                                        'injected': 20.0, 'cleared': 50.0}], 200.0, ('laicoz',))
    assert f['down_during_s'] == pytest.approx(30) and f['waited_for_repair']


def test_a_role_without_a_measured_fault_is_said_not_guessed():
    faults = [{'role': 'real server', 'down_after_s': 0.0, 'down_during_s': 3.0,
               'waited_for_repair': False}]
    e = A.extrapolate(faults, {'director': 2, 'real server': 3}, 30, 4)
    assert e['roles_unmeasured'] == ['director'] and list(e['cost_per_fault_s']) == ['real server']


def test_nines():
    assert A.nines(0.999) == 3.0 and A.nines(0.99995) == pytest.approx(4.3, abs=0.01)
    assert A.nines(1.0) is None and A.nines(None) is None


def test_a_schedule_that_did_not_end_has_no_availability():
    r = made_up_run()
    del r.measured.schedule['end']
    assert A.analyse(r, 0.1, {}, (), 30, 4) == {'availability': None}
    assert A.numbers({'availability': None}) == {}


def test_every_layout_replays_the_one_schedule_the_seed_made():
    _, plan = experiment.parse_args(['--seed', '5', '--duration', '300'])
    schedules = [c.scenario.options['faults'] for c in plan.cells]
    assert [c.name for c in plan.cells][0] == 'single'
    assert all(s == schedules[0] for s in schedules) and schedules[0]
    assert plan.options['schedule'] == schedules[0]
    _, again = experiment.parse_args(['--seed', '5', '--duration', '300'])
    assert again.options['schedule'] == schedules[0]


@pytest.mark.parametrize('argv, says', [
    (['--layouts', 'nope'], 'unknown layout'),
    (['--faults', 'meteor'], 'unknown fault'),
    (['--targets', 'laico9'], 'unknown target'),
    (['--faults', 'hang', '--targets', 'laicoz'], 'no fault kind applies'),
    (['--duration', '10'], 'no fault fits'),
    (['--deadtime', '2'], 'its own settings'),
    (['--layouts', 'pacemaker,keepalived', '--ping'], 'the layouts are of 2 stacks'),
    (['--layouts', 'heartbeat,hot-standby', '--hot-standby'],
     '--hot-standby: not a setting every heartbeat layout takes'),
    (['--layouts', 'pacemaker', '--deadtime', '2'], '--deadtime: not a setting every pacemaker'),
    (['--real-mttr-hours', '0'], 'must be positive'),
])
def test_bad_input_is_refused_before_anything_starts(argv, says, capsys):
    with pytest.raises(SystemExit):
        experiment.parse_args(argv)
    assert says in capsys.readouterr().err


def test_a_stacks_flags_apply_to_each_layout_when_all_are_of_that_stack():
    """--ping and --token for both Pacemaker layouts: each cell's stack has them, and
    its own layout's setting (hot standby or not)."""
    _, plan = experiment.parse_args(['--layouts', 'pacemaker,pacemaker-hot-standby',
                                     '--ping', '--token', '1000'])
    stacks = {c.name: c.stack for c in plan.cells}
    assert sorted(stacks) == ['pacemaker', 'pacemaker-hot-standby']
    assert all(s.settings.ping and s.settings.token == 1000 for s in stacks.values())
    assert [stacks[n].settings.hot_standby for n in sorted(stacks)] == [False, True]
