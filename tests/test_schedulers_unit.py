"""The schedulers experiment's expectation maths and figure, on hand-made inputs."""
import json

import pytest

from conftest import refused
from topo.analysis import scheduling as S
from topo.analysis.scheduling import checks_for
from topo.engine.steps.schedulers import SchedulerTrial
from topo.network.config import ClusterConfig, ConfigError

W = {'laico2': 2, 'laico3': 3, 'laico4': 4}


def wrr_kernel(weights, picks):
    """IPVS wrr as the kernel runs it (ip_vs_wrr.c): current weight cw from max down by gcd."""
    names = list(weights)
    g = S._gcd(list(weights.values()))
    mw = max(weights.values())
    i, cw, out = -1, 0, []
    while len(out) < picks:
        i = (i + 1) % len(names)
        if i == 0:
            cw -= g
            if cw <= 0:
                cw = mw
        if weights[names[i]] >= cw:
            out.append(names[i])
    return out


def least_kernel(weights, start, picks, weighted):
    """IPVS lc/wlc: least overhead (/weight), first of equals wins, every pick stays."""
    load = dict(start)
    out = []
    for _ in range(picks):
        live = [s for s in weights if weights[s] > 0]
        w = {s: (weights[s] if weighted else 1) for s in live}
        best = live[0]
        for s in live[1:]:
            if load[best] * w[s] > load[s] * w[best]:
                best = s
        load[best] += 1
        out.append(best)
    return out, load


def test_paper_example_wrr_round_is_2_3_4_of_9():
    assert S.wrr_round(W) == W
    assert S.round_size(W) == 9
    seq = wrr_kernel(W, 9)
    assert S.count(seq, W) == {'laico2': 2, 'laico3': 3, 'laico4': 4}


def test_wrr_round_divides_by_the_gcd():
    assert S.wrr_round({'a': 2, 'b': 4}) == {'a': 1, 'b': 2}
    assert S.round_size({'a': 2, 'b': 4}) == 6       # 3 picks per cycle, 2 servers: lcm 6
    assert S.round_size({'a': 1, 'b': 1, 'c': 1}) == 3
    assert S.round_size({'a': 0, 'b': 3, 'c': 1}) == 4  # a is out of service
    with pytest.raises(ValueError):
        S.wrr_round({'a': 0, 'b': 0})


def test_expected_share():
    assert S.expected_share('wrr', W) == pytest.approx({'laico2': 2 / 9, 'laico3': 3 / 9,
                                                       'laico4': 4 / 9})
    assert S.expected_share('wlc', W) == S.expected_share('wrr', W)
    for sched in ('rr', 'lc'):
        assert S.expected_share(sched, W) == pytest.approx({s: 1 / 3 for s in W})
    assert S.expected_share('rr', {'a': 0, 'b': 5}) == {'a': 0.0, 'b': 1.0}
    for sched in ('sh', 'mh'):         # their tables are filled by weight
        assert S.expected_share(sched, W) == S.expected_share('wrr', W)
    with pytest.raises(ValueError):
        S.expected_share('fifo', W)


def test_every_round_of_the_kernel_wrr_is_exact_whatever_the_start():
    share = S.expected_share('wrr', W)
    seq = wrr_kernel(W, 9 * 5 + 4)
    for offset in range(9):                  # any window of whole rounds
        window = seq[offset:offset + 36]
        assert S.rounds_exact(window, share, 9)
        assert S.max_deviation(S.count(window, W), share) == pytest.approx(0)


def test_rounds_exact_catches_a_broken_round():
    share = S.expected_share('wrr', W)
    good = ['laico4', 'laico3', 'laico4', 'laico2', 'laico3', 'laico4', 'laico2', 'laico3',
            'laico4']
    assert S.rounds_exact(good * 2, share, 9)
    # same totals (4, 6, 8 of 18) but the rounds are 3/3/3 and 1/3/5: not the paper's example
    bad = ['laico2', 'laico3', 'laico4'] * 3 + ['laico2', 'laico3', 'laico3', 'laico4', 'laico4',
                                                  'laico4', 'laico4', 'laico4', 'laico3']
    assert S.count(bad, W) == {'laico2': 4, 'laico3': 6, 'laico4': 8}
    assert S.max_deviation(S.count(bad, W), share) == 0
    assert not S.rounds_exact(bad, share, 9)
    assert S.rounds(bad, list(W), 9) == [{'laico2': 3, 'laico3': 3, 'laico4': 3},
                                        {'laico2': 1, 'laico3': 3, 'laico4': 5}]
    assert not S.rounds_exact(good[:8], share, 9)          # no whole round
    assert not S.rounds_exact(good + good[:3], share, 9)   # a partial round left over
    assert not S.rounds_exact(good[:8] + [None], share, 9)  # a failed request


