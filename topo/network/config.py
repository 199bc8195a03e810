"""The cluster's parameters, checked before anything is started."""
import ipaddress
from dataclasses import dataclass, field

from topo.network.addresses import endpoint, host_prefix

# The IPVS schedulers of the paper's section 2.2, then the two that hash the connection
# (source hashing; Maglev hashing, Linux >= 4.18): their modules are loaded up front.
HASHING = ('sh', 'mh')
SCHEDULERS = ('rr', 'wrr', 'lc', 'wlc') + HASHING
SCHEDULER_MODULES = ['ip_vs_%s' % s for s in SCHEDULERS]
# a hashing scheduler's flags (ipvsadm -b): `port` hashes the source port too, so one
# client address spreads; `fallback` passes over a server of weight 0 or overloaded
SCHED_FLAGS = ('fallback', 'port')


@dataclass(frozen=True)
class Forwarding:
    """One of LVS's ways to pass a request to a real server, as each tool names it."""
    name: str           # --forwarding
    ipvsadm: str        # its flag for a real server
    shown: str          # what `ipvsadm -L` prints in the Forward column
    ldirectord: str     # ldirectord's word for it, after real=ADDRESS:PORT
    keepalived: str     # keepalived's lvs_method
    description: str


# The paper's "Route" forwarding is LVS direct routing (ipvsadm -g).
FORWARDING = {f.name: f for f in (
    Forwarding('dr', '-g', 'Route', 'gate', 'DR',
               'direct routing (the paper\'s "Route"): the director rewrites the destination '
               'MAC; each real server holds the VIP on lo and answers the client itself'),
    Forwarding('tun', '-i', 'Tunnel', 'ipip', 'TUN',
               'IP-in-IP tunnelling: the director wraps each packet for the real server, '
               'which unwraps it on tunl0 (the VIP there) and answers the client itself'),
    Forwarding('nat', '-m', 'Masq', 'masq', 'NAT',
               'masquerading: the real servers sit on a private network behind the '
               'directors, their default gateway an inside address that moves with the '
               'VIP; the director rewrites both directions'),
)}
# Tunnelling's encapsulations (ipvsadm --tun-type; GRE needs Linux >= 5.3). A real
# server receives each on its own catch-all device, the VIP there.
TUN_TYPES = {'ipip': 'tunl0', 'gue': 'tunl0', 'gre': 'gre0'}
# the kernel modules of GUE's and GRE's receivers (IPIP's is loaded for every run)
TUN_MODULES = {'gue': 'fou', 'gre': 'ip_gre'}
GUE_PORT = 6080         # ipvsadm's own example; the real servers listen with `ip fou`
# NAT's private network behind the directors; its gateway (host .254) moves with the VIP.
# Tunnelling's remote variant puts the real servers there too, behind a router.
INSIDE_SUBNET = '192.168.14.0/24'
# ... and its IPv6 prefix, for an IPv6 service with NAT (laico2 is <prefix>::12, the
# gateway ::254, as in IPv4)
INSIDE_SUBNET6 = '2001:db8:168:14::/64'
GATEWAY_HOST = 254
ROUTER = 'router'
ROUTER_HOST = 1         # the router's address on the hub
# Active/active: the client behind the router, on a network of its own (RFC 5737's
# TEST-NET-1), and the router sends the VIP's traffic to both directors by ECMP, over
# one next-hop address per director, which the HA stack moves to the peer of a
# director that fails (the ECMP set itself never changes)
OUTSIDE_SUBNET = '192.0.2.0/24'
OUTSIDE_SUBNET6 = '2001:db8:0:2::/64'     # ... and in IPv6 (the client ::200, as .200)
NEXT_HOP_HOSTS = (4, 5)     # laicoz's, laicoy's on the hub


def inside_interface(director):
    """NAT: the name of a director's interface on the inside network."""
    return '%s-lan' % director


def outside_interface(router):
    """Active/active: the name of the router's interface toward the client."""
    return '%s-out' % router

