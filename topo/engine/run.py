"""One boot of the cluster with a scenario run on it, and the typed result it gives.

    plan = Plan('failover', ClusterConfig(), stack)
    result = Run(plan, out).run(scenarios.paper())
    result.passed, result.analysis['failover']

A Run boots the network (topo/backends) with the plan's HA stack (or none: a
static IPVS service) and hardware profile, runs the scenario's steps
(topo/engine/steps/) on it, tears it down, and returns a RunResult: the
history (every event, every probe, the marks, the faults), what the steps
measured (Measured: one typed field per kind of measurement), the analysis
(topo/analysis/timeline.py) and the verdict of each of the scenario's checkers
(topo/analysis/checks.py). summary.json is written from that result as it grows.
"""
import csv
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from topo.engine.results import Summary, header
from topo.network.config import DIRECTORS

PROBE_FIELDS = ['t', 'stage', 'ok', 'server', 'error', 'latency_s']


def stage(text):
    """One progress line per stage, with the time since the process started."""
    print('[%6.1fs] %s' % (time.monotonic() - _T0, text), flush=True)


_T0 = time.monotonic()


@dataclass
class Measure:
    """How a run measures."""
    probe_rate: float = 20.0        # prober requests per second
    probe_timeout: float = 1.0      # timeout of each probe request (s)
    wait: float = 90.0              # longest wait for an expected state before the check fails
    settle: float = 3.0             # steady probing after each recovery (s)


@dataclass
class Plan:
    """What an experiment runs: everything its summary's header records, and all a Run
    builds its cluster from (so what is recorded is what is applied)."""
    experiment: str
    config: object                  # topo.network.config.ClusterConfig
    stack: object = None            # an HA stack (topo/ha), or None: a static IPVS service
    measure: Measure = field(default_factory=Measure)
    hardware: object = None         # a topo.network.hardware.Profile, or None
    options: dict = field(default_factory=dict)     # the experiment's own parameters
    scenario: object = None         # what one Run of the plan runs (topo/engine/scenarios.py)
    cells: list = field(default_factory=list)       # or a matrix's cells (topo/engine/matrix.py)
    trials: int = 1                 # boots of each cell (or of the scenario), all measured
    keep_degraded: bool = False     # spreads over trials keep the degraded ones too
    sandbox_only: str = None        # why this plan changes kernel-wide settings: refused natively
    backend: str = 'mininet'        # the node backend, by name (topo/backends/)
    target: object = None           # its machines: an inventory (topo/backends/machines/
                                    # inventory.py), reached over SSH; None for the emulation

    def parameters(self, stack=None):
        stack = self.stack if stack is None else stack
        p = dict((stack.config if stack else self.config).as_dict(), **asdict(self.measure))
        p['stack'] = stack.parameters() if stack else None
        p['hardware'] = self.hardware.as_dict() if self.hardware else None
        p['target'] = self.target.path if self.target else None
        p.update(self.options)
        p.update(trials=self.trials, keep_degraded=self.keep_degraded)
        return p

    def describe(self):
        """The plan alone (`--plan`): what a summary's header will say, and the cells."""
        d = {'experiment': self.experiment, 'stack': self.stack.name if self.stack else None,
             'layout': self.stack.layout if self.stack else None,
             'parameters': self.parameters()}
        if self.scenario:
            d['scenario'] = self.scenario.describe()
        if self.cells:
            d['cells'] = [c.describe(self) for c in self.cells]
        return d


@dataclass
class FaultRecord:
    fault: str
    target: str
    injected: float
    cleared: float = None
    recovered: float = None         # back to the figure-5 state for good (WaitRecovered)
    params: dict = field(default_factory=dict)


@dataclass
class History:
    events: list = field(default_factory=list)      # events.jsonl: monitors, agents, faults
    probes: list = field(default_factory=list)      # probe.csv: the prober's requests
    marks: dict = field(default_factory=dict)       # name -> time: stages, faults, clears
    faults: list = field(default_factory=list)      # FaultRecord, in the order injected
    t_end: float = None


