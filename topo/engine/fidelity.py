"""The run's own fidelity: was the machine (the sandbox's kernel, or the host) as fast
while the run measured as when it started? An overloaded host must not silently
produce a number (Mininet-HiFi's lesson): every run calibrates before the cluster
boots and keeps a light probe running while it measures, in the experiment's own
process, in the root namespace (of the UML kernel in uml mode).

  machine      before the boot: starting /bin/true (10 times, each after a short
               timer, as the probes' starts come after a wait), a Python (3 times),
               and how late 20 short timers (sleep 10 ms) fire: the bare machine's
               speed, to compare runs made at different times
  calibration  the same once the cluster is up and idle, before the first step: the
               baseline (the cluster's own daemons are part of what is measured)
  during       every PERIOD s while the steps run: one /bin/true start, one timer's
               lateness, the load average (no verdict from fewer than MIN_PROBES)

  machines     on real machines (a backend whose nodes run their own kernels), the same
               calibration and probes on each machine, by its speed agent
               (topo/agents/speed.py), from the moment the run's traffic is steady
               (probe_machines): a failover's time is made there

  network_drops  packets the emulated network dropped by itself (no fault injects these):
               per node, its namespace's conntrack drops (a full table drops new
               connections' packets silently) and its interfaces' drops; the hub's
               ports (queues, drops) and its OVS datapath's lost upcalls; the
               kernel's backlog drops; the kernel log's "table full" and "overflow"
               complaints (topo/network/counters.py). A hardware profile's shaped
               links drop from their queues by design: those are shaped_link_drops,
               reported, not held against the run; and so are the frames the hub
               had on their way to a node whose cable a fault set down, and those
               the node sent into it (fault_cable_drops: seen as 1 per power-off on
               UML 7.2's veth; with IPv6 the node's own end drops a few more).
  hub_lookups  the emulation's hub: packets its datapath's flow cache matched (hit) and
               sent up to ovs-vswitchd (missed) during the measurement; recorded, not
               judged (a cache that keeps missing loses packets only under load)

The run is **degraded** when, during the measurement,
  - process starts were more than SLOWER times slower than calibrated (the probes'
    median against the calibration's): the whole measurement ran on a slower machine;
  - or a stall: the 95th percentile of the probes' process starts was more than STALL
    times the calibrated median (with under 20 probes, that is the slowest one), and
    more than STALL_FLOOR_S;
  - or a stall between two probes: the monitor's own wait between them ended more than
    STALL_AWAY_S late (once is enough: the machine was taken away that long);
  - or timers fired more than LATE_S late at the 95th percentile;
  - or the emulated network dropped packets by itself (network_drops);
  - or, on real machines, any machine of the cluster was so, by its own probes against
    its own calibration (the reason names the machine).
Why these thresholds: a takeover is made of process starts (heartbeat's resource
scripts, ldirectord's Perl, ipvsadm), so starts twice as slow can double what a
failover measures (the 2.6x spread seen between runs); a start ten times slower than
calibrated (0.5 s and more under UML, where one takes 45-60 ms with the cluster up)
is the machine taken away for longer than the prober's and the monitor's resolution
(50 and 100 ms) many times over; and a timer late by 100 ms shifts a measured time by
more than that resolution. Quiet runs here (uml mode) stayed within 0.9-2.0x of their
calibration, median and slowest probe alike. A stall is also at least STALL_FLOOR_S,
the prober's period: on a kernel whose processes start in 2 ms (UML 7.2 with seccomp)
ten times that is 20 ms, a wait behind the cluster's own daemons on its one CPU (seen:
26 ms at the 95th percentile in a heartbeat run beside another testbed), not the machine
taken away for longer than the resolution of what is measured. A run whose own load keeps the CPU
busy by design (the load lab's ramp and scale-out) measures no process start and
slows every one down itself: a start took 74-79 ms under 1,000 clients against
35-57 ms calibrated idle (1.3-2.3x, uml mode, pinned); its limit is LOADED_SLOWER
(4x), which a second kernel sharing the CPU still exceeds.
"""
import os
import statistics
import sys
import threading
import time

from topo.agents.speed import calibrate as _calibrate, late_s as _late_s, load1 as _load1, \
    start_s as _start_s
from topo.network import counters
from topo.stats import percentile

PERIOD = 2.0
SLOWER = 2.0
LOADED_SLOWER = 4.0
STALL = 10.0
STALL_FLOOR_S = 0.05
STALL_AWAY_S = 0.5
LATE_S = 0.1
MIN_PROBES = 3


def _summary(values, places=4):
    v = sorted(x for x in values if x is not None)
    if not v:
        return {'median': None, 'p95': None, 'max': None, 'n': 0}
    return {'median': round(statistics.median(v), places), 'p95': round(percentile(v, 95), places),
            'max': round(v[-1], places), 'n': len(v)}


