"""The verdict of a run: checkers applied to its result after it ended, as Jepsen's
checkers read a recorded history. A scenario names its checkers; each takes the
finished Run (its result, its stack and cluster) and returns the problems it
found ([]: passed). A run passes when every checker finds none.
"""
from topo.analysis.figures import FIGURES

# NAT: the longest the gateway (dual stack: also the other family's VIP and gateway)
# may sit on another director than the VIP in a clean hand-over: heartbeat starts (and
# stops) one address resource after the other, 0.4 to 1.7 s apart under UML;
# keepalived's synced instances move at the same instant
GATEWAY_SPLIT_S = 3.0
# dual stack: the longest the other family's addresses may lag the VIP (held nowhere
# yet) in a clean hand-over: Pacemaker's group starts an IPv6 IPaddr2 after the other
# (each sends its Neighbour Advertisements first), its last one 4.3 s after the VIP
COMPANION_LAG_S = 15.0


def invariant_problems(analysis, tolerance=0.0, dual_owner_allowed=False):
    """What a run's invariants contradict: a takeover before any fault; two owners
    (unless the scenario provokes them) for longer than a clean hand-over takes; a
    failover whose backup held the VIP already at the fault."""
    inv = analysis.get('invariants') or {}
    problems = ['%s took the VIP %.2fs after the cluster came up, before any fault: a false '
                'takeover (no failover time is measured from it)' % (f['node'], f['t'])
                for f in inv.get('false_takeovers', [])]
    long_dual = [i for i in inv.get('dual_owner', []) if i[1] - i[0] > tolerance]
    if long_dual and not dual_owner_allowed:
        problems.append('two directors owned the VIP for %.2fs (%s), longer than a hand-over '
                        'may overlap (%.2fs)' % (sum(b - a for a, b in long_dual), ', '.join(
                            '%.2f-%.2fs' % tuple(i) for i in long_dual), tolerance))
    long_split = [i for i in inv.get('gateway_split', []) if i[1] - i[0] > GATEWAY_SPLIT_S]
    if long_split and not dual_owner_allowed:
        problems.append('the real servers\' gateway was not where the VIP was for %.2fs (%s), '
                        'longer than a hand-over takes (%.1fs): answers went back through '
                        'another director than their requests' % (
                            sum(b - a for a, b in long_split),
                            ', '.join('%.2f-%.2fs' % tuple(i) for i in long_split),
                            GATEWAY_SPLIT_S))
    # dual stack: the other family's addresses may lag the VIP, never sit elsewhere
    for kind, bound, what in (('companions_elsewhere', GATEWAY_SPLIT_S,
                               'on a director that did not hold the VIP'),
                              ('companions_split', COMPANION_LAG_S, 'not where the VIP was')):
        for address, intervals in sorted((inv.get(kind) or {}).items()):
            long_split = [i for i in intervals if i[1] - i[0] > bound]
            if long_split and not dual_owner_allowed:
                problems.append('%s, which moves with the VIP, was %s for %.2fs (%s), '
                                'longer than a hand-over takes (%.1fs)' % (
                                    address, what, sum(b - a for a, b in long_split),
                                    ', '.join('%.2f-%.2fs' % tuple(i) for i in long_split),
                                    bound))
    problems += ['a director failover was not measured: laicoy held the VIP before the fault'
                 for f in analysis.get('failover_repeats') or [] if f.get('false_takeover')]
    return problems


def steps_done(run):
    """Every step did what it expected (no wait timed out, no static check broke)."""
    return list(run.result.failures)


def invariants(run):
    """One VIP owner (unless the scenario provokes two), no takeover before the fault."""
    return invariant_problems(run.result.analysis, run.stack.handover_overlap_s,
                              run.scenario.dual_owner_allowed)


def figures(run):
    """Every figure of the paper saved and as expected; requests split evenly again
    after the takeover (the paper's 'similar to figure 6')."""
    figs = run.result.measured.figures
    problems = ['figure %d not reached' % f for f in FIGURES if str(f) not in figs]
    problems += ['figure %s: %s' % (n, '; '.join(f['problems']))
                 for n, f in figs.items() if not f['passed']]
    split = run.result.analysis.get('split_after_takeover')
    if split is not None and not split['even']:
        problems.append('after the takeover the requests did not split evenly: %s, %d failed'
                        % (split['answers'], split['failed']))
    return problems