@dataclass
class Burst:
    count: int
    answers: dict                   # server (or 'failed') -> requests


@dataclass
class Measured:
    """What the steps measured; each kind of measurement has its own field."""
    cluster_start_s: dict = None
    macs: dict = None               # MAC -> director (to name the client's ARP flips)
    hardware: dict = None           # what a hardware profile's caps really delivered
    cgroup_usage: dict = None
    hub_check: dict = None
    bursts: list = field(default_factory=list)          # Burst
    figures: dict = field(default_factory=dict)         # str(number) -> the figure's check
    snapshots: dict = field(default_factory=dict)       # director -> `ipvsadm -L` and its table
    connection_entries: dict = field(default_factory=dict)   # director -> {state: entries}
    connection_sources: dict = field(default_factory=dict)   # director -> clients' ip:port
    load_done: dict = None          # the load generator's totals
    levels: list = field(default_factory=list)          # h2load levels (ramp)
    scale: list = field(default_factory=list)           # h2load with N real servers
    schedulers: dict = field(default_factory=dict)      # scheduler -> its results
    ipvs_timeouts: str = None
    left_behind: list = None        # what a fault left in the cluster at the end
    fidelity: dict = None           # the machine's speed while measuring (topo/engine/fidelity.py)
    server_work: list = field(default_factory=list)     # each real server drained, upgraded
    server_change: dict = None      # conn-sync --change: the change, its server, when
    multicast: dict = field(default_factory=dict)   # label -> director -> UDP, multicast sent
    versions: dict = None           # real server -> the version its pages say
    resizes: list = field(default_factory=list)         # the service grown or shrunk
    schedule: dict = None           # a random fault schedule as it was replayed
    machines: dict = None           # --target: each machine's kernel and clock offset


@dataclass
class RunResult:
    history: History = field(default_factory=History)
    measured: Measured = field(default_factory=Measured)
    failures: list = field(default_factory=list)    # what a step could not do, in order
    analysis: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)      # checker -> its problems ([]: passed)
    passed: bool = None

    @property
    def degraded(self):
        """The machine was much slower while measuring than at calibration (None: unknown)."""
        return (self.measured.fidelity or {}).get('degraded')

    def body(self):
        """The result as summary.json says it, after the header."""
        out = {k: v for k, v in asdict(self.measured).items() if v not in (None, [], {})}
        h = self.history
        out.update(marks=h.marks, faults=[asdict(f) for f in h.faults], failures=self.failures,
                   t_end=h.t_end, **self.analysis)
        if self.checks:
            out['checks'] = self.checks
        if self.passed is not None:
            out['passed'] = self.passed
        if self.measured.fidelity:
            out['degraded'] = self.degraded
        return out


class ProbeCSV:
    """probe.csv, one row per prober request, written as the answers arrive."""

    def __init__(self, path):
        self.path, self.file = path, None

    def __call__(self, row):
        if self.file is None:
            self.file = open(self.path, 'w', newline='')
            self.writer = csv.DictWriter(self.file, PROBE_FIELDS, extrasaction='ignore')
            self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def close(self):
        if self.file:
            self.file.close()


_PLAN = object()