PRIMARY, BACKUP, CLIENT = 'laicoz', 'laicoy', 'client'
# Many clients' addresses: RFC 2544's benchmarking block, routed to the client host
# (it plays the Internet's edge router), so no node keeps a neighbour entry per client.
CLIENT_PREFIX = '198.18.0.0/15'
CLIENT_PREFIX6 = '2001:2::/48'     # RFC 5180's, the same for IPv6
DIRECTORS = (PRIMARY, BACKUP)
# An IPv6 service: the hub's IPv6 prefix (RFC 3849's documentation block). A node's
# IPv6 address reads as its IPv4 one: laico2 (10.0.14.12) is 2001:db8:14::12.
SUBNET6 = '2001:db8:14::/64'
# --vip-announce: the new owner's announcements of the VIP reach the LAN, or are dropped
VIP_ANNOUNCE = ('sent', 'lost')


def host_number(address):
    """An IPv4 address's last byte: the host number its IPv6 twin reads as."""
    return int(address.split('.')[-1])


def readable6(net, host):
    """The address of host number `host` (as written in IPv4) in the IPv6 net:
    12 -> <prefix>::12, not ::c."""
    return str(net.network_address + int(str(host), 16))


def host_number6(net, address):
    """readable6's inverse: the IPv4-style host number an IPv6 address reads as, or None."""
    text = '%x' % (int(address) - int(net.network_address))
    return int(text) if text.isdigit() else None


class ConfigError(ValueError):
    """Bad user input, reported before anything is started."""


def parse_weights(text):
    """'2,3,4' -> [2, 3, 4]; a clear ConfigError otherwise."""
    try:
        weights = [int(w) for w in str(text).split(',') if w.strip() != '']
    except ValueError:
        raise ConfigError('weights must be comma-separated integers, got %r' % text)
    if not weights:
        raise ConfigError('no weights given')
    return weights


