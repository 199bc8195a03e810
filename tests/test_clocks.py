"""Clock offsets of other machines (topo/analysis/clocks.py), estimated over a channel
as NTP does and proven on a node whose clock is off by a known, artificial amount."""
import subprocess

import pytest

from conftest import PYTHON
from topo.analysis import clocks


def test_the_shortest_round_trip_wins_and_bounds_the_error():
    # the node's clock is 5 s ahead; one answer was held up on the way back
    exchanges = [(100.0, 105.1, 100.6),      # asymmetric: the midpoint is 0.2 s off
                 (101.0, 106.02, 101.04),    # quick: midpoint 101.02
                 (102.0, 107.3, 102.9)]
    off = clocks.estimate(exchanges)
    assert off.offset_s == pytest.approx(5.0) and off.uncertainty_s == pytest.approx(0.02)
    assert off.round_trip_s == pytest.approx(0.04) and off.exchanges == 3
    assert abs(off.offset_s - 5.0) <= off.uncertainty_s
    with pytest.raises(ValueError):
        clocks.estimate([])
    with pytest.raises(ValueError, match='backwards'):
        clocks.estimate([(10.0, 12.0, 9.0)])


def test_a_node_with_an_artificial_offset_is_measured_and_its_events_corrected():
    """The 'node' is another process whose clock reads 3.25 s ahead (its channel: a pipe,
    as an SSH session would be); its events come back on the control node's clock."""
    node = subprocess.Popen(
        [PYTHON, '-u', '-c', 'import sys, time\n'
         'for _ in sys.stdin: print(time.time() + 3.25, flush=True)'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)

    def read_node_clock():
        node.stdin.write('\n')
        node.stdin.flush()
        return float(node.stdout.readline())
    try:
        off = clocks.measure(read_node_clock, exchanges=10)
    finally:
        node.stdin.close()
        node.wait(timeout=10)
    assert off.exchanges == 10 and 0 < off.uncertainty_s < 0.5
    assert abs(off.offset_s - 3.25) <= off.uncertainty_s + 0.001
    events = [{'node': 'laicoy', 'kind': 'vip', 't': 1003.25}, {'node': 'client', 't': 7.0},
              {'node': 'laicoy', 'kind': 'ready', 't': None}]
    fixed = clocks.on_control_clock(events, {'laicoy': off})
    assert fixed[0]['t'] == pytest.approx(1000.0, abs=off.uncertainty_s + 0.001)
    assert fixed[1] == events[1] and fixed[2]['t'] is None and events[0]['t'] == 1003.25
