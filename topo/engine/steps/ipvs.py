"""Steps on the directors' IPVS tables: the paper's figures, snapshots, connection
entries, and the static service (what ldirectord would build) of the runs
that measure IPVS without an HA stack."""
import dataclasses
import time

from topo.analysis import figures
from topo.engine.run import stage
from topo.network import counters, ipvs
from topo.network.config import DIRECTORS, PRIMARY


class Figure:
    """Save `ipvsadm -L` (and -L -n) of the figure's director and check it."""

    def __init__(self, number):
        self.number = number

    def __call__(self, run):
        fig = self.number
        host, what = figures.FIGURES[fig]
        director = run.network[host]
        listing, numeric = director.snapshot(), director.snapshot(numeric=True)
        (run.out / ('fig%02d-%s.txt' % (fig, host))).write_text(listing)
        (run.out / ('fig%02d-%s.n.txt' % (fig, host))).write_text(numeric)
        vip = run.rec.node(host)['vip']
        bursts = run.measured.bursts
        expect = figures.expectation(fig, run.config, run.stack.backup_table_warm, run.nice,
                                     requests=bursts[-1].count if bursts else None)
        table = ipvs.parse(numeric)
        tunnels = None
        if run.config.tun_type != 'ipip':       # its tunnel type is only in the rules
            rules = director.ipvsadm('-S', '-n')
            (run.out / ('fig%02d-%s.rules.txt' % (fig, host))).write_text(rules)
            tunnels = ipvs.tunnel_types(rules)
        passed, problems = figures.check(expect, table, vip, run.config, tunnels)
        others = self.other_vips(run, director, expect, problems)
        passed = not problems
        run.measured.figures[str(fig)] = {
            'host': host, 'state': what, 'expected': expect,
            'expected_text': figures.describe(expect, run.config),
            'observed': figures.observe(table, vip, run.config), 'passed': passed,
            'problems': problems, 't': time.time(), **({'other_vips': others} if others else {})}
        stage('figure %d on %s: %s%s' % (fig, host, 'PASS' if passed else 'FAIL',
                                          '' if passed else ' (%s)' % '; '.join(problems)))

    @staticmethod
    def other_vips(run, director, expect, problems, within=15.0):
        """Dual stack: the figure's director holds the other family's VIP when it holds
        the first (within a few seconds: a stack may add it after the first, e.g.
        Pacemaker's group, whose IPaddr2 waits out IPv6's duplicate address detection;
        how much later is kept), and then the client gets an answer through it too."""
        out = {}
        for view in run.config.families()[1:]:
            t0 = time.monotonic()
            held = director.holds(view.vip)
            while expect['vip'] and not held and time.monotonic() - t0 < within:
                time.sleep(0.2)
                held = director.holds(view.vip)
            late = round(time.monotonic() - t0, 1) if expect['vip'] else None
            answer = run.network.client.cmd(
                'curl -gs -m 3 -o /dev/null -w %%{http_code} http://%s/' % view.service).strip() \
                if expect['vip'] else None
            out[view.vip] = {'held': held, 'answer': answer, 'later_s': late}
            if expect['vip'] is not None and held != expect['vip']:
                problems.append('VIP %s %s, expected %s' % (view.vip, 'held' if held else
                                                            'not held', 'held' if expect['vip']
                                                            else 'not held'))
            if expect['vip'] and answer != '200':
                problems.append('no answer through %s (HTTP %s)' % (view.service, answer))
        return out


class Snapshot:
    """`ipvsadm -L` and `-L -n` of a director, saved and parsed."""

    def __init__(self, director=PRIMARY, show=False):
        self.director, self.show = director, show

    def __call__(self, run):
        d = run.network[self.director]
        listing, numeric = d.snapshot(), d.snapshot(numeric=True)
        (run.out / ('ipvsadm-%s.txt' % self.director)).write_text(listing)
        (run.out / ('ipvsadm-%s.n.txt' % self.director)).write_text(numeric)
        run.measured.snapshots[self.director] = {'listing': listing, 'table': ipvs.parse(numeric)}
        if self.show:
            print(listing.rstrip(), flush=True)


