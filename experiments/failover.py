#!/usr/bin/env python3
"""The paper's experiment: two HA directors, three real servers; switch nodes off
and on, save the ipvsadm snapshots of figures 5-14, check them, and measure and
plot how long each failover takes.

  sudo python3 experiments/failover.py                 # heartbeat + ldirectord, as in the paper
  sudo python3 experiments/failover.py --deadtime 2    # slower failure detection
"""
import csv
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402

common.use_system_python()

from topo import stacks  # noqa: E402
from topo.config import BACKUP, DIRECTORS, PRIMARY, ConfigError  # noqa: E402

STAGES = {1: 'cluster up', 2: '15 requests', 3: 'laico2 off and on', 4: 'laicoz off and on'}
PROBE_FIELDS = ['t', 'stage', 'ok', 'server', 'error', 'latency_s']


def parse_args(argv=None):
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument('--stack', default='heartbeat', choices=sorted(stacks.load()),
                   help='HA stack on the two directors')
    common.add_cluster_args(p)
    g = p.add_argument_group('measurement')
    g.add_argument('--probe-rate', type=float, default=20.0, metavar='R',
                   help='requests per second of the prober (stages 3 and 4)')
    g.add_argument('--probe-timeout', type=float, default=1.0, metavar='S',
                   help='timeout of each probe request')
    g.add_argument('--wait', type=float, default=90.0, metavar='S',
                   help='longest wait for any expected state before the check fails')
    g.add_argument('--settle', type=float, default=3.0, metavar='S',
                   help='probing after each recovery before the next fault')
    stacks.add_arguments(p)
    args = p.parse_args(argv)
    try:
        args.config = common.cluster_config(args)
        stacks.check_arguments(args.stack, args)
        if args.probe_rate <= 0 or args.probe_timeout <= 0 or args.wait <= 0:
            raise ConfigError('--probe-rate, --probe-timeout and --wait must be positive')
    except ValueError as e:
        p.error(str(e))
    return args


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


