"""Scenarios as data: a list of steps run on one boot of the HA cluster.

    run = Run(config, stack, Measure(), out)
    run.run(PAPER)          # the paper's four stages (figures 5-14)
    run.run(failovers(3), expect='failovers')   # three director failovers and failbacks

A step is a small object called with the Run: inject or clear a fault
(topo/faults/), wait for a state of the cluster, save and check one of the
paper's figures, send requests, start the prober. A new scenario is a new
list; a new fault is a new module in topo/faults/. The Run keeps every result
in its folder as it is made (summary.json, events.jsonl, probe.csv, figures,
configs, logs); the analysis is in timeline.py, the console report in report.py.
"""
import csv
import re
import shutil
import time
from dataclasses import asdict, dataclass

from experiments import common, figures, report, timeline
from topo.network.config import BACKUP, DIRECTORS, PRIMARY

PROBE_FIELDS = ['t', 'stage', 'ok', 'server', 'error', 'latency_s']


@dataclass
class Measure:
    """How a run measures."""
    probe_rate: float = 20.0        # prober requests per second
    probe_timeout: float = 1.0      # timeout of each probe request (s)
    wait: float = 90.0              # longest wait for an expected state before the check fails
    settle: float = 3.0             # steady probing after each recovery (s)


class ProbeCSV:
    """probe.csv, one row per prober request, written as the answers arrive."""

    def __init__(self, path):
        self.file = open(path, 'w', newline='')
        self.writer = csv.DictWriter(self.file, PROBE_FIELDS, extrasaction='ignore')
        self.writer.writeheader()

    def __call__(self, row):
        self.writer.writerow(row)
        self.file.flush()

    def close(self):
        self.file.close()


class Run:
    """One boot of the cluster with an HA stack; a scenario's steps run on it."""

    def __init__(self, config, stack, measure, out, experiment='failover'):
        from topo import sandbox
        self.config, self.stack, self.measure, self.out = config, stack, measure, out
        self.nice = stack.settings.nice_failback
        self.service = '%s:%d' % (config.vip, config.port)
        self.reals = ['%s:%d' % (config.addresses[s], config.port) for s in config.real_servers]
        self.summary = common.Summary(
            out / 'summary.json', experiment=experiment, stack=stack.name,
            kernel_mode=sandbox.kernel_mode(), kernel_release=__import__('os').uname().release,
            parameters=dict(config.as_dict(), stack=stack.parameters(), **asdict(measure)),
            figures={}, failures=[])
        self.marks = {}         # event name -> wall time (faults, clears, stages)
        self.faults = []        # every fault injected: {'fault', 'target', 'injected', 'cleared'}
        self.active = {}        # target -> its faults in place, the latest last
        self.cluster = self.rec = None
        self.t_end = None

    # -- what steps use ---------------------------------------------------------------
    def mark(self, name, t=None):
        self.marks[name] = t or time.time()
        self.summary.update(marks=self.marks)

    def set_stage(self, label):
        (self.cluster.workdir / 'stage').write_text(label)
        self.mark('stage:' + label)

    def fail(self, text):
        common.stage('FAILED: ' + text)
        self.summary.data['failures'].append(text)
        self.summary.write()

    def wait(self, what, predicate):
        """Wait for a state; the time it came, or None (a failed check, said at once)."""
        t = self.rec.wait_for(predicate, self.measure.wait)
        if t is None:
            self.fail('timed out after %.0fs waiting for %s' % (self.measure.wait, what))
        return t

    def serving(self, name):
        """The director holds the VIP and the full table."""
        return lambda r: r.node(name)['vip'] and r.reals(name, self.service) == set(self.reals)

    def standing_by(self, name):
        if self.stack.backup_table_warm:
            return lambda r: not r.node(name)['vip'] and \
                r.reals(name, self.service) == set(self.reals)
        return lambda r: not r.node(name)['vip'] and not r.node(name)['table']

    # -- the run --------------------------------------------------------------------
    def run(self, steps, expect='figures', dual_owner_allowed=False):
        """Boot the cluster, run the steps, tear down, analyse, report; the exit status.

        Two VIP owners break the run's invariants unless the scenario provokes them
        (dual_owner_allowed): then they are its measurement."""
        self.summary.update(dual_owner_allowed=dual_owner_allowed,
                            dual_owner_tolerance_s=self.stack.handover_overlap_s)
        from topo.agents.recorder import Recorder
        from topo.network.cluster import Cluster
        self.probes = ProbeCSV(self.out / 'probe.csv')
        self.rec = Recorder(self.out / 'events.jsonl', on_probe=self.probes)
        common.stage('stage 1: starting the cluster with %s' % self.stack.description)
        try:
            with Cluster(self.config, log=common.stage, log_dir=self.out, stack=self.stack,
                         recorder=self.rec) as self.cluster:
                self.keep_configs()
                self.summary.update(cluster_start_s={k: round(v, 2) for k, v in
                                                     self.cluster.timings.items()})
                self.summary.update(macs={self.cluster[d].MAC(): d for d in DIRECTORS})
                for step in steps:
                    step(self)
                self.cluster.stop_prober()
                self.t_end = time.time()
                self.keep_logs()
        finally:
            self.rec.close()
            self.probes.close()
        self.summary.update(faults=self.faults,
                            **timeline.analyse(self.rec.events, self.rec.probes, self.faults,
                                               self.stack, self.config,
                                               self.summary.data.get('requests_15'),
                                               self.summary.data.get('macs'), self.t_end))
        try:
            from experiments import plot_failover
            plot_failover.plot(self.out)
        except Exception as e:     # plots are a view of the data: report, do not lose the run
            self.fail('plotting failed: %s' % e)
        ok = report.verdict(self.summary.data, expect)
        self.summary.finish(passed=ok)
        report.console(self.summary.data, self.out, expect)
        return 0 if ok else 1

    def keep_configs(self):
        for name, paths in self.cluster.configs.items():
            dst = self.out / 'configs' / name
            dst.mkdir(parents=True, exist_ok=True)
            for path in paths:
                shutil.copy2(path, dst / path.name)

    def keep_logs(self):
        for name in DIRECTORS:
            director = self.cluster[name]
            dst = self.out / 'logs' / name
            dst.mkdir(parents=True, exist_ok=True)
            for log in self.stack.logs(director):
                src = director.private(log)
                if __import__('os').path.exists(src):
                    shutil.copy2(src, dst)