def test_max_deviation_in_requests():
    share = S.expected_share('wrr', W)
    assert S.max_deviation({'laico2': 8, 'laico3': 12, 'laico4': 16}, share) == 0
    assert S.max_deviation({'laico2': 9, 'laico3': 12, 'laico4': 15}, share) == pytest.approx(1)
    assert S.max_deviation({'laico2': 12, 'laico3': 12, 'laico4': 12},
                           S.expected_share('rr', W)) == 0
    assert S.max_deviation({'laico2': 4}, S.expected_share('rr', W)) == pytest.approx(8 / 3)


def test_short_lc_wlc_from_zero_counters_match_their_share_every_round():
    for sched, weighted in (('lc', False), ('wlc', True)):
        seq, _ = least_kernel(W, {s: 0 for s in W}, 36, weighted)
        assert S.rounds_exact(seq, S.expected_share(sched, W), 9), sched


def test_water_fill():
    start = {'laico2': 0, 'laico3': 0, 'laico4': 9}
    assert S.water_fill(start, {s: 1 for s in W}, 18) == {s: 9 for s in W}
    assert S.water_fill(start, W, 18) == {'laico2': 6, 'laico3': 9, 'laico4': 12}
    # not enough new connections to reach the busy server: it keeps what it has
    assert S.water_fill(start, {s: 1 for s in W}, 6) == {'laico2': 3, 'laico3': 3, 'laico4': 9}
    # out of service keeps its sessions and gets none
    assert S.water_fill({'a': 5, 'b': 0}, {'a': 0, 'b': 1}, 4) == {'a': 5, 'b': 4}


def test_expected_held_defaults():
    pre = {'laico2': 0, 'laico3': 0, 'laico4': 9}
    assert S.expected_held('rr', W, pre, 18) == ({'laico2': 6, 'laico3': 6, 'laico4': 15},
                                                  {'laico2': 6, 'laico3': 6, 'laico4': 6})
    assert S.expected_held('wrr', W, pre, 18) == ({'laico2': 4, 'laico3': 6, 'laico4': 17},
                                                   {'laico2': 4, 'laico3': 6, 'laico4': 8})
    assert S.expected_held('lc', W, pre, 18) == ({s: 9 for s in W},
                                                  {'laico2': 9, 'laico3': 9, 'laico4': 0})
    assert S.expected_held('wlc', W, pre, 18) == ({'laico2': 6, 'laico3': 9, 'laico4': 12},
                                                   {'laico2': 6, 'laico3': 9, 'laico4': 3})


@pytest.mark.parametrize('weighted', [False, True])
def test_kernel_like_least_connection_lands_within_tolerance_of_the_water_level(weighted):
    for weights in ({'a': 1, 'b': 2, 'c': 5}, {'a': 3, 'b': 3}, W):
        for pre in (0, 4, 11):
            start = {s: 0 for s in weights}
            start[list(weights)[-1]] = pre
            for new in range(0, 25):
                _, load = least_kernel(weights, start, new, weighted)
                w = weights if weighted else {s: 1 for s in weights}
                want = S.water_fill(start, w, new)
                tol = S.tolerance('wlc' if weighted else 'lc', weights, want)
                assert S.within(S.held_deviation(load, want), tol), (weights, pre, new, load, want)


