"""Every scenario of the testbed: a list of steps (topo/engine/steps/) run on one
boot of the cluster, and the checkers (topo/analysis/checks.py) that judge it.

    Run(plan, out).run(paper())        # the paper's four stages, figures 5-14

A new scenario is a new function here; a new fault is a new module in
topo/faults/ that scenarios name.
"""
from dataclasses import dataclass, field

from topo.analysis import checks as C
from topo.analysis import maintenance as maintenance_analysis
from topo.analysis.load import ramp_goals, scale_goals
from topo.engine import steps as s
from topo.engine.steps.ramp import LEVELS, ONE_DIRECTOR, ConntrackMax, H2loadLevel
from topo.engine.steps.schedulers import SchedulerRun, SetFinTimeout
from topo.network.config import BACKUP, PRIMARY


@dataclass
class Scenario:
    name: str
    steps: list
    checks: list = field(default_factory=lambda: [C.steps_done])
    dual_owner_allowed: bool = False    # two VIP owners are what it measures (faults)
    options: dict = field(default_factory=dict)
    analyse: object = None      # result -> {summary field: value}, after the run
    saturates_cpu: bool = False     # its load keeps the machine's CPUs busy by design

    def describe(self):
        return dict(self.options, scenario=self.name)


HA_CHECKS = [C.steps_done, C.invariants]


def cluster_up():
    """The primary serves with the full table, the backup stands by."""
    return [s.WaitPrimaryUp(), s.WaitStandingBy(BACKUP), s.WaitOwnNextHop()]


def paper(requests=15):
    """The paper's experiment, figures 5 to 14 (figures 7 and 11 are the faults)."""
    steps = cluster_up() + [
        s.Figure(5), s.Figure(10),
        s.Say('stage 2: %d HTTP requests from the client' % requests), s.Burst(requests),
        s.Figure(6), s.StartProber(),
        s.Say('stage 3: switching laico2 off'), s.Inject('power-off', 'laico2'),
        s.WaitRemoved('laico2'), s.Figure(8),
        s.Say('switching laico2 on'), s.Clear('laico2'),
        s.WaitServing(PRIMARY, 'laico2 back in the table'), s.Figure(9), s.Settle(),
        s.Say('stage 4: switching laicoz (primary director) off'), s.Inject('power-off', PRIMARY),
        s.WaitTakeover(), s.Figure(12), s.Settle(),
        s.Say('switching laicoz on'), s.Clear(PRIMARY), s.WaitSettled(), s.Figure(13),
        s.Figure(14), s.Settle()]
    return Scenario('paper', steps, HA_CHECKS + [C.figures])


def failovers(repeats, fault='power-off'):
    """The cluster up, then `repeats` director failovers and failbacks (a sweep point)."""
    steps = cluster_up() + [s.StartProber()]
    for i in range(repeats):
        steps += [s.Say('director failover %d of %d' % (i + 1, repeats)), s.Inject(fault, PRIMARY),
                  s.WaitTakeover(), s.Settle(), s.Clear(PRIMARY), s.WaitSettled(), s.Settle()]
    return Scenario('failovers', steps, HA_CHECKS + [C.failovers_measured],
                    options={'repeats': repeats, 'fault': fault})


def fault(name, target, hold, params=None, then=None, then_params=None):
    """Prober on; the fault held and cleared (with `then`, a second fault of the primary
    while the first is in place); back to the figure-5 state, stable, or reported
    that it never came; what the fault left behind."""
    steps = cluster_up() + [s.StartProber(), s.Settle(),
                            s.Say('injecting %s into %s' % (name, target)),
                            s.Inject(name, target, **(params or {})), s.Hold(hold)]
    if then:
        steps += [s.Say('then %s of %s' % (then, PRIMARY)),
                  s.Inject(then, PRIMARY, **(then_params or {})),
                  s.Hold(hold), s.Say('clearing %s' % then), s.Clear(PRIMARY)]
    steps += [s.Say('clearing %s' % name), s.Clear(target), s.WaitRecovered(), s.Settle(),
              s.LeftBehind()]
    return Scenario('fault', steps, HA_CHECKS + [C.faults_injected], dual_owner_allowed=True,
                    options={'fault': name, 'target': target, 'hold_s': hold,
                             'params': params or {}, 'then': then,
                             'then_params': then_params or {}})


