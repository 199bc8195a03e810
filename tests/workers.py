"""The test suite's pytest-xdist flags, for `./testbed test`: two workers in uml mode
on a machine with two CPUs or more, else none (one process, as before).

Why two: each integration test boots its own UML kernel, pinned to a CPU no other UML
holds (topo/kernels/uml.py), and spends most of its time waiting on the cluster's
timers; two at once took the suite from 27-29 min to 15 min on a 2-CPU machine with
every timing check passing. Natively there is one kernel, and it takes one cluster at
a time (the run's lock): one worker. Tests that share one thing of the host (the
machines of machines.py) are one xdist_group, run one after another. A user's own -n
after these wins (`./testbed test -n 0`: one process)."""
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def flags():
    if importlib.util.find_spec('xdist') is None:
        return []
    from topo.kernels.native import native_missing
    if not native_missing() or len(os.sched_getaffinity(0)) < 2:
        return []
    return ['-n', '2', '--dist', 'loadgroup']


if __name__ == '__main__':
    print(' '.join(flags()))