@dataclass
class ClusterConfig:
    """The paper's cluster: two directors, N real servers (laico2..), one client, one hub.

    Addresses live in the testbed's own subnet; the real server laicoN gets
    host number 10+N, so laico2 is .12, as a reminder of its name.
    """
    servers: int = 3
    weights: list = None
    scheduler: str = 'rr'
    # ipvsadm -b's words for the hashing schedulers (e.g. ['mh-port', 'mh-fallback'])
    sched_flags: tuple = ()
    # the directors create a connection entry for a TCP packet in mid-flow, not only for
    # a SYN (net.ipv4.vs.sloppy_tcp, and sloppy_sctp): with a hashing scheduler a
    # connection can move to the other director and reach the same real server
    sloppy_tcp: bool = False
    subnet: str = '10.0.14.0/24'
    # the service's address: IPv4 (the paper's, which was 164.41.14.146) or IPv6 (then
    # inside subnet6: the service, its health checks and the client speak IPv6, the
    # nodes keep their IPv4 addresses for the rest, as a dual-stack LAN does)
    vip: str = '10.0.14.146'
    subnet6: str = SUBNET6
    # IPv6: whether the VIP's new owner runs duplicate address detection on it (a second
    # before the address is usable); None: as the stack does by default (keepalived and
    # heartbeat's lean resource skip it, Pacemaker's IPaddr2 waits it out)
    vip_dad: bool = None
    # whether the VIP's new owner is heard announcing it (gratuitous ARP, unsolicited
    # Neighbour Advertisements): 'lost' has the hub drop every announcement of the VIPs,
    # as if lost or never sent, so a client finds the new owner only through its own
    # neighbour entry's timers (stale, probed, failed, resolved again)
    vip_announce: str = 'sent'
    # both families at once: a second VIP of the other family (the same host number:
    # 10.0.14.146 and 2001:db8:14::146), its own virtual service, moved with the first
    dual_stack: bool = False
    port: int = 80
    forwarding: str = 'dr'
    # a second path between the directors, as the classic crossover cable (or serial
    # line) of two-node clusters: heartbeat and VRRP also go that way
    crossover: bool = False
    # how many addresses the client host speaks from (1: its own only; more: taken
    # from CLIENT_PREFIX, routed to it from every node)
    client_addresses: int = 1
    tun_type: str = 'ipip'                  # TUN only: the encapsulation
    # TUN only: the real servers on a network of their own, behind a router (the
    # directors reach them only through it), which is what tunnelling is for
    remote_servers: bool = False
    inside_subnet: str = INSIDE_SUBNET      # NAT, remote TUN: the real servers' network
    # both directors serve the VIP at once (on lo, as the real servers hold it), behind
    # the router's ECMP route over their next-hop addresses; needs a hashing scheduler
    # (the same table on both) and takes up connections in mid-flow (sloppy TCP)
    active_active: bool = False
    addresses: dict = field(init=False, default=None)
    addresses6: dict = field(init=False, default=None)  # IPv6 service: each node's
    inside: dict = field(init=False, default=None)      # NAT: each director's inside address
    inside6: dict = field(init=False, default=None)     # an IPv6 NAT service: its IPv6 one
    next_hops: dict = field(init=False, default=None)   # active/active: each director's
    outside: dict = field(init=False, default=None)     # active/active: router's, client's
    outside6: dict = field(init=False, default=None)    # ... in IPv6, for an IPv6 service
    # the real servers' gateway: NAT's moves with the VIP (in the service's family),
    # remote TUN's is the router
    gateway: str = field(init=False, default=None)
    # each director's interface on the hub: Mininet's names (an inventory's replace them)
    lan_interfaces: dict = field(init=False, default=None)

    def __post_init__(self):
        if self.weights is None:
            self.weights = [1] * self.servers if isinstance(self.servers, int) else []
        if self.active_active:
            self.sloppy_tcp = True
        self.validate()
        net = ipaddress.ip_network(self.subnet)
        host = lambda n: str(net.network_address + n)
        self.addresses = {PRIMARY: host(2), BACKUP: host(3), CLIENT: host(200)}
        self.lan_interfaces = {d: '%s-eth0' % d for d in DIRECTORS}
        if self.router:
            self.addresses[ROUTER] = host(ROUTER_HOST)
        self.next_hops, self.outside = {}, {}
        if self.active_active:
            self.next_hops = {d: host(n) for d, n in zip(DIRECTORS, NEXT_HOP_HOSTS)}
            outside = ipaddress.ip_network(OUTSIDE_SUBNET)
            self.outside = {ROUTER: str(outside.network_address + ROUTER_HOST),
                            CLIENT: str(outside.network_address + 200)}
            self.addresses[CLIENT] = self.outside[CLIENT]
        self.inside = {}
        if self.servers_inside:     # the real servers move behind the directors or the router
            inside = ipaddress.ip_network(self.inside_subnet)
            host = lambda n: str(inside.network_address + n)
            if self.nat:
                self.inside = {PRIMARY: host(2), BACKUP: host(3)}
            self.gateway = host(GATEWAY_HOST)
        for name in self.real_servers:
            self.addresses[name] = host(10 + int(name[len('laico'):]))
        self.addresses6, self.inside6 = {}, {}
        if self.ipv6 or self.dual_stack:
            net6 = ipaddress.ip_network(self.subnet6)
            self.addresses6 = {name: readable6(net6, host_number(address))
                               for name, address in self.addresses.items()}
            if self.servers_inside:     # the real servers inside in IPv6 too
                inside6 = ipaddress.ip_network(INSIDE_SUBNET6)
                self.addresses6.update((name, readable6(inside6, host_number(
                    self.addresses[name]))) for name in self.real_servers)
                self.inside6 = {d: readable6(inside6, host_number(a))
                                for d, a in self.inside.items()}
                if self.ipv6:           # (dual stack: the IPv6 view's gateway is this)
                    self.gateway = readable6(inside6, GATEWAY_HOST)
        self.outside6 = {}
        if self.active_active and (self.ipv6 or self.dual_stack):   # the client in IPv6
            net6 = ipaddress.ip_network(self.subnet6)
            if self.ipv6:       # (dual stack: the IPv6 view's next hops are these)
                self.next_hops = {d: readable6(net6, n)
                                  for d, n in zip(DIRECTORS, NEXT_HOP_HOSTS)}
            outside6 = ipaddress.ip_network(OUTSIDE_SUBNET6)
            self.outside6 = {ROUTER: readable6(outside6, ROUTER_HOST),
                             CLIENT: readable6(outside6, 200)}
            self.addresses6[CLIENT] = self.outside6[CLIENT]

    def validate(self):
        if not isinstance(self.servers, int) or not 1 <= self.servers <= 100:
            raise ConfigError('number of real servers must be 1..100, got %r' % self.servers)
        if len(self.weights) != self.servers:
            raise ConfigError('%d weights given for %d real servers (%s): give one weight per server'
                              % (len(self.weights), self.servers, ', '.join(self.real_servers)))
        if any(not isinstance(w, int) or w < 0 or w > 65535 for w in self.weights):
            raise ConfigError('weights must be integers 0..65535, got %s' % self.weights)
        if self.scheduler not in SCHEDULERS:
            raise ConfigError('unknown scheduler %r: choose one of %s'
                              % (self.scheduler, ', '.join(SCHEDULERS)))
        self.sched_flags = tuple(self.sched_flags)
        if self.sched_flags:
            if self.scheduler not in HASHING:
                raise ConfigError('--sched-flags apply to the hashing schedulers (%s), not %s'
                                  % (', '.join(HASHING), self.scheduler))
            known = ['%s-%s' % (self.scheduler, f) for f in SCHED_FLAGS]
            bad = [f for f in self.sched_flags if f not in known]
            if bad or len(set(self.sched_flags)) != len(self.sched_flags):
                raise ConfigError('--sched-flags for %s: each of %s at most once, got %s'
                                  % (self.scheduler, ', '.join(known),
                                     ','.join(self.sched_flags)))
        if self.forwarding not in FORWARDING:
            raise ConfigError('unknown forwarding %r: choose one of %s'
                              % (self.forwarding, ', '.join(FORWARDING)))
        if self.tun_type not in TUN_TYPES:
            raise ConfigError('unknown tunnel type %r: choose one of %s'
                              % (self.tun_type, ', '.join(TUN_TYPES)))
        if self.forwarding != 'tun' and (self.tun_type != 'ipip' or self.remote_servers):
            raise ConfigError('%s applies to tunnelling only: add --forwarding tun' % (
                '--remote-servers' if self.remote_servers else '--tun-type %s' % self.tun_type))
        prefix = ipaddress.ip_network(CLIENT_PREFIX)
        if not isinstance(self.client_addresses, int) or \
                not 1 <= self.client_addresses <= prefix.num_addresses - 2:
            raise ConfigError('client addresses must be 1..%d, got %r'
                              % (prefix.num_addresses - 2, self.client_addresses))
        if not 1 <= int(self.port) <= 65535:
            raise ConfigError('bad port %r' % self.port)
        try:
            net = ipaddress.ip_network(self.subnet)
            vip = ipaddress.ip_address(self.vip)
        except ValueError as e:
            raise ConfigError(str(e))
        if net.version != 4 or net.prefixlen > 24:
            raise ConfigError('subnet must be IPv4 with room for the hosts (/24 or larger), got %s'
                              % self.subnet)
        if net.overlaps(prefix):
            raise ConfigError('subnet %s overlaps the clients\' prefix %s' % (net, prefix))
        if self.servers_inside:
            try:
                inside = ipaddress.ip_network(self.inside_subnet)
            except ValueError as e:
                raise ConfigError('inside subnet: %s' % e)
            if inside.version != 4 or inside.prefixlen > 24:
                raise ConfigError('inside subnet must be IPv4, /24 or larger, got %s' % inside)
            if inside.overlaps(net) or inside.overlaps(prefix):
                raise ConfigError('inside subnet %s overlaps %s' % (
                    inside, net if inside.overlaps(net) else prefix))
        if self.active_active:
            self.validate_active_active(net)
        if self.dual_stack:
            other = ipaddress.ip_address(self.other_vip(net))
            if other.version == 6:
                self.validate_ipv6(other)
            elif other not in net or int(other) - int(net.network_address) in \
                    self.used_hosts | {0, 255}:
                raise ConfigError('--dual-stack: the IPv4 VIP %s (the IPv6 VIP\'s host '
                                  'number in %s) is no address for it' % (other, net))
        if self.vip_announce not in VIP_ANNOUNCE:
            raise ConfigError('--vip-announce: %r is none of %s'
                              % (self.vip_announce, ', '.join(VIP_ANNOUNCE)))
        if self.vip_announce == 'lost' and self.active_active:
            raise ConfigError('--vip-announce lost: active/active announces no VIP (the '
                              'router\'s ECMP route names both directors)')
        if self.vip_dad is not None and vip.version != 6 and not self.dual_stack:
            raise ConfigError('--vip-dad: duplicate address detection is IPv6\'s; the VIP '
                              '%s is IPv4' % vip)
        if vip.version == 6:
            return self.validate_ipv6(vip)
        if vip not in net:
            raise ConfigError('VIP %s is not inside the testbed subnet %s' % (vip, net))
        if int(vip) - int(net.network_address) in self.used_hosts:
            raise ConfigError('VIP %s collides with a host address of the testbed' % vip)
        if vip in (net.network_address, net.broadcast_address):
            raise ConfigError('VIP %s is the network or broadcast address' % vip)

    @property
    def used_hosts(self):
        """The host numbers the testbed's nodes take in its subnet."""
        return {2, 3, 200} | {12 + i for i in range(self.servers)} | (
            {ROUTER_HOST} if self.router else set()) | (
            set(NEXT_HOP_HOSTS) if self.active_active else set())

    def validate_ipv6(self, vip):
        try:
            net6 = ipaddress.ip_network(self.subnet6)
        except ValueError as e:
            raise ConfigError('IPv6 subnet: %s' % e)
        if net6.version != 6 or net6.prefixlen > 64:
            raise ConfigError('the IPv6 subnet must be an IPv6 prefix of /64 or larger (SLAAC '
                              'and Neighbour Discovery assume /64), got %s' % self.subnet6)
        if vip not in net6:
            raise ConfigError('VIP %s is not inside the IPv6 subnet %s: give --subnet with '
                              'the VIP\'s /64 too' % (vip, net6))
        if host_number6(net6, vip) in self.used_hosts:
            raise ConfigError('VIP %s collides with a host address of the testbed' % vip)
        if vip == net6.network_address:
            raise ConfigError('VIP %s is the subnet-router anycast address' % vip)
        if self.nat and net6.overlaps(ipaddress.ip_network(INSIDE_SUBNET6)):
            raise ConfigError('IPv6 subnet %s overlaps NAT\'s inside network %s'
                              % (net6, INSIDE_SUBNET6))

    def validate_active_active(self, net):
        if self.scheduler not in HASHING:
            raise ConfigError('--active-active needs the same table on both directors, so '
                              'that a connection reaches the same real server through '
                              'either: --scheduler %s, not %s'
                              % (' or '.join(HASHING), self.scheduler))
        if self.nat:
            raise ConfigError('--active-active with --forwarding nat: a NAT director must '
                              'also carry the answers back, and the real servers have one '
                              'gateway, not one per director: use dr or tun')
        if self.remote_servers:
            raise ConfigError('--active-active puts the client behind the router; '
                              '--remote-servers puts the real servers there: one at a time')
        if net.overlaps(ipaddress.ip_network(OUTSIDE_SUBNET)):
            raise ConfigError('subnet %s overlaps the client\'s network %s (active/active)'
                              % (net, OUTSIDE_SUBNET))

    @property
    def real_servers(self):
        return ['laico%d' % (2 + i) for i in range(self.servers)]

    @property
    def takeover_address(self):
        """The address the HA stack moves from laicoz to laicoy, which every run's
        invariants follow: the VIP, or with active/active laicoz's next hop (the VIP is
        on both directors; laicoy's own next hop stays with it)."""
        return self.next_hops[PRIMARY] if self.active_active else self.vip

    @property
    def prefixlen(self):
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def ipv6(self):
        """The service is IPv6: its VIP, the real servers' addresses in IPVS, the health
        checks and the client's requests."""
        return ':' in self.vip

    def other_vip(self, net=None):
        """Dual stack: the VIP of the other family, with the VIP's host number."""
        net = net or ipaddress.ip_network(self.subnet)
        net6 = ipaddress.ip_network(self.subnet6)
        if self.ipv6:
            return str(net.network_address + host_number6(net6, ipaddress.ip_address(self.vip)))
        return readable6(net6, int(ipaddress.ip_address(self.vip)) - int(net.network_address))

    @property
    def vips(self):
        """The VIPs the directors serve, the one the invariants follow first."""
        return [self.vip] + ([self.other_vip()] if self.dual_stack else [])

    def families(self):
        """The cluster as each VIP's service sees it: itself, and with --dual-stack the
        same cluster on its other VIP (each with its own endpoints)."""
        import dataclasses
        if not self.dual_stack:
            return [self]
        views = [dataclasses.replace(self, vip=v, dual_stack=False) for v in self.vips[1:]]
        for view in views:      # (a real machine's addresses come from the inventory)
            view.addresses.update(self.addresses)
            if view.addresses6:
                view.addresses6.update(self.addresses6)
        return [self] + views

    @property
    def vip_prefixlen(self):
        """The prefix the VIP is added with on a director's LAN interface."""
        return self.prefixlen_of(self.vip)

    def prefixlen_of(self, address):
        """The prefix a VIP of either family is added with on a director's LAN."""
        return ipaddress.ip_network(self.subnet6 if ':' in address else self.subnet).prefixlen

    def service_address(self, node):
        """A node's address in the service's family (its IPv6 one with an IPv6 VIP)."""
        return (self.addresses6 if self.ipv6 else self.addresses)[node]

    @property
    def service(self):
        """The virtual service's endpoint, as ipvsadm writes it."""
        return endpoint(self.vip, self.port)

    def real_endpoint(self, server):
        """A real server's endpoint in the virtual service, as ipvsadm writes it."""
        return endpoint(self.service_address(server), self.port)

    @property
    def hosts(self):
        return list(DIRECTORS) + self.real_servers + [CLIENT] + (
            [ROUTER] if self.router else [])

    @property
    def nat(self):
        return self.forwarding == 'nat'

    @property
    def router(self):
        """The router's name when the real servers (remote TUN) or the client
        (active/active) sit behind one, else None."""
        return ROUTER if self.remote_servers or self.active_active else None

    @property
    def servers_inside(self):
        """The real servers on the inside network (NAT, remote TUN), not on the hub."""
        return self.nat or self.remote_servers

    def variant(self, **changes):
        """The same cluster with some settings changed (a cell's), its addresses kept
        (a real machine's come from the inventory)."""
        import dataclasses
        new = dataclasses.replace(self, **changes)
        # (active/active moves the client behind the router: its address is new)
        for mine, its in ((self.addresses, new.addresses), (self.addresses6, new.addresses6)):
            if its:
                its.update({k: v for k, v in mine.items() if k not in (CLIENT, ROUTER) or
                            new.active_active == self.active_active})
        return new

    def scheduler_args(self):
        """ipvsadm's arguments for the service's scheduler and its flags."""
        return ['-s', self.scheduler] + (['-b', ','.join(self.sched_flags)]
                                         if self.sched_flags else [])

    def director_setup(self, iface):
        """The command that sets a director's IPVS switches of this cluster (sloppy TCP)
        and, active/active, its VIP on lo, as a real server holds it in direct routing
        (iface: its LAN interface, where it must not answer ARP for it); or None."""
        commands = []
        if self.sloppy_tcp:
            commands.append('sysctl -qw net.ipv4.vs.sloppy_tcp=1 net.ipv4.vs.sloppy_sctp=1')
        if self.active_active:
            commands += ['sysctl -qw net.ipv4.conf.all.arp_ignore=1 '
                         'net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.%s.arp_ignore=1 '
                         'net.ipv4.conf.%s.arp_announce=2' % (iface, iface)]
            commands += ['ip addr replace %s dev lo' % host_prefix(v) for v in self.vips]
        return ' && '.join(commands) or None

    def forward_args(self):
        """ipvsadm's arguments for the forwarding method of a real server."""
        args = [FORWARDING[self.forwarding].ipvsadm]
        if self.forwarding == 'tun' and self.tun_type != 'ipip':
            args += ['--tun-type', self.tun_type]
            if self.tun_type == 'gue':
                args += ['--tun-port', str(GUE_PORT)]
        return args

    def keepalived_method(self):
        """keepalived's lvs_method line's value."""
        method = FORWARDING[self.forwarding].keepalived
        if self.forwarding == 'tun' and self.tun_type != 'ipip':
            method += ' type %s' % self.tun_type + (
                ' port %d' % GUE_PORT if self.tun_type == 'gue' else '')
        return method

    @property
    def inside_prefixlen(self):
        return ipaddress.ip_network(self.inside_subnet).prefixlen

    @property
    def inside_gateway4(self):
        """The gateway's IPv4 address on the inside network (the router's leg there),
        also when the service, and so `gateway`, is IPv6."""
        return str(ipaddress.ip_network(self.inside_subnet).network_address + GATEWAY_HOST)

    @property
    def gateway_prefixlen(self):
        """The prefix length the real servers' gateway is added with (its family's)."""
        return self.inside_prefixlen_of(self.gateway or '')

    def inside_prefixlen_of(self, address):
        """The inside network's prefix length in an address's family."""
        return ipaddress.ip_network(INSIDE_SUBNET6).prefixlen if ':' in address \
            else self.inside_prefixlen

    @property
    def next_hop_sets(self):
        """Active/active: {director: its next hops, one per family the service speaks
        (dual stack: two), the service's own first}; {} otherwise."""
        if not self.active_active:
            return {}
        views = self.families()
        return {d: [view.next_hops[d] for view in views] for d in DIRECTORS}

    @property
    def companions(self):
        """Dual stack: the addresses that move with the takeover address besides NAT's
        gateway of its family: the other family's VIP (active/active: laicoz's next hop)
        and gateway. Every run watches that they do."""
        if not self.dual_stack:
            return []
        first = self.next_hop_sets[PRIMARY] if self.active_active else self.vips
        return first[1:] + (self.gateways[1:] if self.nat else [])

    @property
    def gateways(self):
        """The real servers' gateways on the inside network, one per family the service
        speaks (dual stack: two), the service's own first: NAT's move with the VIPs,
        remote TUN's are the router's legs."""
        return [view.gateway for view in self.families()] if self.servers_inside else []

    # the crossover cable's own point-to-point link-local addresses
    CROSSOVER = {PRIMARY: '169.254.77.1', BACKUP: '169.254.77.2'}
    CROSSOVER_PREFIX = 30
    # ... and in IPv6, for VRRPv3's unicast adverts of an IPv6 VIP (heartbeat and Corosync
    # keep talking IPv4 over the cable, whatever the VIP's family)
    CROSSOVER6 = {PRIMARY: '2001:db8:77::1', BACKUP: '2001:db8:77::2'}

    def crossover_addresses(self):
        """The crossover cable's addresses in the family of the VRRP adverts (the
        VIP's)."""
        return self.CROSSOVER6 if self.ipv6 else self.CROSSOVER

    def weight_of(self, server):
        return self.weights[self.real_servers.index(server)]

    def hosts_file(self):
        """/etc/hosts for every node: names for the hosts, none for the VIP (as in the paper)."""
        lines = ['127.0.0.1\tlocalhost']
        lines += ['%s\t%s' % (self.addresses[h], h) for h in self.hosts]
        # (an IPv6 service: ipvsadm -L names its real servers as the paper shows them)
        lines += ['%s\t%s' % (self.addresses6[h], h) for h in self.hosts if h in self.addresses6]
        return '\n'.join(lines) + '\n'

    def as_dict(self):
        return {'servers': self.servers, 'real_servers': self.real_servers,
                'weights': dict(zip(self.real_servers, self.weights)),
                'scheduler': self.scheduler, 'sched_flags': list(self.sched_flags),
                'sloppy_tcp': self.sloppy_tcp, 'vip': self.vip, 'port': self.port,
                'subnet': self.subnet, 'forwarding': self.forwarding,
                'crossover': self.crossover, 'client_addresses': self.client_addresses,
                'tun_type': self.tun_type if self.forwarding == 'tun' else None,
                'remote_servers': self.remote_servers,
                'active_active': self.active_active, 'next_hops': self.next_hops,
                'outside': self.outside, 'outside6': self.outside6 or None,
                'inside_subnet': self.inside_subnet if self.servers_inside else None,
                'gateway': self.gateway, 'inside': self.inside,
                'inside6': self.inside6 or None,
                'addresses': self.addresses,
                'subnet6': self.subnet6 if self.addresses6 else None,
                'vip_dad': self.vip_dad, 'vip_announce': self.vip_announce,
                'dual_stack': self.dual_stack, 'vips': self.vips,
                'addresses6': self.addresses6}

    @property
    def client_prefix(self):
        """The clients' prefix, in the service's family."""
        return CLIENT_PREFIX6 if self.ipv6 else CLIENT_PREFIX

    @property
    def client_sources(self):
        """(first address, count) the load generator binds its connections to, or None
        when the client speaks from its own address only."""
        if self.client_addresses == 1:
            return None
        return str(ipaddress.ip_network(self.client_prefix).network_address + 1), \
            self.client_addresses