def failover_under_load(clients, hold):
    """Load on, laicoz off, takeover, laicoz on, failback, load off."""
    steps = cluster_up() + [
        s.StartProber(), s.StartLoad(clients), s.Hold(5, 'the load'),
        s.Say('switching laicoz off under load'), s.Inject('power-off', PRIMARY),
        s.WaitTakeover(), s.Hold(hold), s.Say('switching laicoz on under load'),
        s.Clear(PRIMARY), s.WaitSettled(), s.Hold(hold, 'the load'), s.StopLoad()]
    return Scenario('failover-under-load', steps, HA_CHECKS + [C.failovers_measured],
                    options={'clients': clients, 'hold_s': hold})


def conn_sync(sessions, interval, hold, fault='power-off', change=None, server=None):
    """Long-lived sessions through the VIP across a failover (laicoz switched off, its
    stack crashed, or stopped for a planned hand-over); the connection entries each
    director's kernel holds before it. change: a real server's place in the service
    changed under the sessions first (topo/engine/steps/maintenance.py CHANGES)."""
    steps = cluster_up() + ([s.TakeOut(server)] if change == 'add' else []) + [
        s.StartProber(), s.ReadMulticast(PRIMARY, 'sessions start'),
        s.StartLoad(sessions, keepalive=True, interval=interval, timeout=60.0),
        s.Hold(5, 'the sessions')]      # sync: at the 3rd packet, buffers flushed within 2 s
    if change:
        steps += [s.ChangeServer(change, server), s.Hold(3, 'the sessions')]
    steps += [s.ReadMulticast(PRIMARY, 'before the fault'),
              s.CountConnections(PRIMARY), s.CountConnections(BACKUP),
              s.Say('%s of laicoz' % fault), s.Inject(fault, PRIMARY), s.WaitTakeover(),
              s.Hold(hold), s.StopLoad()]
    if change:
        steps += [s.UndoChange(change, server)]
    steps += [s.Clear(PRIMARY), s.WaitSettled()]
    # a crashed director keeps its VIP in its kernel while the peer takes it: two owners
    # are what a crash is
    return Scenario('conn-sync', steps, HA_CHECKS + [C.failovers_measured,
                                                     C.both_directors_served],
                    dual_owner_allowed=fault == 'crash',
                    options={'sessions': sessions, 'interval_s': interval, 'hold_s': hold,
                             'fault': fault, 'change': change, 'server': server})


def maintenance(servers, clients, drain=True):
    """A rolling upgrade of every real server, one at a time, with the prober and (with
    clients) sustained load on: drained first (weight 0 until its connections end)
    or, the naive way, stopped as it is; the health check takes it out and puts it
    back. Drained, it must cost no request."""
    steps = cluster_up() + [s.StartProber()] + ([s.StartLoad(clients)] if clients else []) + [
        s.Hold(5, 'the load')]
    for server in servers:
        steps += ([s.Drain(server)] if drain else []) + [s.Upgrade(server), s.Hold(2, 'the load')]
    steps += [s.StopLoad(), s.CheckVersions(2)]
    return Scenario('maintenance' if drain else 'maintenance-naive', steps,
                    HA_CHECKS + [C.upgraded] + ([C.no_failed_requests] if drain else []),
                    options={'clients': clients, 'drain': drain},
                    analyse=maintenance_analysis.analyse)


