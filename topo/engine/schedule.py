"""A seeded random schedule of faults (experiments/availability.py): the same seed
gives the same schedule, replayed identically against every layout.

Faults come one at a time, as an alternating renewal process: up for an exponential
time (mean `mtbf`, the whole cluster's mean time between faults), then one fault on
a node drawn uniformly (every node as likely to fail) of a kind drawn uniformly
among those that apply to that node, repaired after `min_repair` plus an
exponential time (mean `mttr` in all). The floor keeps a repair longer than a
failover: a fault repaired before the backup could take over would hide whether
the stack fails over at all.
"""
import random
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ScheduledFault:
    at: float           # seconds after the measurement started
    fault: str          # a fault's name (topo/faults/)
    target: str         # the node
    repair: float       # seconds until it is cleared

    @property
    def cleared(self):
        return self.at + self.repair

    def as_dict(self):
        return dict(asdict(self), cleared=round(self.cleared, 3))


def applicable(kinds, targets, allowed):
    """{target: [fault kinds that apply to it]} (targets no kind applies to left out);
    allowed(kind, target) says whether one applies."""
    out = {t: [k for k in kinds if allowed(k, t)] for t in targets}
    return {t: ks for t, ks in out.items() if ks}


def generate(seed, duration, mtbf, mttr, choices, min_repair=0.0, start=0.0):
    """The faults of one schedule, in order, each cleared before the next and before
    `duration`. choices: {target: [fault kinds]} (see applicable())."""
    if mtbf <= 0 or mttr <= 0 or duration <= 0:
        raise ValueError('mtbf, mttr and duration must be positive')
    if not 0 <= min_repair <= mttr:
        raise ValueError('the shortest repair (%gs) must lie between 0 and the mean '
                         'repair time (%gs)' % (min_repair, mttr))
    if not choices:
        raise ValueError('no fault kind applies to any target')
    rng = random.Random(seed)
    targets = sorted(choices)
    out, t = [], start
    while True:
        t += rng.expovariate(1.0 / mtbf)
        target = rng.choice(targets)
        fault = rng.choice(sorted(choices[target]))
        extra = mttr - min_repair
        repair = min_repair + (rng.expovariate(1.0 / extra) if extra > 0 else 0.0)
        if t + repair > duration:
            return out
        out.append(ScheduledFault(round(t, 3), fault, target, round(repair, 3)))
        t += repair