def test_tolerance_is_zero_when_the_expectation_is_whole():
    assert S.tolerance('wlc', W, {'laico2': 6, 'laico3': 9, 'laico4': 12}) == 0
    assert S.tolerance('lc', W, {'laico2': 3.5, 'laico3': 3.5, 'laico4': 9}) == 1
    assert S.tolerance('wlc', W, {'laico2': 0.5, 'laico3': 0.75, 'laico4': 1}) == pytest.approx(4 / 3)
    assert S.within(0, 0) and not S.within(1, 0) and S.within(0.9, 1) and not S.within(1, 1)
    # the wlc lag the tolerance allows for: weights 1, 2, 5 and two picks
    _, load = least_kernel({'a': 1, 'b': 2, 'c': 5}, {'a': 0, 'b': 0, 'c': 0}, 2, True)
    assert load == {'a': 1, 'b': 1, 'c': 0}


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip('matplotlib')
    from topo import plots
    pre = {'laico2': 0, 'laico3': 0, 'laico4': 9}
    scheds = {}
    for sched in S.SCHEDULERS:
        share = S.expected_share(sched, W)
        active, _ = S.expected_held(sched, W, pre, 18)
        scheds[sched] = {'weights': W, 'requests': 36,
                         'answers': {s: round(share[s] * 36) for s in W},
                         'expected_share': share, 'preload': pre, 'new': 18,
                         'active_peak': {s: round(v) for s, v in active.items()},
                         'active_expected': active}
    (tmp_path / 'summary.json').write_text(json.dumps(
        {'experiment': 'schedulers', 'kernel_mode': 'uml', 'complete': True,
         'schedulers': scheds}))
    assert plots.plot(tmp_path) == ['scheduler_distribution.png']
    data = (tmp_path / 'scheduler_distribution.png').read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'


def test_plot_refuses_a_folder_without_results(tmp_path):
    from topo.plots import schedulers as plot
    (tmp_path / 'summary.json').write_text('{"experiment": "schedulers"}')
    with pytest.raises(ValueError, match='no scheduler results'):
        plot.plot(tmp_path)


def test_the_trial_is_checked_before_anything_starts():
    config = ClusterConfig(weights=[2, 3, 4], client_addresses=300)
    t = SchedulerTrial().check(config)
    assert t.schedulers == S.SCHEDULERS and t.preload == 9 and t.preload_server == 'laico4'
    assert t.as_dict(config)['round_size'] == 9 and t.hashing == ['sh', 'mh']
    for bad, kw in ((['rr', 'fifo'], {}), (['rr', 'rr'], {}), (S.SCHEDULERS, {'rounds': 0}),
                    (S.SCHEDULERS, {'preload_server': 'laico9'}),
                    (['mh'], {'hash_passes': 1}), (['mh'], {'hash_sources': 300 + 1}),
                    (['sh'], {'hash_sources': 5})):
        with pytest.raises(ConfigError):
            SchedulerTrial(tuple(bad), **kw).check(config)
    with pytest.raises(ConfigError, match='weight 0'):
        SchedulerTrial().check(ClusterConfig(weights=[2, 3, 0], client_addresses=300))
    with pytest.raises(ConfigError, match='above 0'):
        SchedulerTrial().check(ClusterConfig(weights=[0, 0, 0], client_addresses=300))
    assert SchedulerTrial(('rr', 'wrr')).check(ClusterConfig()).hashing == []
    assert '2 weights given for 3' in refused('schedulers', '--weights', '2,3')


def result(sched, sequence, active, preload=None, inactive=None, expired=False):
    """A scheduler's results as schedulers.py records them, from hand-made measurements."""
    pre = preload or {'laico2': 0, 'laico3': 0, 'laico4': 9}
    answers = S.count(sequence, W)
    share = S.expected_share(sched, W)
    exp_active, _ = S.expected_held(sched, W, pre, 18)
    return {'weights': W, 'requests': len(sequence), 'failed': 0, 'held_failed': 0,
            'answers': answers, 'rounds_exact': S.rounds_exact(sequence, share, 9),
            'expected_answers': {s: share[s] * len(sequence) for s in W},
            'max_deviation': S.max_deviation(answers, share),
            'inactive_after': inactive or answers, 'expired_during_phase': expired,
            'preload': pre, 'preload_answers': pre, 'new': 18,
            'held_answers': {s: active[s] - pre[s] for s in W},
            'active_peak': active, 'active_snapshot': active,
            'held_max_deviation': S.held_deviation(active, exp_active),
            'held_tolerance': S.tolerance(sched, W, exp_active)}


