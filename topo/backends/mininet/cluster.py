"""The paper's cluster on one hub as a Mininet network: an Open vSwitch bridge
driven by the os-ken hub app, one Mininet host per machine."""
import shutil
import time
from pathlib import Path

from mininet.link import TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSBridge, OVSSwitch
from mininet.topo import Topo

from topo.backends import Network, register
from topo.backends.mininet.controller import HubController
from topo.backends.mininet.nodes import Client, Director, MininetNode, RealServer, Router
from topo.backends.mininet.ovs import OVSDaemons, run as run_cmd
from topo.kernels import run_id
from topo.network import counters
from topo.network.config import (CLIENT, DIRECTORS, OUTSIDE_SUBNET, inside_interface,
                                 outside_interface)

HUB = 'hub'
OUTSIDE_PREFIXLEN = int(OUTSIDE_SUBNET.split('/')[1])
INSIDE = 'inside'       # the real servers' own network with NAT or remote TUN (a switch)
CROSSOVER_INTF = '%s-eth1'      # a director's end of the crossover cable, its second


class ClusterTopo(Topo):
    """Two directors, the real servers and the client, every one on the hub; with NAT
    the real servers on the inside network instead, which the directors also join;
    with remote TUN there too, behind a router between it and the hub."""

    def build(self, config, hosts_file, private_root, private_dirs=(), link_mbit=None,
              hub_side=None):
        hub = self.addSwitch(HUB, dpid='1', protocols='OpenFlow13')
        # a hardware profile's Ethernet: every cable to the hub at its rate (HTB)
        link = {'cls': TCLink, 'bw': link_mbit} if link_mbit else {}
        inside = self.addSwitch(INSIDE, cls=OVSBridge, dpid='2') if config.servers_inside \
            else None
        roles = [(d, Director, {'private_root': private_root, 'private_dirs': private_dirs,
                                'vip': config.vip, 'vips': config.vips,
                                'gateways': config.gateways if config.nat else (),
                                # NAT in IPv6 (or dual stack): its IPv6 address inside too
                                'legs6': {inside_interface(d): config.inside6[d]}
                                if d in config.inside6 else None,
                                # the crossover cable's, for VRRPv3's IPv6 adverts
                                'cable6': {CROSSOVER_INTF % d: config.CROSSOVER6[d]}
                                if config.crossover and config.ipv6 else None,
                                'next_hops': [h for hops in config.next_hop_sets.values()
                                              for h in hops]})
                 for d in DIRECTORS]
        roles += [(r, RealServer, {'vip': config.vip, 'vips': config.vips, 'web_port': config.port,
                                   'forwarding': config.forwarding, 'gateways': config.gateways,
                                   'tun_type': config.tun_type,
                                   'web_dir': '%s/%s/nginx' % (private_root, r)})
                  for r in config.real_servers]
        if config.router:   # an IPv6 service: its other leg's IPv6 address
            legs6 = {}
            for gateway in config.gateways if config.remote_servers else ():
                if ':' in gateway:      # (the real servers' IPv6 gateway)
                    legs6[inside_interface(config.router)] = gateway
            if (config.ipv6 or config.dual_stack) and config.active_active:
                legs6[outside_interface(config.router)] = config.outside6[config.router]
            roles += [(config.router, Router, {'legs6': legs6})]
        roles += [(CLIENT, Client, {})]
        for name, cls, extra in roles:
            behind = inside and cls is RealServer
            outside = config.active_active and cls is Client
            prefixlen = config.inside_prefixlen if behind else OUTSIDE_PREFIXLEN if outside \
                else config.prefixlen
            if name in config.addresses6:       # an IPv6 service: every node's second address
                address6 = config.addresses6[name]
                extra = dict(extra, ip6='%s/%d' % (address6, config.inside_prefixlen_of(address6)
                                                    if behind else config.prefixlen_of(address6)))
            self.addHost(name, cls=cls, ip='%s/%d' % (config.addresses[name], prefixlen),
                         hosts_file=hosts_file, hub_side=hub_side, **extra)
            if outside:     # active/active: the client's one cable, to the router
                self.addLink(name, config.router, intfName2=outside_interface(config.router),
                             params2={'ip': '%s/%d' % (config.outside[config.router],
                                                       OUTSIDE_PREFIXLEN)}, **link)
            else:
                self.addLink(name, inside if behind else hub, **link)
        if config.crossover:        # the directors' second interface: a cable between them
            a, b = DIRECTORS
            self.addLink(a, b, intfName1=CROSSOVER_INTF % a, intfName2=CROSSOVER_INTF % b,
                         params1={'ip': '%s/%d' % (config.CROSSOVER[a],
                                                   config.CROSSOVER_PREFIX)},
                         params2={'ip': '%s/%d' % (config.CROSSOVER[b], config.CROSSOVER_PREFIX)})
        if config.remote_servers:   # the router's second leg: the servers' gateway
            self.addLink(config.router, inside, intfName1=inside_interface(config.router),
                         params1={'ip': '%s/%d' % (config.inside_gateway4,
                                                   config.inside_prefixlen)},
                         **link)
        if config.nat:              # the directors' leg on the inside network, named for it
            for d in DIRECTORS:
                self.addLink(d, inside, intfName1=inside_interface(d),
                             params1={'ip': '%s/%d' % (config.inside[d],
                                                       config.inside_prefixlen)}, **link)