class FailoverRun:
    """One run of the paper's four stages; every result goes to out/ as it is made."""

    def __init__(self, args, out):
        from topo import sandbox
        self.args, self.out, self.config = args, out, args.config
        self.stack = stacks.get(args.stack)(self.config, args)
        self.nice = getattr(args, 'nice_failback', False)
        self.service = '%s:%d' % (self.config.vip, self.config.port)
        self.reals = ['%s:%d' % (self.config.addresses[s], self.config.port)
                      for s in self.config.real_servers]
        self.summary = common.Summary(
            out / 'summary.json', experiment='failover', stack=args.stack,
            kernel_mode=sandbox.kernel_mode(), kernel_release=__import__('os').uname().release,
            parameters=dict(self.config.as_dict(), stack=self.stack.parameters(),
                            probe_rate=args.probe_rate, probe_timeout_s=args.probe_timeout),
            figures={}, failures=[])
        self.marks = {}         # event name -> wall time (faults, power-ons, stages)
        self.cycles = []        # each director power-off: {'off': time, 'on': time}

    # -- helpers --------------------------------------------------------------
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
        t = self.rec.wait_for(predicate, self.args.wait)
        if t is None:
            self.fail('timed out after %.0fs waiting for %s' % (self.args.wait, what))
        return t

    def serving(self, name):
        """The director holds the VIP and the full table."""
        return lambda r: r.node(name)['vip'] and r.reals(name, self.service) == set(self.reals)

    def standing_by(self, name):
        if self.stack.backup_table_warm:
            return lambda r: not r.node(name)['vip'] and \
                r.reals(name, self.service) == set(self.reals)
        return lambda r: not r.node(name)['vip'] and not r.node(name)['table']

    def snapshot(self, fig):
        from experiments import figures
        from topo import ipvs
        host, what = figures.FIGURES[fig]
        director = self.cluster[host]
        listing, numeric = director.snapshot(), director.snapshot(numeric=True)
        (self.out / ('fig%02d-%s.txt' % (fig, host))).write_text(listing)
        (self.out / ('fig%02d-%s.n.txt' % (fig, host))).write_text(numeric)
        vip = self.rec.node(host)['vip']
        expect = figures.expectation(fig, self.config, self.stack.backup_table_warm, self.nice)
        table = ipvs.parse(numeric)
        passed, problems = figures.check(expect, table, vip, self.config)
        self.summary.data['figures'][str(fig)] = {
            'host': host, 'state': what, 'expected': expect,
            'expected_text': figures.describe(expect, self.config),
            'observed': figures.observe(table, vip, self.config), 'passed': passed,
            'problems': problems, 't': time.time()}
        self.summary.write()
        common.stage('figure %d on %s: %s%s' % (fig, host, 'PASS' if passed else 'FAIL',
                                                 '' if passed else ' (%s)' % '; '.join(problems)))
        return passed

    # -- the four stages ---------------------------------------------------------
    def run(self, repeats=None):
        """The paper's four stages. With repeats=N: stage 1, then N director
        failovers and failbacks with no figures (what a sweep measures)."""
        from topo.cluster import Cluster
        from topo.recorder import Recorder
        self.probes = ProbeCSV(self.out / 'probe.csv')
        self.rec = Recorder(self.out / 'events.jsonl', on_probe=self.probes)
        common.stage('stage 1: starting the cluster with %s' % self.stack.description)
        try:
            with Cluster(self.config, log=common.stage, log_dir=self.out, stack=self.stack,
                         recorder=self.rec) as self.cluster:
                self.keep_configs()
                self.summary.update(cluster_start_s={k: round(v, 2) for k, v in
                                                     self.cluster.timings.items()})
                self.stage1()
                if repeats is None:
                    self.stage2()
                    self.start_prober()
                    self.stage3()
                    self.stage4()
                else:
                    self.start_prober()
                    for i in range(repeats):
                        common.stage('director failover %d of %d' % (i + 1, repeats))
                        self.stage4(snapshots=False)
                self.cluster.stop_prober()
                self.keep_logs()
        finally:
            self.rec.close()
            self.probes.close()
        self.analyse()
        return self.report(figures=repeats is None)

    def stage1(self):
        t = self.wait('laicoz to hold the VIP and all real servers', self.serving(PRIMARY))
        if t:
            common.stage('laicoz serves %s with %d real servers' % (self.service, len(self.reals)))
        self.wait('laicoy to stand by', self.standing_by(BACKUP))
        self.snapshot(5)
        self.snapshot(10)

    def stage2(self):
        common.stage('stage 2: 15 HTTP requests from the client')
        replies = self.cluster.burst(15)
        answers = {}
        for r in replies:
            key = r.get('server') if r['ok'] else 'failed'
            answers[key] = answers.get(key, 0) + 1
        self.summary.update(requests_15=answers)
        common.stage('answers: %s' % answers)
        self.snapshot(6)

    def start_prober(self):
        self.set_stage('steady')
        self.cluster.start_prober(self.args.probe_rate, self.args.probe_timeout,
                                  str(self.cluster.workdir / 'stage'))
        if self.wait('the prober to get answers', lambda r: sum(p['ok'] for p in r.probes) >= 5):
            common.stage('prober running at %.0f requests/s' % self.args.probe_rate)

    def stage3(self):
        laico2 = '%s:%d' % (self.config.addresses['laico2'], self.config.port)
        common.stage('stage 3: switching laico2 off')
        self.set_stage('laico2 off')
        self.mark('laico2_off', self.cluster.power_off('laico2'))
        if self.wait('ldirectord to remove laico2',
                     lambda r: laico2 not in r.reals(PRIMARY, self.service)):
            common.stage('laico2 removed from the table')
        self.snapshot(8)
        common.stage('switching laico2 on')
        self.set_stage('laico2 on')
        self.mark('laico2_on')
        self.cluster.power_on('laico2')
        if self.wait('laico2 to be re-added', self.serving(PRIMARY)):
            common.stage('laico2 back in the table')
        self.snapshot(9)
        time.sleep(self.args.settle)    # a steady stretch of probes between the faults

    def stage4(self, snapshots=True):
        common.stage('stage 4: switching laicoz (primary director) off')
        self.set_stage('laicoz off')
        self.mark('laicoz_off', self.cluster.power_off(PRIMARY))
        t_fault = self.marks['laicoz_off']
        self.cycles.append({'off': t_fault, 'on': None})
        if self.wait('laicoy to take over', self.serving(BACKUP)):
            common.stage('laicoy holds the VIP and the full table')
        first_ok = self.wait('a successful request through laicoy',
                             lambda r: any(p['ok'] and p['t'] > t_fault for p in r.probes))
        if first_ok:
            common.stage('client served again %.2fs after the power-off' % (first_ok - t_fault))
        if snapshots:
            self.snapshot(12)
        time.sleep(self.args.settle)
        common.stage('switching laicoz on')
        self.set_stage('laicoz on')
        self.mark('laicoz_on')
        self.cycles[-1]['on'] = self.marks['laicoz_on']
        self.cluster.power_on(PRIMARY)
        owner, other = (BACKUP, PRIMARY) if self.nice else (PRIMARY, BACKUP)
        if self.nice:
            # Nothing changes if all goes well: wait for laicoz to rejoin, then watch a while.
            self.wait('laicoz to rejoin its peer', lambda r: any(
                e['t'] > self.marks['laicoz_on'] and e.get('node') == PRIMARY
                and e.get('kind') == 'log' and re.search(self.stack.rejoined_pattern, e['line'])
                for e in r.events))
            time.sleep(self.args.settle)
        if self.wait('%s to serve and %s to stand by' % (owner, other),
                     lambda r: self.serving(owner)(r) and self.standing_by(other)(r)):
            common.stage('%s serves again, %s stands by' % (owner, other))
        if snapshots:
            self.snapshot(13)
            self.snapshot(14)
        time.sleep(self.args.settle)

    # -- results ---------------------------------------------------------------------
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
                src = Path(director.private(log))
                if src.exists():
                    shutil.copy2(src, dst / src.name)

    def analyse(self):
        from experiments import timeline
        ev, pr, m = self.rec.events, self.rec.probes, self.marks
        laico2 = '%s:%d' % (self.config.addresses['laico2'], self.config.port)
        if 'laico2_off' in m:
            self.summary.update(real_server_removal=timeline.real_server_removal(
                ev, pr, m['laico2_off'], m.get('laico2_on'), PRIMARY, self.service, laico2))
        failovers = [timeline.director_failover(ev, pr, c['off'], BACKUP, self.service,
                                                self.reals, self.stack.detected_pattern,
                                                t_end=c['on']) for c in self.cycles]
        failbacks = [timeline.failback(ev, pr, c['on'], PRIMARY, BACKUP, self.service,
                                       self.reals, self.nice) for c in self.cycles if c['on']]
        if failovers:
            self.summary.update(failover=failovers[0], failover_repeats=failovers)
            c, fo = self.cycles[0], failovers[0]
            # from when the service is whole again: table complete and answering
            if None not in (fo['table_ready_s'], fo['first_ok_s']) and c['on'] \
                    and self.config.scheduler == 'rr':
                since = c['off'] + max(fo['table_ready_s'], fo['first_ok_s'])
                self.summary.update(split_after_takeover=timeline.split_after(
                    pr, since, c['on'], self.config.real_servers))
        if failbacks:
            self.summary.update(failback=failbacks[0], failback_repeats=failbacks)
        stages = timeline.answers_by_stage(pr)
        stages = dict({'15 requests': self.summary.data.get('requests_15', {})}, **stages)
        self.summary.update(answers_per_stage=stages)
        try:
            from experiments import plot_failover
            plot_failover.plot(self.out)
        except Exception as e:     # plots are a view of the data: report, do not lose the run
            self.fail('plotting failed: %s' % e)

    def report(self, figures=True):
        figs = self.summary.data['figures']
        expected = sorted(__import__('experiments.figures', fromlist=['FIGURES']).FIGURES)
        if not figures:     # failovers only: passed when every one was measured
            ok = bool(self.cycles) and all(f['outage_s'] is not None
                                           for f in self.summary.data['failover_repeats'])
            self.summary.finish(passed=ok)
            return 0 if ok else 1
        missing = [f for f in expected if str(f) not in figs]
        split = self.summary.data.get('split_after_takeover')
        ok = not missing and all(f['passed'] for f in figs.values()) and \
            (split is None or split['even'])
        self.summary.finish(passed=ok)
        print('\n%-7s %-8s %-45s %-8s' % ('figure', 'host', 'expected', 'result'))
        for f in expected:
            d = figs.get(str(f))
            if d is None:
                print('%-7s %-8s %-45s %-8s' % (f, '-', '(not reached)', 'FAIL'))
                continue
            print('%-7s %-8s %-45s %-8s' % (f, d['host'], d['expected_text'][:45],
                                            'PASS' if d['passed'] else 'FAIL'))
            for problem in d['problems']:
                print('        %s' % problem)
        if split:
            print('\nafter the takeover (laicoy, full table): answers %s, %d failed -> %s'
                  % (split['answers'], split['failed'], 'even, PASS' if split['even']
                     else 'NOT even, FAIL'))
        for key, title in (('failover', 'director failover (laicoz off)'),
                           ('failback', 'failback (laicoz on)'),
                           ('real_server_removal', 'real server removal (laico2 off)')):
            d = self.summary.data.get(key)
            if d:
                print('\n%s, %s mode:' % (title, self.summary.data['kernel_mode']))
                for k, v in d.items():
                    print('  %-26s %s' % (k, '-' if v is None else v))
        print('\n%s: %d/%d figure checks passed; results in %s'
              % ('PASS' if ok else 'FAIL', sum(f['passed'] for f in figs.values()),
                 len(expected), self.out))
        return 0 if ok else 1


def main(argv=None):
    args = parse_args(argv)
    return common.run(args, ['cluster', 'plots'], 'failover',
                      lambda out: FailoverRun(args, out).run(), needs=stacks.get(args.stack).needs)


if __name__ == '__main__':
    sys.exit(main())