def test_checks_pass_the_expected_results_and_fail_others():
    wrr_seq = wrr_kernel(W, 36)
    good = result('wrr', wrr_seq, {'laico2': 4, 'laico3': 6, 'laico4': 17})
    assert all(checks_for('wrr', good).values())
    # wrr that behaved like wlc on held sessions
    bad = result('wrr', wrr_seq, {'laico2': 6, 'laico3': 9, 'laico4': 12})
    c = checks_for('wrr', bad)
    assert not c['held_spread'] and c['short_share']
    # right totals, wrong rounds
    shuffled = sorted(wrr_seq[:18]) + wrr_seq[18:]
    assert not checks_for('wrr', result('wrr', shuffled,
                                          {'laico2': 4, 'laico3': 6, 'laico4': 17}))['short_share']
    lc_seq, _ = least_kernel(W, {s: 0 for s in W}, 36, False)
    lc = result('lc', lc_seq, {'laico2': 9, 'laico3': 9, 'laico4': 9})
    assert all(checks_for('lc', lc).values())
    lc['inactive_after'] = {'laico2': 12, 'laico3': 12, 'laico4': 11}
    assert not checks_for('lc', lc)['short_inactive_matches_answers']
    # counters that expired during the phase: within the granularity, not exact
    off = ['laico2'] + lc_seq[1:35] + ['laico2']
    expired = result('lc', off, {'laico2': 9, 'laico3': 9, 'laico4': 9},
                     inactive={'laico2': 3, 'laico3': 3, 'laico4': 3}, expired=True)
    c = checks_for('lc', expired)
    assert 'short_inactive_matches_answers' not in c and c['short_share'] is (
        S.max_deviation(S.count(off, W), S.expected_share('lc', W)) < 1)
    # the client and ipvsadm disagree on where the held sessions are
    mism = result('lc', lc_seq, {'laico2': 9, 'laico3': 9, 'laico4': 9})
    mism['held_answers'] = {'laico2': 10, 'laico3': 8, 'laico4': 0}
    assert not checks_for('lc', mism)['client_matches_ipvsadm']


def hashed_replies(mapping, passes=2, moved=(), failed=()):
    """A hashing scheduler's replies: source i answered by mapping(i), pass after pass
    (a moved source answered by laico2 on its last pass; a failed one never answered)."""
    out = []
    for p in range(passes):
        for i in range(len(mapping)):
            src = '198.18.0.%d' % (i + 1)
            server = 'laico2' if i in moved and p == passes - 1 else mapping[i]
            out.append({'source': src, 'ok': i not in failed,
                        **({'server': server} if i not in failed else {})})
    return out


def test_a_hashing_scheduler_keeps_each_address_on_its_server_spread_by_weight():
    # weights 2, 3, 4: 90 addresses, 20, 30, 40 of them per server
    mapping = ['laico2'] * 20 + ['laico3'] * 30 + ['laico4'] * 40
    r = S.hashing_result(hashed_replies(mapping), W)
    assert r['sources'] == 90 and r['passes'] == 2 and r['requests'] == 180
    assert r['sources_per_server'] == {'laico2': 20, 'laico3': 30, 'laico4': 40}
    assert r['expected_sources'] == {'laico2': 20.0, 'laico3': 30.0, 'laico4': 40.0}
    assert r['answers'] == {'laico2': 40, 'laico3': 60, 'laico4': 80}
    assert all(S.hashing_checks(r).values())
    # an address that changed server: not sticky, named
    r = S.hashing_result(hashed_replies(mapping, moved=[60]), W)
    c = S.hashing_checks(r)
    assert not c['every_source_sticky'] and r['moved_sources'] == ['198.18.0.61']
    assert c['no_failed_requests'] and c['sources_spread_by_weight']
    # a failed request: neither sticky nor answered
    c = S.hashing_checks(S.hashing_result(hashed_replies(mapping, failed=[3]), W))
    assert not c['no_failed_requests'] and not c['every_source_sticky']
    # equal shares where the weights ask 2:3:4 (a scheduler ignoring the weights)
    r = S.hashing_result(hashed_replies(['laico2', 'laico3', 'laico4'] * 300), W)
    assert r['sources_per_server'] == {'laico2': 300, 'laico3': 300, 'laico4': 300}
    assert not S.hashing_checks(r)['sources_spread_by_weight']
    # one pass proves nothing about keeping a server
    assert not S.hashing_checks(S.hashing_result(hashed_replies(mapping, passes=1), W))[
        'every_source_sticky']