@register
class MininetNetwork(Network):
    name = 'mininet'

    def __init__(self, config, **kwargs):
        Network.__init__(self, config, **kwargs)
        # named by the run's id: a leak check finds it, and only it
        self.workdir = Path('/run/hatestbed.%s' % run_id())
        self.workdir.mkdir(mode=0o700)
        self.log_dir = Path(self.log_dir or self.workdir)
        self.ovs = OVSDaemons(self.workdir)
        self.net = None
        self.limits = None

    def build(self):
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
                           self.hardware.link_mbit if self.hardware else None,
                           hub_side=self.hub_intf)
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
        if self.config.vip_announce == 'lost':
            self.mute_announcements(self.config.vips)
        if self.hardware:
            from topo.backends.mininet.cgroups import Limits
            self.limits = Limits(self.hardware, self.workdir)

    def teardown(self):
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
            if isinstance(node, MininetNode) and node.shell:
                node.kill(keep_instruments=False)
                node.signal(9, [node.pid])
            elif isinstance(node, HubController):
                node.stop()
        run_cmd('ovs-vsctl', '--if-exists', 'del-br', HUB, check=False)
        for node in self.net.switches:
            for intf in node.intfList():
                if intf.name != 'lo':
                    run_cmd('ip', 'link', 'del', intf.name, check=False)

    def __getitem__(self, name):
        return self.net[name]

    # -- the hub ------------------------------------------------------------------------
    def switches(self):
        return [s for s in self.net.switches if s.name in (HUB, INSIDE)]

    def hub_intf(self, node):
        """The name of the hub's (or the inside switch's) end of a node's first cable."""
        first = node.intfList()[1] if node.intfList()[0].name == 'lo' else node.intfList()[0]
        for switch in self.switches():
            for mine, theirs in switch.connectionsTo(node):
                if theirs.name == first.name:
                    return mine.name
        raise RuntimeError('%s has no cable to a hub' % node.name)

    def hub_port(self, name):
        hub = self.net[HUB]
        [(hub_intf, _)] = hub.connectionsTo(self[name])
        return hub.ports[hub_intf]

    def hub_drops(self):
        # the hub's ends of the cables are in this (the root) namespace: their drops,
        # their queues' drops, and the datapath's lost upcalls; no other device's
        ports = {i.name for s in self.switches() for i in s.intfList() if i.name != 'lo'}
        # a frame on its way to a node whose cable the testbed set down (a power-off, a
        # pull) is dropped by the hub's end of that cable: the fault's, not the network's
        faulted = {mine.name for s in self.switches() for n in self.net.hosts
                   if getattr(n, 'cable_was_down', False)
                   for mine, _ in s.connectionsTo(n)}
        out = {}
        with open('/proc/net/dev') as f:
            for intf, ways in counters.dev_drops(f.read()).items():
                if intf in ports:
                    out.update(('hub %s %s drop%s' % (intf, w, counters.FAULT_CABLE
                                                      if w == 'tx' and intf in faulted else ''),
                                v) for w, v in ways.items())
        queues = counters.qdisc_drops(run_cmd('tc', '-s', 'qdisc', 'show', check=False).stdout)
        out.update(('hub %s queue' % d, v) for d, v in queues.items() if d in ports)
        lookups = self.hub_lookups()
        if lookups is not None:
            out['OVS datapath lost'] = lookups['lost']
        return out

    def hub_lookups(self):
        """The hub's datapath lookups now: hit, missed (up to ovs-vswitchd), lost."""
        return counters.ovs_lookups(run_cmd('ovs-dpctl', 'show', check=False).stdout)

    def cut(self, a, b):
        hub = self.net[HUB]
        self.controller.control(cut=[self.hub_port(a), self.hub_port(b)],
                                ports=sorted(p for i, p in hub.ports.items() if i.name != 'lo'))
        return time.time()

    def heal(self):
        self.controller.control(heal=True)
        return time.time()

    def mute_announcements(self, addresses):
        """The hub drops every announcement of these addresses (--vip-announce lost),
        checked in the switch: a run that believed it and was wrong measures nothing."""
        from controllers import MUTE_COOKIE
        self.controller.control(mute=list(addresses))
        flows = run_cmd('ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', HUB,
                        'cookie=%#x/-1' % MUTE_COOKIE, check=False).stdout
        found = sum('actions=drop' in line for line in flows.splitlines())
        if found != len(addresses):
            raise RuntimeError('the hub has %d of the %d flows that drop the VIP\'s '
                               'announcements:\n%s' % (found, len(addresses), flows))
        self.log('the hub drops every announcement of %s (--vip-announce lost)'
                 % ', '.join(addresses))

    # -- hardware caps ----------------------------------------------------------------------
    def cap(self, node):
        """The node's processes (the testbed's instruments excepted) into its cgroup."""
        if self.limits:
            keep = {p.pid for p in node.instruments}
            self.limits.move(node.name, self._cap_role(node),
                             [p for p in node.processes() + [node.pid] if p not in keep])

    def starve(self, name, share, period_s):
        if self.limits is None:         # (no hardware profile: groups without caps)
            from topo.backends.mininet.cgroups import Limits
            self.limits = Limits(None, self.workdir)
        node = self[name]
        keep = {p.pid for p in node.instruments}   # (and the shell, the testbed's hand)
        self.limits.move(name, self._cap_role(node),
                         [p for p in node.processes() if p not in keep])
        self.limits.starve(name, self._cap_role(node), share, period_s)
        return time.time()

    def feed(self, name):
        self.limits.feed(name, self._cap_role(self[name]))
        return time.time()

    @staticmethod
    def _cap_role(node):
        return node.role if node.role == 'director' else 'server'

    def measure_cpu(self, role):
        return self.limits.measure_cpu(role)

    def usage(self):
        return self.limits.usage() if self.limits else {}

    def cli(self, commands=None, prompt=None, script=None):
        from mininet.cli import CLI
        if commands is None:
            return CLI(self.net, script=script)
        shell = type('LabCLI', (commands, CLI), {'prompt': prompt or CLI.prompt})
        return shell(self, self.net, script=script)
