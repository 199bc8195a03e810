"""How fast this machine is, said as events for the run's fidelity
(topo/engine/fidelity.py): on real machines each director, real server and client runs
one, since a failover's time is made of process starts and timers there, not on the
control node. The emulation's nodes share the testbed's own kernel, whose speed the
fidelity monitor measures itself with the same functions.

  python3 -m topo.agents.speed --period 2

First a `speed` event with `calibration` (over 2 s: 10 starts of /bin/true, each after
one of 20 short timers, their lateness, the load average: the machine as the measurement
begins), then one every period: `start_s` (one /bin/true), `late_s` (one timer), `load1`,
and `away_s` (how late its own wait ended: a machine taken away between two probes).
"""
import argparse
import subprocess
import time

from topo.agents import events


def start_s(argv=('/bin/true',)):
    """Seconds to start a program and see it exit."""
    t = time.monotonic()
    subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.monotonic() - t


def late_s(sleep=0.01):
    """How late a short timer fires."""
    t = time.monotonic()
    time.sleep(sleep)
    return max(0.0, time.monotonic() - t - sleep)


def load1():
    try:
        with open('/proc/loadavg') as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def calibrate(starts=10, timers=20, gap=0.0):
    """(process starts, timers' lateness), each start right after a short timer, as the
    probes' starts come after a wait: a start straight after another is faster (warm
    caches, a CPU awake: 0.7 against 1.1 ms on this project's host, 2.3-4.0 against
    5.5-5.9 ms on its UML machines), and a calibration in a burst made every quiet run
    look twice as slow while it measured. gap: seconds between two, so that the
    calibration spans the traffic's ups and downs as the probes do."""
    s, late = [], []
    for i in range(max(starts, timers)):
        time.sleep(gap)
        if i < timers:
            late.append(late_s())
        if i < starts:
            s.append(start_s())
    return s, late


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--period', type=float, default=2.0)
    a = p.parse_args(argv)
    events.emit('ready')
    # over 2 s of the run's steady traffic: ten starts in 0.2 s once caught a quiet
    # moment (2.5 ms) that the probes, 6.5 ms, never saw again (a UML machine of
    # machines.py, the cluster working)
    starts, late = calibrate(gap=0.1)
    events.emit('speed', calibration={
        'process_start_s': [round(x, 5) for x in starts],
        'timer_late_s': [round(x, 5) for x in late], 'load1': load1()})
    t = time.monotonic()
    while True:
        time.sleep(a.period)
        away = max(0.0, time.monotonic() - t - a.period)
        events.emit('speed', start_s=round(start_s(), 5), late_s=round(late_s(), 5),
                    load1=load1(), away_s=round(away, 4))
        t = time.monotonic()


if __name__ == '__main__':
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
