"""Clocks of other machines: every event a node records carries its own clock's time,
and on real machines (topo/backends/machines/inventory.py) the clocks differ. A node's offset from the
control node's clock is estimated over the channel to it as NTP does, with a known
uncertainty, and its events are put on the control node's clock before any invariant
or timeline compares them."""
import time
from dataclasses import asdict, dataclass


@dataclass
class Offset:
    offset_s: float         # the node's clock minus the control node's
    uncertainty_s: float    # the true offset lies within offset_s +- this (half a round trip)
    round_trip_s: float     # of the exchange the estimate comes from
    exchanges: int

    def as_dict(self):
        return asdict(self)


def estimate(exchanges):
    """The offset from exchanges [(t0, remote, t1)]: the control node's clock when it
    asked, the node's clock as it answered, the control node's clock when the answer
    came. The node read its clock some time within [t0, t1]; the midpoint is the best
    guess, wrong by at most half the round trip, so the exchange with the shortest round
    trip wins (NTP's clock filter)."""
    if not exchanges:
        raise ValueError('no exchange to estimate a clock offset from')
    t0, remote, t1 = min(exchanges, key=lambda e: e[2] - e[0])
    if t1 < t0:
        raise ValueError('the control clock went backwards during an exchange')
    return Offset(round(remote - (t0 + t1) / 2, 6), round((t1 - t0) / 2, 6),
                  round(t1 - t0, 6), len(exchanges))


def measure(read_node_clock, exchanges=8, clock=time.time):
    """The offset of a node whose clock read_node_clock() returns (a float, seconds),
    asked `exchanges` times over its channel."""
    samples = []
    for _ in range(exchanges):
        t0 = clock()
        remote = read_node_clock()
        samples.append((t0, remote, clock()))
    return estimate(samples)


def on_control_clock(events, offsets):
    """Events ({'node', 't', ...}) with each time put on the control node's clock, by
    the offset of the node that recorded it ({node: Offset}; a node without one is
    the control node itself)."""
    out = []
    for e in events:
        off = offsets.get(e.get('node'))
        out.append(dict(e, t=round(e['t'] - off.offset_s, 6))
                   if off is not None and e.get('t') is not None else dict(e))
    return out