class CountConnections:
    """How many IPVS connection entries a director's kernel has (`ipvsadm -L -c -n`):
    on the backup, those the sync daemon gave it."""

    def __init__(self, director):
        self.director = director

    def __call__(self, run):
        text = run.network[self.director].ipvsadm('-L', '-c', '-n')
        counts = ipvs.count_connections(text, run.service)
        run.measured.connection_entries[self.director] = counts
        # (active/active: whose sessions each director carries)
        run.measured.connection_sources[self.director] = ipvs.connection_sources(
            text, run.service)
        stage('%s has %s IPVS connection entries for the VIP' % (self.director, counts or 'no'))


class ReadMulticast:
    """A director's UDP and multicast sent so far (the sync daemon's traffic on the LAN,
    by the difference of two readings), under a label."""

    def __init__(self, director, label):
        self.director, self.label = director, label

    def __call__(self, run):
        node = run.network[self.director]
        reading = counters.multicast_out(node.proc_net('snmp'), node.proc_net('netstat'))
        run.measured.multicast.setdefault(self.label, {})[self.director] = dict(
            reading, t=round(time.time(), 3))


class StaticService:
    """laicoz holds the VIP with a static IPVS service (no HA daemons): the runs that
    measure IPVS and the servers, not an HA stack. servers=N: the service with the
    first N real servers (the rest stay up, out of it)."""

    def __init__(self, servers=None, scheduler=None, sync=False):
        self.servers, self.scheduler, self.sync = servers, scheduler, sync

    def config(self, run):
        c = run.config
        if self.servers is None and self.scheduler is None:
            return c
        n = self.servers or c.servers
        return dataclasses.replace(c, servers=n, weights=c.weights[:n],
                                   scheduler=self.scheduler or c.scheduler)

    def __call__(self, run):
        laicoz = run.network.director()
        # active/active: both directors, each through its own next hop
        for director in run.network.directors if run.config.active_active else [laicoz]:
            director.install_service(self.config(run))
            director.take_service(run.config)
        if self.sync:       # (laicoy's kernel takes the entries as a warm backup's would)
            for director in run.network.directors:
                for command in ipvs.sync_daemon_commands(director.interfaces()[0]):
                    out = director.cmd(command)
                    if out.strip():
                        raise RuntimeError('%s: %s: %s' % (director.name, command, out.strip()))
        if run.config.nat:      # the baseline straight to a server: routed through laicoz
            run.network.client.cmd('ip route replace %s via %s' % (run.config.inside_subnet,
                                                                  laicoz.address()))
        run.static_servers = self.config(run).real_servers
        stage('static IPVS service on %s: %s %s%s' % (
            'both directors' if run.config.active_active else 'laicoz',
            self.config(run).scheduler, ', '.join(run.static_servers),
            ', the sync daemons running' if self.sync else ''))


class StaticCheck:
    """The invariants of a static run: laicoz alone holds the VIP, its table complete."""

    def __init__(self, when):
        self.when = when

    def __call__(self, run):
        config, net = run.config, run.network
        servers = run.static_servers or config.real_servers
        want = {config.real_endpoint(s) for s in servers}
        # active/active: each director serves, through its own next hop alone
        serving = DIRECTORS if config.active_active else (PRIMARY,)
        for name in serving:
            have = {r['address'] for svc in net[name].table() for r in svc['real_servers']}
            if have != want:
                run.fail('table of %s %s: %s, expected %s' % (name, self.when, sorted(have),
                                                                sorted(want)))
            address = config.next_hops[name] if config.active_active else config.vip
            owners = [d.name for d in net.directors if d.holds(address)]
            if owners != [name]:
                run.fail('owners of %s %s: %s' % (address, self.when, owners or 'none'))