class Run:
    """One boot of the cluster; a scenario's steps run on it."""

    def __init__(self, plan, out, stack=_PLAN, experiment=None):
        self.plan = plan
        self.stack = plan.stack if stack is _PLAN else stack
        # a cell's stack may run a variant of the plan's cluster (conn-sync's mh cells)
        self.config = self.stack.config if self.stack else plan.config
        self.measure = plan.measure
        self.out = Path(out)
        self.nice = bool(self.stack and self.stack.settings.nice_failback)
        self.service = self.config.service
        # real servers a step took out of the service on purpose: the full table is
        # the others (topo/engine/steps/maintenance.py)
        self.out_of_service = set()
        self.result = RunResult()
        self.history, self.measured = self.result.history, self.result.measured
        self.active = {}        # target -> its faults in place, the latest last
        self.network = self.rec = None
        self.prober = self.load = None      # the client's prober and load generator
        self.static_servers = None          # the real servers of a static service, if any
        self.summary = Summary(self.out / 'summary.json', header(plan, experiment, self.stack))

    # -- what steps use ---------------------------------------------------------------
    @property
    def reals(self):
        """The addresses of the real servers in the service (all, unless it was grown)."""
        service = self.stack.service if self.stack else self.config
        return [self.config.real_endpoint(s)
                for s in service.real_servers if s not in self.out_of_service]

    def save(self):
        self.summary.data.update(self.result.body())
        self.summary.write()

    def mark(self, name, t=None):
        self.history.marks[name] = t or time.time()
        self.save()

    def set_stage(self, label):
        self.network.set_stage(label)
        self.mark('stage:' + label)

    def fail(self, text):
        stage('FAILED: ' + text)
        self.result.failures.append(text)
        self.save()

    def wait(self, what, predicate):
        """Wait for a state; the time it came, or None (a failed check, said at once)."""
        t = self.rec.wait_for(predicate, self.measure.wait)
        if t is None:
            self.fail('timed out after %.0fs waiting for %s' % (self.measure.wait, what))
        return t

    def whole(self, r, name):
        """The director's table is full: every virtual service (dual stack: one per VIP)
        with every real server in the service."""
        service = self.stack.service if self.stack else self.config
        return all(r.reals(name, view.service) == {view.real_endpoint(s)
                                                     for s in service.real_servers
                                                     if s not in self.out_of_service}
                   for view in self.config.families())

    def serving(self, name):
        """The director holds the VIP and the full table."""
        return lambda r: r.node(name)['vip'] and self.whole(r, name)

    def standing_by(self, name):
        if self.stack.backup_table_warm:
            return lambda r: not r.node(name)['vip'] and self.whole(r, name)
        return lambda r: not r.node(name)['vip'] and not r.node(name)['table']

    # -- the run --------------------------------------------------------------------
    def run(self, scenario=None):
        """Boot the cluster, run the steps (of the plan's scenario by default), tear down,
        analyse, check; the RunResult."""
        scenario = scenario or self.plan.scenario
        from topo import backends
        from topo.agents.recorder import Recorder
        from topo.analysis import checks, timeline
        from topo.engine.fidelity import FidelityMonitor
        self.scenario = scenario
        self.summary.update(scenario=scenario.name)
        if self.stack:
            self.summary.update(dual_owner_allowed=scenario.dual_owner_allowed,
                                dual_owner_tolerance_s=self.stack.handover_overlap_s)
        fidelity = FidelityMonitor(loaded=scenario.saturates_cpu)
        fidelity.machine = fidelity.calibrate()
        # a resize changes the stack's service: the next run of the cell starts as planned
        in_service = self.stack.in_service if self.stack else None
        probes = ProbeCSV(self.out / 'probe.csv')
        self.rec = Recorder(self.out / 'events.jsonl', on_probe=probes)
        stage('starting the cluster with %s' % (self.stack.description if self.stack else
                                                 'a static IPVS service: %s'
                                                 % ', '.join(self.config.hosts)))
        try:
            with backends.network(self.config, backend=self.plan.backend, log=stage,
                                  log_dir=self.out, stack=self.stack, recorder=self.rec,
                                  hardware=self.plan.hardware,
                                  inventory=self.plan.target) as self.network:
                self._booted()
                fidelity.calibration = cal = fidelity.calibrate()
                stage('calibrated, the cluster up: a process starts in %.1f ms (%.1f ms before '
                      'the boot), timers fire %.1f ms late (median)'
                      % (cal['process_start_s']['median'] * 1e3,
                         fidelity.machine['process_start_s']['median'] * 1e3,
                         cal['timer_late_s']['median'] * 1e3))
                fidelity.start(self.network)
                # nothing is measured on a network that does not forward (checks.forwarded)
                from topo.engine.steps.traffic import VerifyHub
                if VerifyHub()(self)['verified']:
                    steady = steady_after(scenario.steps)
                    if steady is None:
                        fidelity.probe_machines()
                    for i, step in enumerate(scenario.steps):
                        step(self)
                        self.save()
                        if i == steady:
                            fidelity.probe_machines()
                else:
                    self.fail('the network does not forward: %s; nothing was measured'
                              % checks.describe_hub_check(self.measured.hub_check))
                self.stop_prober()
                self.history.t_end = time.time()
                fidelity.stop()
                self._keep()
        finally:
            if self.stack:
                self.stack.in_service = in_service
            fidelity.stop()
            self.measured.fidelity = fidelity.report(keep=True)
            self.rec.close()
            probes.close()
            self.history.events, self.history.probes = self.rec.events, self.rec.probes
        if self.stack:
            self.result.analysis = timeline.analyse(
                self.history, self.stack, self.config, bursts=self.measured.bursts,
                macs=self.measured.macs, period=1.0 / self.measure.probe_rate)
        if scenario.analyse:
            self.result.analysis.update(scenario.analyse(self.result))
        self.result.checks = {c.__name__: c(self) for c in [checks.forwarded] + scenario.checks}
        self.result.passed = not any(self.result.checks.values())
        self.save()
        self.summary.finish()
        return self.result

    def _booted(self):
        net = self.network
        self.measured.cluster_start_s = {k: round(v, 2) for k, v in net.timings.items()}
        self.save()         # kept before it is announced: a Ctrl-C may follow at once
        stage('cluster up in %.1fs' % net.timings['start_s'])
        configs = dict(net.configs if self.stack else {},
                       **{r.name: r.configs for r in net.real_servers})
        for name, paths in configs.items():
            dst = self.out / 'configs' / name
            dst.mkdir(parents=True, exist_ok=True)
            for path in paths:
                if Path(path).exists():     # (a machine's file it could not fetch: none)
                    shutil.copy2(path, dst / Path(path).name)
        self.measured.machines = net.machines()
        if self.stack:
            self.measured.macs = {net[d].mac(): d for d in DIRECTORS}
        if self.plan.hardware:
            self.measured.hardware = hardware_report(net, self.plan.hardware)
        self.save()

    def _keep(self):
        """The daemons' logs and the real servers' nginx error logs, and what the caps cost."""
        for node in self.network.nodes:
            if node.role == 'director' and self.stack:
                files = [(Path(node.private(p)), Path(p).name) for p in self.stack.logs(node)]
            elif node.role == 'real server':
                files = node.kept_logs()
            else:
                continue
            for src, name in files:
                if src.exists():
                    dst = self.out / 'logs' / node.name
                    dst.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dst / name)
        # the hardware profile's caps, or a starved node's group: what each got
        self.measured.cgroup_usage = self.network.usage() or None

    def stop_prober(self, wait_s=5):
        if self.prober and self.prober.poll() is None:
            try:
                self.network.client.stop_agent(self.prober, wait_s)
            except Exception:
                self.prober.kill()
        self.prober = None


def steady_after(steps):
    """The index of the step after which the run's traffic is steady (the prober and
    the load it starts together running), or None when it starts none."""
    first = next((i for i, st in enumerate(steps) if getattr(st, 'steady', False)), None)
    while first is not None and first + 1 < len(steps) and \
            getattr(steps[first + 1], 'steady', False):
        first += 1
    return first


def hardware_report(network, profile):
    """What the profile's caps really deliver: link rate and CPU shares, measured."""
    stage('hardware %s: measuring what the caps deliver' % profile.name)
    got = {'profile': profile.as_dict(),
           'link_mbit_measured': network.measure_link(),
           'director_cpu_measured': network.measure_cpu('director'),
           'server_cpu_measured': network.measure_cpu('server')}
    stage('link %.2f Mbit/s (asked %g); CPU share director %.3f (asked %.3f), real '
          'server %.3f (asked %.3f)' % (
              got['link_mbit_measured'], profile.link_mbit, got['director_cpu_measured'],
              profile.cpu_share('director'), got['server_cpu_measured'],
              profile.cpu_share('server')))
    return got