def verdict(calibration, during, slower=SLOWER, stall=STALL, late_s=LATE_S):
    """(degraded, reasons) from the calibration and the probes during the measurement."""
    reasons = []
    base, now = calibration['process_start_s']['median'], during['process_start_s']['median']
    if base and now and now > slower * base:
        reasons.append('a process start took %.1f ms during the measurement, %.1fx the '
                       '%.1f ms calibrated (limit %gx)' % (now * 1e3, now / base, base * 1e3,
                                                            slower))
    high = during['process_start_s'].get('p95')
    if base and high and high > max(stall * base, STALL_FLOOR_S):
        reasons.append('a stall: process starts took %.0f ms at the 95th percentile, %.0fx '
                       'the %.1f ms calibrated (limit %gx, and %.0f ms)'
                       % (high * 1e3, high / base, base * 1e3, stall, STALL_FLOOR_S * 1e3))
    away = (during.get('wait_late_s') or {}).get('max')
    if away is not None and away > STALL_AWAY_S:
        reasons.append('a stall: the machine was taken away for %.1f s (the monitor\'s own '
                       '%g s wait ended that late; limit %.1f s)'
                       % (away, during.get('period_s', PERIOD), STALL_AWAY_S))
    late = during['timer_late_s']['p95']
    if late is not None and late > late_s:
        reasons.append('timers fired %.0f ms late (95th percentile; limit %.0f ms)'
                       % (late * 1e3, late_s * 1e3))
    return bool(reasons), reasons


def _during(starts, lates, aways, loads):
    """The probes taken while measuring, summarised as verdict() reads them."""
    return {'process_start_s': _summary(starts), 'timer_late_s': _summary(lates),
            'wait_late_s': _summary(aways), 'load1': _summary(loads, 2)}


def machine_fidelity(speed_events, start, stop, slower=SLOWER):
    """{machine: its calibration, its probes while measuring (between start and stop),
    its verdict} from the `speed` events of its agent (topo/agents/speed.py). A machine
    switched on again starts a new agent: its first calibration is the one that counts."""
    out = {}
    for name in sorted({e['node'] for e in speed_events}):
        mine = [e for e in speed_events if e['node'] == name]
        cal = next((e['calibration'] for e in mine if 'calibration' in e), None)
        probes = [e for e in mine if 'start_s' in e and start <= e['t'] <= stop]
        during = _during(*([e[k] for e in probes]
                           for k in ('start_s', 'late_s', 'away_s', 'load1')))
        m = {'calibration': cal and {
            'process_start_s': _summary(cal['process_start_s']),
            'timer_late_s': _summary(cal['timer_late_s']), 'load1': cal.get('load1')},
            'during': during}
        if m['calibration'] and len(probes) >= MIN_PROBES:
            m['degraded'], m['reasons'] = verdict(m['calibration'], during, slower)
        else:
            m['degraded'], m['reasons'] = None, [
                'too few probes while measuring for a verdict (%d of %d)'
                % (len(probes), MIN_PROBES)]
        out[name] = m
    return out


def drop_counters(network):
    """Every counter of a packet the emulated network can lose by itself, now
    (topo/network/counters.py): per node its conntrack drops and its interfaces' drops,
    the hub's ports and datapath (the backend's), and the kernel's backlogs."""
    out = {}
    for node in network.nodes:
        for k, v in counters.conntrack_drops(node.proc_net('stat/nf_conntrack')).items():
            out['%s conntrack %s' % (node.name, k)] = v
        # a node whose cable the testbed set down drops what it sends meanwhile at its
        # own end (IPv6 keeps its addresses, and sends, through a power-off's down link)
        faulted = getattr(node, 'cable_was_down', False)
        for intf, ways in counters.dev_drops(node.proc_net('dev')).items():
            for way, v in ways.items():
                out['%s %s %s drop%s' % (node.name, intf, way, counters.FAULT_CABLE
                                         if way == 'tx' and faulted else '')] = v
    out.update(network.hub_drops())
    try:
        with open('/proc/net/softnet_stat') as f:
            out['kernel backlog'] = counters.softnet_drops(f.read())
    except OSError:
        pass
    return out


