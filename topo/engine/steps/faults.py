"""Steps that inject and clear the faults of topo/faults/, and say what a fault left."""
import time

from topo.engine.run import FaultRecord, stage
from topo.network.config import DIRECTORS


class Inject:
    """Inject a fault (by name, topo/faults/) into a node."""

    def __init__(self, fault, target, **params):
        self.fault, self.target, self.params = fault, target, params

    def __call__(self, run):
        from topo import faults
        fault = faults.get(self.fault)(run.network, self.target, **self.params)
        run.set_stage(fault.label(fault.inject_word))
        t = fault.inject()
        run.mark(fault.mark(fault.inject_word), t)
        run.active.setdefault(self.target, []).append(fault)
        run.history.faults.append(FaultRecord(fault.name, self.target, t,
                                              params=dict(fault.options)))


class Clear:
    """Undo the fault last injected into a node (and still in place)."""

    def __init__(self, target):
        self.target = target

    def __call__(self, run):
        fault = run.active[self.target].pop()
        run.set_stage(fault.label(fault.clear_word))
        t = fault.clear()
        run.mark(fault.mark(fault.clear_word), t)
        [record] = [f for f in run.history.faults if f.target == self.target
                    and f.fault == fault.name and f.cleared is None][-1:]
        record.cleared = t


class LeftBehind:
    """The last step, while the cluster still runs: what the fault left in it, against
    the figure-5 state."""

    def __call__(self, run):
        out = []
        if not run.history.faults or not run.history.faults[0].recovered:
            out.append('never back to the figure-5 state')
        owners = run.rec.owners(DIRECTORS)
        if len(owners) != 1:
            out.append('%d VIP owners at the end' % len(owners))
        warm = run.stack.backup_table_warm
        for d in DIRECTORS:
            st, reals = run.rec.node(d), run.rec.reals(d, run.service)
            if d in owners and reals != set(run.reals):
                out.append('%s serves with %d of %d real servers' % (d, len(reals),
                                                                     len(run.reals)))
            if d not in owners:
                if st['vip']:
                    out.append('%s still holds the VIP' % d)
                if warm and reals != set(run.reals):
                    out.append('%s stands by with %d of %d real servers' % (d, len(reals),
                                                                             len(run.reals)))
                if not warm and st['table']:
                    out.append('%s stands by with an IPVS table (should be empty: its '
                               'director daemon was left running)' % d)
        run.measured.left_behind = out


class ReplaySchedule:
    """A fault schedule (topo/engine/schedule.py) replayed on the clock: each fault
    injected `at` seconds after this step began and cleared `repair` seconds later,
    then the rest of `duration` held. A clear that takes long (a director booting)
    can make the next fault late: each fault's real times and lateness are kept."""

    def __init__(self, faults, duration):
        self.faults, self.duration = faults, duration

    def __call__(self, run):
        t0 = time.time()
        played = []
        run.measured.schedule = {'start': t0, 'duration_s': self.duration, 'faults': played}
        for i, f in enumerate(self.faults):
            _sleep_until(t0 + f.at)
            stage('fault %d of %d at %.0fs: %s of %s for %.0fs'
                  % (i + 1, len(self.faults), f.at, f.fault, f.target, f.repair))
            Inject(f.fault, f.target)(run)
            record = run.history.faults[-1]
            _sleep_until(t0 + f.cleared)
            Clear(f.target)(run)
            played.append(dict(f.as_dict(), injected=record.injected, cleared=record.cleared,
                               late_s=round(record.injected - (t0 + f.at), 3)))
        _sleep_until(t0 + self.duration)
        run.measured.schedule['end'] = time.time()


def _sleep_until(t):
    time.sleep(max(0.0, t - time.time()))