# -- steps ------------------------------------------------------------------------------
class Say:
    def __init__(self, text):
        self.text = text

    def __call__(self, run):
        common.stage(self.text)


class WaitServing:
    """The director holds the VIP and the full table."""

    def __init__(self, node, said=None):
        self.node, self.said = node, said

    def __call__(self, run):
        if run.wait('%s to hold the VIP and all real servers' % self.node, run.serving(self.node)):
            common.stage(self.said or '%s serves %s with %d real servers'
                         % (self.node, run.service, len(run.reals)))


class WaitPrimaryUp:
    """Stage 1: the primary takes the VIP within the time its stack allows at start-up
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


class Figure:
    """Save `ipvsadm -L` (and -L -n) of the figure's director and check it."""

    def __init__(self, number):
        self.number = number

    def __call__(self, run):
        from topo.network import ipvs
        fig = self.number
        host, what = figures.FIGURES[fig]
        director = run.cluster[host]
        listing, numeric = director.snapshot(), director.snapshot(numeric=True)
        (run.out / ('fig%02d-%s.txt' % (fig, host))).write_text(listing)
        (run.out / ('fig%02d-%s.n.txt' % (fig, host))).write_text(numeric)
        vip = run.rec.node(host)['vip']
        expect = figures.expectation(fig, run.config, run.stack.backup_table_warm, run.nice)
        table = ipvs.parse(numeric)
        passed, problems = figures.check(expect, table, vip, run.config)
        run.summary.data['figures'][str(fig)] = {
            'host': host, 'state': what, 'expected': expect,
            'expected_text': figures.describe(expect, run.config),
            'observed': figures.observe(table, vip, run.config), 'passed': passed,
            'problems': problems, 't': time.time()}
        run.summary.write()
        common.stage('figure %d on %s: %s%s' % (fig, host, 'PASS' if passed else 'FAIL',
                                                 '' if passed else ' (%s)' % '; '.join(problems)))


class Burst:
    """count sequential requests from the client (the paper's browser reloads)."""

    def __init__(self, count=15):
        self.count = count

    def __call__(self, run):
        replies = run.cluster.burst(self.count)
        answers = {}
        for r in replies:
            key = r.get('server') if r['ok'] else 'failed'
            answers[key] = answers.get(key, 0) + 1
        run.summary.update(**{'requests_%d' % self.count: answers})
        common.stage('answers: %s' % answers)


class StartProber:
    def __call__(self, run):
        m = run.measure
        run.set_stage('steady')
        run.cluster.start_prober(m.probe_rate, m.probe_timeout, str(run.cluster.workdir / 'stage'))
        if run.wait('the prober to get answers', lambda r: r.probes_ok >= 5):
            common.stage('prober running at %.0f requests/s' % m.probe_rate)