def dropped(before, after):
    """The counters that rose between two drop_counters(): {counter: packets}."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}


class FidelityMonitor:
    def __init__(self, period=PERIOD, loaded=False):
        self.period = period
        self.slower = LOADED_SLOWER if loaded else SLOWER
        self.machine = self.calibration = None
        self.samples = []           # (t, process start s, timer late s, load1)
        self._stop = threading.Event()
        self._thread = None
        self.network, self.drops_before, self.network_drops = None, {}, None
        self.lookups_before = self.hub_lookups = None
        self.shaped_drops, self.kernel_log = {}, counters.KernelLog()
        self.fault_drops = {}
        self.kernel_log_other = {}
        # when the measurement stopped; the machines' probes (their recorder), and when
        # they started
        self.stopped = self.recorder = self.machines_from = None

    def calibrate(self):
        """The machine's speed now (a dict, as summary.json's fidelity has it)."""
        python = sys.executable or 'python3'
        starts, late = _calibrate()
        return {
            'process_start_s': _summary(starts),
            'python_start_s': _summary([_start_s([python, '-S', '-c', 'pass'])
                                        for _ in range(3)]),
            'timer_late_s': _summary(late),
            'load1': _load1(), 'cpus': os.cpu_count()}

    def start(self, network=None):
        """Probe from now on (and, given the network, count its own drops from now:
        after the probes have started, which must see the machine while it is read)."""
        self._thread = threading.Thread(target=self._probe, name='fidelity', daemon=True)
        self._thread.start()
        if network is not None:
            self.kernel_log.start()
            self.network, self.drops_before = network, drop_counters(network)
            self.lookups_before = network.hub_lookups()

    def _probe(self):
        t = time.monotonic()
        while not self._stop.wait(self.period):
            # how late its own wait ended: a machine taken away between two probes (a
            # fast kernel's process start is too short to be caught in the act)
            away = max(0.0, time.monotonic() - t - self.period)
            self.samples.append((time.time(), _start_s(['/bin/true']), _late_s(), _load1(),
                                 away))
            t = time.monotonic()

    def probe_machines(self):
        """Start the speed agents of a backend whose machines have kernels of their own,
        once the run's own traffic is steady (Run.run): machines that share one host's
        CPUs (machines.py's) run every process start up to 2.6x slower while the prober
        runs than idle (measured: 2.2-4.4 against 5.5-6.5 ms), which is the run's normal,
        not a machine taken away. Their measurement starts with their calibration."""
        if self.network is not None and self.recorder is None and \
                self.network.probe_machines(self.period):
            self.recorder = self.network.recorder
            self.machines_from = time.time()

    def stop(self):
        if self.stopped is None:
            self.stopped = time.time()
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self.network is not None and self.network_drops is None:
            try:
                drops = dropped(self.drops_before, drop_counters(self.network))
                after = self.network.hub_lookups()
                if after and self.lookups_before:
                    # (a flow cache that keeps missing sends every packet through one
                    # daemon: the hub's churn, which under load turns into losses)
                    self.hub_lookups = {k: after[k] - self.lookups_before[k]
                                        for k in ('hit', 'missed')}
            except Exception:       # a network already torn down (an error): no counts
                self.network = None
                return
            finally:
                said = counters.kernel_log_counts(self.kernel_log.read())
                self.kernel_log.close()
            hw = getattr(self.network, 'hardware', None)
            if hw is not None and getattr(hw, 'link_mbit', None):
                self.shaped_drops = {k: drops.pop(k) for k in list(drops)
                                     if k.endswith(' queue')}
            self.fault_drops = {k: drops.pop(k) for k in list(drops)
                                if k.endswith(counters.FAULT_CABLE)}
            drops.update(('kernel log lines "%s"' % k, v) for k, v in said['losses'].items())
            self.network_drops, self.kernel_log_other = drops, said['other']

    def report(self, keep=False):
        """summary.json's fidelity: the calibration, the probes during the measurement,
        the thresholds and the verdict."""
        during = dict(_during(*([s[i] for s in self.samples] for i in (1, 2, 4, 3))),
                      period_s=self.period)
        out = {'machine': self.machine, 'calibration': self.calibration, 'during': during,
               'thresholds': {'process_start_slower_x': self.slower, 'process_start_stall_x': STALL,
                              'process_start_stall_floor_s': STALL_FLOOR_S,
                              'wait_late_stall_s': STALL_AWAY_S,
                              'timer_late_p95_s': LATE_S,
                              'min_probes': MIN_PROBES}}
        if self.calibration and during['process_start_s']['n'] >= MIN_PROBES:
            out['degraded'], out['reasons'] = verdict(self.calibration, during, self.slower)
            if self.recorder is not None:   # the machines have theirs: this one controls
                out['reasons'] = ['the control node: %s' % r for r in out['reasons']]
        else:
            out['degraded'], out['reasons'] = None, [
                'too few probes during the measurement for a verdict (%d of %d)'
                % (during['process_start_s']['n'], MIN_PROBES)]
        if self.network_drops is not None:
            out['network_drops'] = self.network_drops
            out['shaped_link_drops'] = self.shaped_drops
            out['fault_cable_drops'] = self.fault_drops
            out['kernel_log_other'] = self.kernel_log_other
            if self.hub_lookups is not None:
                out['hub_lookups'] = self.hub_lookups
            if self.network_drops:
                out['reasons'] = out['reasons'] if out['degraded'] else []
                out['degraded'] = True
                out['reasons'].append('the emulated network dropped packets by itself: %s'
                                      % ', '.join('%s %d' % kv for kv in
                                                  sorted(self.network_drops.items())))
        if self.recorder is not None:
            with self.recorder.cond:
                speed = [e for e in self.recorder.events if e['kind'] == 'speed']
            out['machines'] = machine_fidelity(speed, self.machines_from,
                                               self.stopped or time.time(), self.slower)
            slow = ['%s: %s' % (name, r) for name, m in out['machines'].items()
                    if m['degraded'] for r in m['reasons']]
            if slow:
                out['reasons'] = (out['reasons'] if out['degraded'] else []) + slow
                out['degraded'] = True
        if keep:
            out['samples'] = [[round(x, 4) if x is not None else None for x in s]
                              for s in self.samples]
        return out
