"""Steps that wait for a state of the HA cluster, or hold one."""
import re
import time

from topo.engine.run import stage
from topo.network.config import BACKUP, DIRECTORS, PRIMARY


class Say:
    def __init__(self, text):
        self.text = text

    def __call__(self, run):
        stage(self.text)


class WaitServing:
    """The director holds the VIP and the full table."""

    def __init__(self, node, said=None):
        self.node, self.said = node, said

    def __call__(self, run):
        if run.wait('%s to hold the VIP and all real servers' % self.node, run.serving(self.node)):
            stage(self.said or '%s serves %s with %d real servers'
                  % (self.node, run.service, len(run.reals)))


class WaitPrimaryUp:
    """The primary takes the VIP within the time its stack allows at start-up
    (heartbeat: initdead plus a margin), then serves with the full table; if not,
    the run says exactly that, with the primary's last log lines."""

    def __call__(self, run):
        deadline = run.stack.acquire_deadline_s
        if run.rec.wait_for(lambda r: r.node(PRIMARY)['vip'], deadline) is None:
            lines = [e['line'] for e in run.rec.events
                     if e.get('node') == PRIMARY and e.get('kind') == 'log'][-4:]
            run.fail('%s did not take the VIP within %.0fs of its start (%s); its last log '
                     'lines: %s' % (PRIMARY, deadline, run.stack.acquire_deadline_why,
                                    ' | '.join(lines) or 'none'))
            return
        WaitServing(PRIMARY)(run)


class WaitStandingBy:
    def __init__(self, node):
        self.node = node

    def __call__(self, run):
        run.wait('%s to stand by' % self.node, run.standing_by(self.node))


class WaitOwnNextHop:
    """Active/active: laicoy serves its own share too, holding its next hop (which
    laicoz may have taken while laicoy's stack was not yet up); nothing otherwise."""

    def __call__(self, run):
        config = run.config
        if not config.active_active:
            return
        hop, end = config.next_hops[BACKUP], time.monotonic() + run.measure.wait
        while not (run.network[BACKUP].holds(hop) and not run.network[PRIMARY].holds(hop)):
            if time.monotonic() > end:
                run.fail('timed out after %.0fs waiting for laicoy to hold its next hop %s '
                         'alone' % (run.measure.wait, hop))
                return
            time.sleep(0.5)
        stage('both directors serve: laicoz through %s, laicoy through %s'
              % (config.next_hops[PRIMARY], hop))


class WaitRemoved:
    """The active director's health checks drop a real server."""

    def __init__(self, server, director=PRIMARY):
        self.server, self.director = server, director

    def __call__(self, run):
        views = run.config.families()       # (dual stack: from every virtual service)
        if run.wait('the health check to remove %s' % self.server,
                    lambda r: all(v.real_endpoint(self.server) not in
                                  r.reals(self.director, v.service) for v in views)):
            stage('%s removed from the table' % self.server)


class WaitTakeover:
    """The backup serves, and the client is answered again after the fault."""

    def __call__(self, run):
        t_fault = run.active[PRIMARY][-1].injected_at
        if run.wait('laicoy to take over', run.serving(BACKUP)):
            stage('laicoy holds the VIP and the full table')
        first_ok = run.wait('a successful request through laicoy',
                            lambda r: (r.last_ok_sent or 0) > t_fault)
        if first_ok:
            stage('client served again %.2fs after the fault' % (first_ok - t_fault))


class WaitSettled:
    """After the primary came back: the service where it belongs (laicoz, or with nice
    failback laicoy), the other director standing by, and the client answered through
    it. The directors' state alone is not the client's: a client whose neighbour entry
    still names the old owner (its announcement lost) fails for tens of seconds more,
    and a run that stopped probing here would call that hand-back short."""

    def __call__(self, run):
        owner, other = (BACKUP, PRIMARY) if run.nice else (PRIMARY, BACKUP)
        if run.nice:
            # Nothing changes if all goes well: wait for laicoz to rejoin, then watch a while.
            t_on = run.history.faults[-1].cleared
            run.wait('laicoz to rejoin its peer', lambda r: any(
                e['t'] > t_on and e.get('node') == PRIMARY and e.get('kind') == 'log'
                and re.search(run.stack.rejoined_pattern, e['line']) for e in r.events))
            time.sleep(run.measure.settle)
        settled = run.wait('%s to serve and %s to stand by' % (owner, other),
                           lambda r: run.serving(owner)(r) and run.standing_by(other)(r))
        if settled:
            stage('%s serves again, %s stands by' % (owner, other))
        if settled and run.prober is not None:
            answered = run.wait('a request answered through %s' % owner,
                                lambda r: (r.last_ok_sent or 0) > settled)
            if answered and answered - settled > 1.0:
                stage('client served again %.2fs after that' % (answered - settled))


class WaitRecovered:
    """After a fault is cleared: back to the figure-5 state, one director serving with
    the full table and the other standing by (with nice failback either may serve),
    and staying so for `stable` seconds: a takeover still under way when the fault
    was cleared must not pass for a recovery. Records when the last stable stretch
    began, or that it never came."""

    def __init__(self, stable=15.0):
        self.stable = stable

    def __call__(self, run):
        faults = run.history.faults
        t_clear = max(f.cleared or 0 for f in faults)
        owners = (PRIMARY, BACKUP) if run.nice else (PRIMARY,)

        def back(r):
            return any(run.serving(o)(r) and run.standing_by(other)(r)
                       and r.owners(DIRECTORS) == [o]
                       for o, other in ((PRIMARY, BACKUP), (BACKUP, PRIMARY)) if o in owners)
        fenced = lambda: bool(getattr(run.network, 'fenced_off', None))
        deadline = time.monotonic() + run.measure.wait
        t = None
        while time.monotonic() < deadline:
            t = run.rec.wait_for(lambda r: back(r) or fenced(),
                                 max(0.0, deadline - time.monotonic()))
            if t is None:
                break
            if fenced():
                # fenced after the clear (a membership that broke as the fault ended):
                # repaired as the clear repairs, and the wait goes on
                from topo.faults import repair_fenced
                stage('%s fenced after the clear: powered on again (the admin\'s repair)'
                      % ', '.join(repair_fenced(run.network)))
                t = None
                continue
            if run.rec.wait_for(lambda r: not back(r) or fenced(), self.stable) is None:
                break               # stable: t is when it came back for good
            t = None
        faults[0].recovered = t
        if t is None:
            run.fail('the cluster did not come back to the figure-5 state (for %.0fs in a row) '
                     'within %.0fs of the fault being cleared' % (self.stable, run.measure.wait))
        else:
            stage('back to the figure-5 state %.2fs after the clear (and stable for %.0fs)'
                  % (t - t_clear, self.stable))


class Hold:
    """Keep the state (a fault in place, a load running) for a while."""

    def __init__(self, seconds, what='the fault'):
        self.seconds, self.what = seconds, what

    def __call__(self, run):
        stage('holding %s %gs' % (self.what, self.seconds))
        time.sleep(self.seconds)


class Settle:
    """A steady stretch of probes between two faults."""

    def __call__(self, run):
        time.sleep(run.measure.settle)