class Inject:
    """Inject a fault (by name, topo/faults/) into a node."""

    def __init__(self, fault, target, **params):
        self.fault, self.target, self.params = fault, target, params

    def __call__(self, run):
        from topo import faults
        fault = faults.get(self.fault)(run.cluster, self.target, **self.params)
        run.set_stage(fault.label(fault.inject_word))
        t = fault.inject()
        run.mark(fault.mark(fault.inject_word), t)
        run.active.setdefault(self.target, []).append(fault)
        run.faults.append({'fault': fault.name, 'target': self.target, 'injected': t,
                           'cleared': None})
        run.summary.update(faults=run.faults)


class Clear:
    """Undo the fault last injected into a node (and still in place)."""

    def __init__(self, target):
        self.target = target

    def __call__(self, run):
        fault = run.active[self.target].pop()
        run.set_stage(fault.label(fault.clear_word))
        t = fault.clear()
        run.mark(fault.mark(fault.clear_word), t)
        record = [f for f in run.faults if f['target'] == self.target and f['fault'] == fault.name
                  and f['cleared'] is None][-1]
        record['cleared'] = t
        run.summary.update(faults=run.faults)


class WaitRemoved:
    """The active director's health checks drop a real server."""

    def __init__(self, server, director=PRIMARY):
        self.server, self.director = server, director

    def __call__(self, run):
        address = '%s:%d' % (run.config.addresses[self.server], run.config.port)
        if run.wait('the health check to remove %s' % self.server,
                    lambda r: address not in r.reals(self.director, run.service)):
            common.stage('%s removed from the table' % self.server)


class WaitTakeover:
    """The backup serves, and the client is answered again after the fault."""

    def __call__(self, run):
        t_fault = run.active[PRIMARY][-1].injected_at
        if run.wait('laicoy to take over', run.serving(BACKUP)):
            common.stage('laicoy holds the VIP and the full table')
        first_ok = run.wait('a successful request through laicoy',
                            lambda r: (r.last_ok_sent or 0) > t_fault)
        if first_ok:
            common.stage('client served again %.2fs after the fault' % (first_ok - t_fault))


class WaitSettled:
    """After the primary came back: the service where it belongs (laicoz, or with nice
    failback laicoy), the other director standing by."""

    def __call__(self, run):
        owner, other = (BACKUP, PRIMARY) if run.nice else (PRIMARY, BACKUP)
        if run.nice:
            # Nothing changes if all goes well: wait for laicoz to rejoin, then watch a while.
            t_on = run.faults[-1]['cleared']
            run.wait('laicoz to rejoin its peer', lambda r: any(
                e['t'] > t_on and e.get('node') == PRIMARY and e.get('kind') == 'log'
                and re.search(run.stack.rejoined_pattern, e['line']) for e in r.events))
            time.sleep(run.measure.settle)
        if run.wait('%s to serve and %s to stand by' % (owner, other),
                    lambda r: run.serving(owner)(r) and run.standing_by(other)(r)):
            common.stage('%s serves again, %s stands by' % (owner, other))