def failovers_measured(run):
    repeats = run.result.analysis.get('failover_repeats') or []
    if not repeats:
        return ['no director failover was measured']
    return ['failover %d: the client was never answered again' % (i + 1)
            for i, f in enumerate(repeats) if f['outage_s'] is None and not f['false_takeover']]


def both_directors_served(run):
    """Active/active: before the fault, each director's kernel held connections of the
    sessions (the router's ECMP route spread them), or what is measured is one director
    and its backup."""
    if not run.config.active_active:
        return []
    sources = run.result.measured.connection_sources
    return ['active/active: %s held no connection of the sessions before the fault: the '
            'router did not spread them' % d for d in sorted(sources) if not sources[d]]


def availability_measured(run):
    """The fault schedule ran to its end (or there is no availability to speak of)."""
    return [] if run.result.analysis.get('availability') else [
        'the fault schedule did not run to its end: no availability measured']


def faults_injected(run):
    return [] if run.result.history.faults else ['no fault was injected']


def answered(run):
    """Every request of every burst answered."""
    return ['%d of %d requests failed' % (b.answers.get('failed', 0), b.count)
            for b in run.result.measured.bursts
            if b.answers.get('failed') or sum(b.answers.values()) != b.count]


def describe_hub_check(hub):
    text = '%(answered)d of %(sent)d unicast pings %(from)s -> %(to)s answered' % hub
    if hub.get('observer'):
        text += ', %(observer)s saw %(seen_by_observer)d of them' % hub
    return text


def forwarded(run):
    """The network carried the run: its check before the steps passed, the Open vSwitch
    datapath lost no packet for want of a handler ('lost' in `ovs-dpctl show`: nothing
    crosses the hub then), and no level of a load ramp went wholly unanswered. Every
    run is judged by it, whatever its scenario: a dead network is no measurement."""
    m = run.result.measured
    problems = []
    if m.hub_check is not None and not m.hub_check['verified']:
        problems.append('the network did not forward before the measurement: %s'
                        % describe_hub_check(m.hub_check))
    lost = ((m.fidelity or {}).get('network_drops') or {}).get('OVS datapath lost')
    if lost:
        problems.append('the OVS datapath lost %d packets (no upcall handler took them): '
                        'the hub did not forward everything' % lost)
    problems += ['every request of %s, %s, %d clients, failed (%d of %d)'
                 % (lv['target'], lv['pattern'], lv['concurrency'], lv['failed'], lv['requests'])
                 for lv in m.levels + m.scale if not lv.get('ok') and lv.get('requests')]
    return problems


def schedulers(run):
    """Every scheduler measured as its maths says (topo/analysis/scheduling.py)."""
    results = run.result.measured.schedulers
    if not results:
        return ['no scheduler was measured']
    return ['%s: %s' % (s, ', '.join(k for k, v in r['checks'].items() if not v))
            for s, r in results.items() if not r['passed']]


def upgraded(run):
    """Every real server went through its maintenance and serves the new version."""
    m = run.result.measured
    done = {r['server'] for r in m.server_work if 'back' in r}
    problems = ['%s was not put back after its upgrade' % s
                for s in run.config.real_servers if s not in done]
    if m.versions is None:
        problems.append('the versions served were not checked')
    return problems


def resized(run):
    """Every resize of the service reached its table."""
    return ['the table never held the %d real servers asked for' % r['servers']
            for r in run.result.measured.resizes if r.get('table') is None]


def no_failed_requests(run):
    """Maintenance or growth done the careful way costs the clients nothing."""
    m = run.result.analysis.get('requests') or {}
    if m.get('failed_requests'):
        return ['%d requests failed (prober %d of %d, load %s)'
                % (m['failed_requests'], m['failed_probes'], m['probes'], m['load_failed'])]
    return []
