"""The paper's cluster on one hub, as a Mininet network, and its lifecycle.

    with Cluster(ClusterConfig(), log=print) as cluster:
        cluster.director('laicoz').ipvsadm('-L')

Leaving the block (normally, by an error or by Ctrl-C) tears everything
down: daemons, hosts, namespaces, the OVS bridge, private OVS daemons.
"""
import shutil
import tempfile
import time
from pathlib import Path

from mininet.link import TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch
from mininet.topo import Topo

from topo.network.config import CLIENT, DIRECTORS, PRIMARY
from topo.network.controller import HubController
from topo.agents import events
from topo.network.nodes import Client, ClusterHost, Director, RealServer, read_until
from topo.network.ovs import OVSDaemons, run as run_cmd

HUB = 'hub'


class ClusterTopo(Topo):
    """Two directors, the real servers and the client, every one on the hub."""

    def build(self, config, hosts_file, private_root, private_dirs=(), link_mbit=None):
        hub = self.addSwitch(HUB, dpid='1', protocols='OpenFlow13')
        # a hardware profile's Ethernet: every cable to the hub at its rate (HTB)
        link = {'cls': TCLink, 'bw': link_mbit} if link_mbit else {}
        roles = [(d, Director, {'private_root': private_root, 'private_dirs': private_dirs,
                                'vip': config.vip})
                 for d in DIRECTORS]
        roles += [(r, RealServer, {'vip': config.vip, 'web_port': config.port,
                                   'web_dir': '%s/%s/nginx' % (private_root, r)})
                  for r in config.real_servers]
        roles += [(CLIENT, Client, {})]
        for name, cls, extra in roles:
            self.addHost(name, cls=cls, ip='%s/%d' % (config.addresses[name], config.prefixlen),
                         hosts_file=hosts_file, **extra)
            self.addLink(name, hub, **link)
        if config.crossover:        # the directors' second interface: a cable between them
            a, b = DIRECTORS
            self.addLink(a, b, params1={'ip': '%s/%d' % (config.CROSSOVER[a],
                                                         config.CROSSOVER_PREFIX)},
                         params2={'ip': '%s/%d' % (config.CROSSOVER[b], config.CROSSOVER_PREFIX)})