class Hold:
    """Keep the fault in place for a while, probing."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __call__(self, run):
        common.stage('holding the fault %gs' % self.seconds)
        time.sleep(self.seconds)


class WaitRecovered:
    """After a fault is cleared: back to the figure-5 state, one director serving with
    the full table and the other standing by (with nice failback either may serve),
    and staying so for `stable` seconds: a takeover still under way when the fault
    was cleared must not pass for a recovery. Records when the last stable stretch
    began, or that it never came."""

    def __init__(self, stable=15.0):
        self.stable = stable

    def __call__(self, run):
        t_clear = max(f['cleared'] or 0 for f in run.faults)
        owners = (PRIMARY, BACKUP) if run.nice else (PRIMARY,)

        def back(r):
            return any(run.serving(o)(r) and run.standing_by(other)(r)
                       and r.owners(DIRECTORS) == [o]
                       for o, other in ((PRIMARY, BACKUP), (BACKUP, PRIMARY)) if o in owners)
        deadline = time.monotonic() + run.measure.wait
        t = None
        while time.monotonic() < deadline:
            t = run.rec.wait_for(back, max(0.0, deadline - time.monotonic()))
            if t is None:
                break
            broke = run.rec.wait_for(lambda r: not back(r), self.stable)
            if broke is None:
                break               # stable: t is when it came back for good
            t = None
        run.faults[0]['recovered'] = t
        run.summary.update(faults=run.faults)
        if t is None:
            run.fail('the cluster did not come back to the figure-5 state (for %.0fs in a row) '
                     'within %.0fs of the fault being cleared' % (self.stable, run.measure.wait))
        else:
            common.stage('back to the figure-5 state %.2fs after the clear (and stable for '
                         '%.0fs)' % (t - t_clear, self.stable))


class StartLoad:
    """Sustained load from the client (topo/agents/loadgen.py) for the rest of the run:
    requests (one connection each) or, with keepalive, long-lived sessions. Its
    per-second events go into the run's events as node 'load'."""
    NODE = 'load'

    def __init__(self, clients, keepalive=False, interval=0.2, timeout=5.0):
        self.clients, self.keepalive = clients, keepalive
        self.interval, self.timeout = interval, timeout

    def __call__(self, run):
        args = ['--url', run.cluster.url(), '--clients', self.clients, '--timeout', self.timeout,
                '--ramp', max(1.0, self.clients / 500.0)]
        if self.keepalive:
            args += ['--keepalive', '--interval', self.interval]
        run.load = run.cluster.client.python('topo.agents.loadgen', *args)
        run.rec.attach(self.NODE, run.load)
        if run.wait('the load generator to start its %d clients' % self.clients,
                    lambda r: r.node(self.NODE)['ready']):
            common.stage('load: %d %s' % (self.clients, 'sessions, a request every %gs each'
                                          % self.interval if self.keepalive
                                          else 'clients, one connection per request'))


class StopLoad:
    """Stop the load generator; its closing 'done' event is kept in the summary."""

    def __call__(self, run):
        proc = getattr(run, 'load', None)
        if proc is None:
            return
        proc.terminate()
        proc.wait(timeout=60)
        t = run.rec.wait_for(lambda r: any(e['kind'] == 'done' and e['node'] == StartLoad.NODE
                                           for e in r.events[-50:]), 30)
        done = [e for e in run.rec.events if e['kind'] == 'done' and e['node'] == StartLoad.NODE]
        if t is None or not done:
            run.fail('the load generator did not report its totals')
            return
        run.summary.update(load_done=done[-1])
        common.stage('load stopped: %d answered, failed %s, its CPU %.1f s'
                     % (done[-1]['ok'], done[-1]['failed'] or 'none', done[-1]['cpu_s']))


class CountConnections:
    """How many IPVS connection entries a director's kernel has (`ipvsadm -L -c -n`):
    on the backup, those the sync daemon gave it."""

    def __init__(self, director):
        self.director = director

    def __call__(self, run):
        from topo.network import ipvs
        text = run.cluster[self.director].ipvsadm('-L', '-c', '-n')
        counts = ipvs.count_connections(text, run.service)
        run.summary.data.setdefault('connection_entries', {})[self.director] = counts
        run.summary.write()
        common.stage('%s has %s IPVS connection entries for the VIP'
                     % (self.director, counts or 'no'))


class Settle:
    """A steady stretch of probes between two faults."""

    def __call__(self, run):
        time.sleep(run.measure.settle)


# -- scenarios ------------------------------------------------------------------------
CLUSTER_UP = [WaitPrimaryUp(), WaitStandingBy(BACKUP)]

# The paper's experiment, figures 5 to 14 (figures 7 and 11 are the faults themselves).
PAPER = CLUSTER_UP + [
    Figure(5), Figure(10),
    Say('stage 2: 15 HTTP requests from the client'), Burst(15), Figure(6),
    StartProber(),
    Say('stage 3: switching laico2 off'), Inject('power-off', 'laico2'),
    WaitRemoved('laico2'), Figure(8),
    Say('switching laico2 on'), Clear('laico2'),
    WaitServing(PRIMARY, 'laico2 back in the table'), Figure(9), Settle(),
    Say('stage 4: switching laicoz (primary director) off'), Inject('power-off', PRIMARY),
    WaitTakeover(), Figure(12), Settle(),
    Say('switching laicoz on'), Clear(PRIMARY), WaitSettled(), Figure(13), Figure(14), Settle(),
]


def failovers(repeats, fault='power-off'):
    """The cluster up, then `repeats` director failovers and failbacks (what a sweep measures)."""
    steps = CLUSTER_UP + [StartProber()]
    for i in range(repeats):
        steps += [Say('director failover %d of %d' % (i + 1, repeats)), Inject(fault, PRIMARY),
                  WaitTakeover(), Settle(), Clear(PRIMARY), WaitSettled(), Settle()]
    return steps