def growth(servers, grown, clients):
    """The service grown from its first `servers` real servers to `grown` and back, under
    load, through the HA stack's own reload (no daemon restarted); the extra servers
    drained before they leave. It must cost no request."""
    extra = ['laico%d' % (n + 2) for n in range(servers, grown)]
    steps = cluster_up() + [s.StartProber()] + ([s.StartLoad(clients)] if clients else []) + [
        s.Hold(5, 'the load'), s.Resize(grown), s.Hold(10, 'the load')]
    steps += [s.Drain(x) for x in extra] + [s.Resize(servers), s.Hold(5, 'the load'),
                                            s.StopLoad()]
    return Scenario('growth', steps, HA_CHECKS + [C.resized, C.no_failed_requests],
                    options={'servers': servers, 'grown': grown, 'clients': clients},
                    analyse=maintenance_analysis.growth)


def availability(faults, duration, clients, analyse):
    """The prober (and with clients sustained load) on for `duration` seconds while a
    random schedule of faults (topo/engine/schedule.py) is replayed on the clock; then
    the cluster must come back whole. analyse: result -> its availability
    (topo/analysis/availability.py, with the experiment's probe period and rates)."""
    steps = cluster_up() + [s.StartProber()] + ([s.StartLoad(clients)] if clients else []) + [
        s.Say('replaying %d faults over %.0fs' % (len(faults), duration)),
        s.ReplaySchedule(faults, duration), s.StopLoad(), s.WaitRecovered(), s.LeftBehind()]
    return Scenario('availability', steps,
                    HA_CHECKS + [C.faults_injected, C.availability_measured],
                    dual_owner_allowed=True,
                    options={'clients': clients, 'duration_s': duration,
                             'faults': [f.as_dict() for f in faults]},
                    analyse=analyse)


def smoke(requests=15):
    """The cluster with a static service (the hub proven, as in every run), requests
    answered."""
    steps = [s.StaticService(),
             s.Say('sending %d requests to the VIP' % requests), s.Burst(requests),
             s.Snapshot(show=True)]
    return Scenario('smoke', steps, [C.steps_done, C.answered], options={'requests': requests})


def ramp(levels, requests, page, patterns=('keepalive',), conntrack_max=None,
         active_active=False, sync=False):
    """Each level in each pattern (keep-alive, a connection per request), through the
    VIP and straight to one real server. requests: level -> requests. conntrack_max:
    the kernel's connection-tracking table that small (the lost SYNs, reproduced).
    active_active: through both directors and through laicoz alone too. sync: the
    IPVS sync daemons run (what they cost the directors per connection)."""
    steps = [ConntrackMax(conntrack_max)] if conntrack_max else []
    steps += [s.StaticService(sync=sync), s.StaticCheck('before the load')]
    targets = ('vip', ONE_DIRECTOR, 'direct') if active_active else ('vip', 'direct')
    for i, clients in enumerate(levels):
        steps += [LEVELS[pattern](target, clients, requests(clients), page, index=i)
                  for pattern in patterns for target in targets]
    return Scenario('ramp', steps + [s.StaticCheck('after the load')],
                    options={'levels': levels, 'page': page, 'patterns': list(patterns),
                             'sync_daemon': sync},
                    saturates_cpu=True,
                    analyse=lambda r: {'goals': ramp_goals(r.measured.levels)})


def scale(counts, clients, requests, page):
    """One boot with the most real servers; the service rebuilt with the first N."""
    steps = []
    for n in sorted(counts):
        steps += [s.StaticService(servers=n), s.StaticCheck('with %d real servers' % n),
                  H2loadLevel('vip', clients, requests, page, scale=True)]
    return Scenario('scale', steps, options={'servers': sorted(counts), 'clients': clients,
                                             'page': page}, analyse=_scaling,
                    saturates_cpu=True)


def _scaling(result):
    efficiency, goals = scale_goals(result.measured.scale)
    return {'scaling_efficiency': efficiency, 'goals': goals}


def schedulers(trial):
    """Each scheduler on short requests and long-lived connections (one boot for all)."""
    steps = [s.StaticService(scheduler=trial.schedulers[0]), SetFinTimeout(trial.fin_timeout)]
    steps += [SchedulerRun(sched, trial) for sched in trial.schedulers]
    return Scenario('schedulers', steps, [C.steps_done, C.schedulers])