class Cluster:
    def __init__(self, config, log=print, workdir=None, log_dir=None, stack=None, recorder=None,
                 hardware=None):
        self.config = config
        self.hardware = hardware        # a topo.network.hardware.Profile, or None
        self.limits = None
        self.log = log
        self.stack = stack
        self.recorder = recorder
        self.prober = None
        self.configs = {}       # director -> host paths of its generated config files
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix='hatestbed.', dir='/run'))
        self.log_dir = Path(log_dir or self.workdir)
        self.ovs = OVSDaemons(self.workdir)
        self.net = None
        self.timings = {}

    # -- lifecycle --------------------------------------------------------
    def start(self):
        t0 = time.monotonic()
        setLogLevel('output')     # 'output' carries the CLI's answers
        if self.ovs.start():
            self.log('started private OVS daemons (no system OVS was running)')
        if run_cmd('ovs-vsctl', 'br-exists', HUB, check=False).returncode == 0:
            raise RuntimeError("an OVS bridge named '%s' exists already: is another testbed "
                               "running? (remove it with: ovs-vsctl del-br %s)" % (HUB, HUB))
        hosts_file = self.workdir / 'hosts'
        hosts_file.write_text(self.config.hosts_file())
        topo = ClusterTopo(self.config, str(hosts_file), str(self.workdir / 'nodes'),
                           self.stack.private_dirs() if self.stack else (),
                           self.hardware.link_mbit if self.hardware else None)
        self.net = Mininet(topo=topo, switch=OVSSwitch,
                           controller=None, autoSetMacs=True, build=False)
        self.controller = self.net.addController(
            'c0', controller=HubController, log_file=self.log_dir / 'controller.log',
            control_socket=self.workdir / 'hub.sock')
        self.net.build()
        self.timings['build_s'] = time.monotonic() - t0
        self.net.start()
        self.timings['switch_s'] = time.monotonic() - t0
        self.controller.wait_flow()
        self.timings['network_s'] = time.monotonic() - t0
        for server in self.real_servers:
            server.start_web()
        for server in self.real_servers:
            server.wait_web()
        self.timings['start_s'] = time.monotonic() - t0
        if self.stack:
            self.start_ha()
            self.timings['ha_started_s'] = time.monotonic() - t0
        if self.hardware:
            from topo.network.hardware import Limits
            self.limits = Limits(self.hardware, self.workdir)
            for node in self.directors + self.real_servers:
                self.cap(node)
        return self

    # -- hardware profile -------------------------------------------------------
    def cap(self, node):
        """The node's processes (the testbed's instruments excepted) into its cgroup."""
        if self.limits:
            keep = {p.pid for p in node.instruments}
            self.limits.move(node.name, 'director' if isinstance(node, Director) else 'server',
                             [p for p in node.processes() if p not in keep])

    def measure_link(self, server=None, megabytes=4):
        """The rate (Mbit/s) a bulk download from a real server to the client really gets."""
        server = server or self.real_servers[0]
        (server.nginx.dir / 'bulk.bin').write_bytes(b'\0' * (megabytes << 20))
        out = self.client.cmd('curl -s -o /dev/null -m 120 -w "%%{speed_download}" '
                              'http://%s:%d/bulk.bin' % (server.IP(), self.config.port))
        try:
            return round(float(out.strip().replace(',', '.')) * 8 / 1e6, 2)
        except ValueError:
            raise RuntimeError('link measurement failed: %s' % out.strip()[:200])

    # -- HA stack -----------------------------------------------------------
    def start_ha(self):
        """Render the stack's configs, start the monitors, then the daemons (primary first)."""
        self.configs = {name: self.stack.configure(self[name]) for name in DIRECTORS}
        for name in DIRECTORS:
            self.start_monitor(self[name])
        self.start_monitor(self.client, '--arp')      # where the client sends VIP traffic
        primary, backup = DIRECTORS
        self.start_stack(self[primary])
        if self.stack.backup_waits_for_primary and self.recorder.wait_for(
                lambda r: r.node(primary)['vip'], self.stack.acquire_deadline_s) is None:
            self.log('%s did not take the VIP within %.0fs: starting %s anyway'
                     % (primary, self.stack.acquire_deadline_s, backup))
        self.start_stack(self[backup])

    def start_stack(self, director):
        director.fresh_run()
        self.stack.start(director)

    def start_monitor(self, node, *extra):
        args = ['--vip', self.config.vip] + list(extra)
        if isinstance(node, Director):
            for log in self.stack.logs(node):
                args += ['--log', log]
        proc = node.python('topo.agents.monitor', *args)
        node.instruments.append(proc)
        self.recorder.attach(node.name, proc)
        if self.recorder.wait_for(lambda r: r.node(node.name)['ready'], 60) is None:
            raise RuntimeError('%s: the monitor did not start' % node.name)

    def _links(self, name, up, t):
        if self.recorder:
            self.recorder.note(name, 'link', t=t, up=up)
        return t

    def power_off(self, name):
        """Switch a node off: links down, processes killed, kernel state gone.
        Returns the time of the fault (links down)."""
        return self._links(name, False, self[name].power_off())

    def power_on(self, name):
        """Switch a node on: links up, its services started as at boot; the time
        its links came up."""
        node = self[name]
        t = self._links(name, True, node.power_on())
        if self.stack and name in DIRECTORS:
            self.start_stack(node)
        self.cap(node)
        return t

    def unplug(self, name):
        """Pull the node's cable to the hub (a crossover cable stays): its link down, its
        processes and kernel state untouched."""
        return self._links(name, False, self[name].set_links(False, [self.lan_intf(name)]))

    def plug(self, name):
        return self._links(name, True, self[name].set_links(True, [self.lan_intf(name)]))

    def lan_intf(self, name):
        """The name of the node's interface on the hub."""
        [(_, intf)] = self.net[HUB].connectionsTo(self[name])
        return intf.name

    def crash(self, name):
        """SIGKILL the HA stack's daemons on a director, nothing else: its VIP and IPVS
        table stay in its kernel. Returns the time of the kill."""
        node = self[name]
        killed = node.kill_processes(keep_shell=True, only=self.stack.processes())
        t = time.time()
        self.recorder.note(name, 'crash', t=t, killed=len(killed))
        return t

    def restart_stack(self, name):
        """What an admin does after a crash: the director's HA state cleared, its
        stack started as at boot. Returns the time of the restart."""
        node = self[name]
        node.clear_state()
        t = time.time()
        self.start_stack(node)
        return t

    def loss(self, name, percent):
        """netem loss on both ends of a node's cable (percent 0: none); the time."""
        node = self[name]
        [(hub_intf, node_intf)] = self.net[HUB].connectionsTo(node)
        for ns_cmd, intf in ((node.cmd, node_intf.name),
                             (lambda c: run_cmd(*c.split(), check=False).stdout,
                              hub_intf.name)):
            if percent:
                out = ns_cmd('tc qdisc replace dev %s root netem loss %g%%' % (intf, percent))
            else:
                out = ns_cmd('tc qdisc del dev %s root' % intf)
            if percent and out.strip():
                raise RuntimeError('netem on %s: %s' % (intf, out.strip()))
        t = time.time()
        self.recorder.note(name, 'loss', t=t, percent=percent)
        return t

    def hang(self, name, stop=True):
        """Stop (or let run on) a real server's web server (nginx's master and worker);
        the time."""
        import signal
        import os
        for pid in self[name].web_pids():
            os.kill(pid, signal.SIGSTOP if stop else signal.SIGCONT)
        t = time.time()
        self.recorder.note(name, 'hang', t=t, stopped=stop)
        return t

    def hub_port(self, name):
        """The hub's OpenFlow port number of a node's link."""
        hub = self.net[HUB]
        [(hub_intf, _)] = hub.connectionsTo(self[name])
        return hub.ports[hub_intf]

    def cut(self, a, b):
        """Cut the hub's path between two nodes; both still reach every other node.
        Returns the time the cut was in place."""
        hub = self.net[HUB]
        self.controller.control(cut=[self.hub_port(a), self.hub_port(b)],
                                ports=sorted(p for i, p in hub.ports.items() if i.name != 'lo'))
        t = time.time()
        if self.recorder:
            self.recorder.note(HUB, 'cut', t=t, between=[a, b])
        return t

    def heal(self):
        self.controller.control(heal=True)
        t = time.time()
        if self.recorder:
            self.recorder.note(HUB, 'heal', t=t)
        return t

    # -- client prober ---------------------------------------------------------
    def start_prober(self, rate, timeout, stage_file):
        self.prober = self.client.python('topo.agents.httpclient', 'probe', '--url', self.url(),
                                         '--rate', rate, '--timeout', timeout,
                                         '--stage-file', stage_file)
        self.recorder.attach(CLIENT, self.prober)

    def stop_prober(self, wait_s=5):
        if self.prober and self.prober.poll() is None:
            self.prober.terminate()
            try:
                self.prober.wait(timeout=wait_s)
            except Exception:
                self.prober.kill()
        self.prober = None

    def stop(self):
        """Tear everything down, also after an interrupt in the middle of a command."""
        if self.net is not None:
            nodes = self.net.hosts + self.net.switches + self.net.controllers
            for node in nodes:
                if getattr(node, 'waiting', False):     # interrupted inside node.cmd()
                    node.sendInt()
                    node.waiting = False
            try:
                self.net.stop()
            except Exception as e:      # never leave namespaces, links or the bridge behind
                self.log('teardown: Mininet stop failed (%s); cleaning up by hand' % e)
                self._force_cleanup(nodes)
            finally:
                self.net = None
        if self.limits:
            self.limits.close()
            self.limits = None
        self.ovs.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _force_cleanup(self, nodes):
        for node in nodes:
            if isinstance(node, ClusterHost) and node.shell:
                node.kill_processes(keep_shell=False)
            elif isinstance(node, HubController):
                node.stop()
        run_cmd('ovs-vsctl', '--if-exists', 'del-br', HUB, check=False)
        for node in self.net.switches:
            for intf in node.intfList():
                if intf.name != 'lo':
                    run_cmd('ip', 'link', 'del', intf.name, check=False)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- nodes ------------------------------------------------------------
    def __getitem__(self, name):
        return self.net[name]

    def director(self, name=PRIMARY):
        return self.net[name]

    @property
    def directors(self):
        return [self.net[d] for d in DIRECTORS]

    @property
    def real_servers(self):
        return [self.net[r] for r in self.config.real_servers]

    @property
    def client(self):
        return self.net[CLIENT]

    # -- checks -------------------------------------------------------------
    def verify_hub(self, frames=10, observer='laicoy', timeout=20):
        """Prove hub behaviour: a third host sees unicast frames between two others."""
        src, dst, third = self.client, self.real_servers[0], self.net[observer]
        src.cmd('ping -c1 -W2 %s' % dst.IP())      # resolve ARP first: what follows is unicast
        sniffer = third.python('topo.agents.sniff', '--iface', third.defaultIntf().name,
                               '--src', src.MAC(), '--dst', dst.MAC(), '--want', frames,
                               '--timeout', timeout)
        read_until(sniffer, events.is_kind('ready'), timeout, 'the sniffer')
        src.cmd('ping -c %d -i 0.05 -W1 %s' % (frames, dst.IP()))
        seen = read_until(sniffer, events.is_kind('count'), timeout + 5, 'the count')['seen']
        sniffer.wait(timeout=5)
        return {'observer': observer, 'from': src.name, 'to': dst.name,
                'sent': frames, 'seen_by_observer': seen, 'verified': seen >= frames}

    def burst(self, count=15, timeout=5.0):
        """count sequential HTTP requests from the client to the VIP: one dict per request."""
        proc = self.client.python('topo.agents.httpclient', 'burst', '--url', self.url(),
                                  '--count', count, '--timeout', timeout)
        out, _ = proc.communicate(timeout=count * (timeout + 1) + 60)
        results = []
        for line in out.splitlines():
            event = events.parse(line)
            if event and event['kind'] == 'reply':
                results.append(event)
            else:
                self.log('client: ' + line)
        return results

    def url(self, path='/'):
        return 'http://%s:%d%s' % (self.config.vip, self.config.port, path)
