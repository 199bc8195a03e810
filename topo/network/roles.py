"""What each machine of the paper's cluster does, on any node backend: the roles
are built only on the primitives of topo/backends (cmd, popen, processes, ...).

  Director     an LVS director: kernel IPVS through ipvsadm; may hold the VIP
  RealServer   an HTTP server behind IPVS direct routing (nginx, the VIP on lo)
  Client       the paper's "machine on the Internet"
  Router       tunnelling's remote variant: between the hub and the real servers' network;
               active/active: between the client and the hub, ECMP over both directors
"""
import shutil
import signal
import subprocess
import time
from pathlib import Path

from topo import render
from topo.network import ipvs
from topo.network.addresses import host_prefix
from topo.network.config import (CLIENT, CLIENT_PREFIX, CLIENT_PREFIX6, DIRECTORS, GUE_PORT,
                                 OUTSIDE_SUBNET, OUTSIDE_SUBNET6,
                                 TUN_MODULES, TUN_TYPES, inside_interface)
from topo.network.webserver import NginxServer, raise_limits


FORWARDING_TEMPLATE = Path(__file__).resolve().parent / 'templates' / 'realserver.sh.j2'


# An IPv6 VIP on a director: no duplicate address detection (it would hold the address
# back a second), and deprecated, so that it never becomes the source of the director's
# own connections (IPv6 has no primary address; the newest of a prefix wins), or the
# real servers would answer its health checks to the VIP on their own lo
VIP6_OPTIONS = 'nodad preferred_lft 0'


def tune_for_load(node):
    """Per-namespace limits for thousands of simultaneous connections (the kernel's
    defaults cap a listen queue at 4,096 and the client's ports at 28,000)."""
    node.cmd('sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 '
             'net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1')


def route_client_prefix(config, client, others):
    """The client owns the whole clients' prefix (a local route: it may bind to any
    address in it) and every other node routes the prefix to it."""
    prefix = config.client_prefix
    out = client.cmd('ip route replace local %s dev lo' % prefix)
    if config.ipv6:     # IPv6's bind() takes only configured addresses, not a local route's
        out += client.cmd('sysctl -qw net.ipv6.ip_nonlocal_bind=1')
    for node in others:
        out += node.add_route(prefix, config.service_address(CLIENT))
    if out.strip():
        raise RuntimeError('routing the clients\' prefix %s: %s' % (prefix, out.strip()))


def route_through_router(config, router, client, on_hub):
    """Active/active: the client (and the clients' prefix) behind the router, which
    sends the VIP's traffic to both directors by ECMP, hashing each connection by its
    addresses and ports (fib_multipath_hash_policy=1), so one connection keeps one
    director while both are in the set."""
    out = ''
    # IPv4 always (the plumbing); an IPv6 service the same in IPv6 besides
    for v6 in (False, True) if config.ipv6 or config.dual_stack else (False,):
        outside = config.outside6 if v6 else config.outside
        prefix = CLIENT_PREFIX6 if v6 else CLIENT_PREFIX
        out += client.add_route('default', outside[config.router])
        if config.client_sources:
            out += client.cmd('ip route replace local %s dev lo' % prefix)
            if v6:      # IPv6's bind() takes only configured addresses, not a local route's
                out += client.cmd('sysctl -qw net.ipv6.ip_nonlocal_bind=1')
            out += router.add_route(prefix, outside[CLIENT])
        out += router.cmd('sysctl -qw net.ipv%d.fib_multipath_hash_policy=1' % (6 if v6 else 4))
        via = (config.addresses6 if v6 else config.addresses)[config.router]
        for node in on_hub:
            for destination in (OUTSIDE_SUBNET6 if v6 else OUTSIDE_SUBNET, prefix):
                out += node.add_route(destination, via)
    if out.strip():
        raise RuntimeError('routing through the router: %s' % out.strip())
    router.route_vip(config, DIRECTORS)


class Director:
    role = 'director'
    vip = None
    vips = ()               # dual stack: the VIP of each family
    gateways = ()           # NAT: the real servers' gateways (one per family), moving with the VIP
    next_hops = ()          # active/active: the directors' next-hop addresses

    def clear_state(self):
        self.ipvsadm('-C')
        # the IPVS sync daemons are kernel threads: a reboot stops them
        self.cmd('ipvsadm --stop-daemon master 2>/dev/null; ipvsadm --stop-daemon backup 2>/dev/null')
        if self.vip:
            # whatever netmask the stack gave it; active/active: on lo
            for address in tuple(self.vips or (self.vip,)) + tuple(self.next_hops):
                self.cmd('ip addr flush dev %s to %s' % (self.interfaces()[0], host_prefix(address)))
            self.cmd('ip addr flush dev lo to %s' % host_prefix(self.vip))
        for gateway in self.gateways:
            self.cmd('ip addr flush dev %s to %s' % (inside_interface(self.name),
                                                     host_prefix(gateway)))

    def fresh_run(self):
        """A private /run as after a boot: empty (the daemons add what they expect)."""
        try:
            run = Path(self.private('/run'))
        except ValueError:
            return
        for entry in run.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def ipvsadm(self, *args):
        return self.cmd('ipvsadm', *args).replace('\r\n', '\n')

    def install_service(self, config):
        """A static virtual service (no HA): what ldirectord would build."""
        self.ipvsadm('-C')
        setup = config.director_setup(self.interfaces()[0])
        if setup:
            out = self.cmd('{ %s; } 2>&1' % setup)
            if out.strip():
                raise RuntimeError('%s: %s' % (self.name, out.strip()))
        for args in ipvs.service_commands(config):
            out = self.ipvsadm(*args)
            if out.strip():
                raise RuntimeError('%s: ipvsadm %s: %s' % (self.name, ' '.join(args), out.strip()))

    def snapshot(self, numeric=False):
        """`ipvsadm -L` as the paper shows it (`-L -n` with numeric=True)."""
        return self.ipvsadm('-L', '-n') if numeric else self.ipvsadm('-L')

    def table(self):
        return ipvs.parse(self.snapshot(numeric=True))

    def add_vip(self, vip, prefixlen=None):
        """The VIP on the LAN interface, with prefixlen or as the one address."""
        address = host_prefix(vip) if prefixlen is None else '%s/%d' % (vip, prefixlen)
        self.cmd('ip addr add %s dev %s%s' % (address, self.interfaces()[0],
                                              ' ' + VIP6_OPTIONS if ':' in vip else ''))

    def take_service(self, config, subnet_prefix=False):
        """The addresses the service needs on this director when no HA stack moves them:
        the VIP (active/active: its own next hop; the VIP is on lo) and, with NAT, the
        real servers' gateways."""
        addresses = [config.next_hops[self.name]] if config.active_active else config.vips
        for address in addresses:
            if not self.holds(address):
                # with its subnet's prefix, as a stack adds it, or as the one address
                self.add_vip(address, config.prefixlen_of(address) if subnet_prefix else None)
        for gateway in config.gateways if config.nat else ():
            if not self.holds(gateway):
                self.cmd('ip addr add %s/%d dev %s%s' % (
                    gateway, config.inside_prefixlen_of(gateway), inside_interface(self.name),
                    ' ' + VIP6_OPTIONS if ':' in gateway else ''))

    def holds(self, address):
        """The address is on the director and usable (IPv6: out of duplicate address
        detection)."""
        return any((' %s/' % address) in line and 'tentative' not in line
                   for line in self.cmd('ip -o addr show').splitlines())

    # -- the connection counters, per real server ---------------------------------------
    def server_table(self, config):
        """{server: {'weight', 'active', 'inactive'}} from `ipvsadm -L -n`, plus the text."""
        numeric = self.snapshot(numeric=True)
        by_address = {config.service_address(s): s for s in config.real_servers}
        table = {s: {'weight': None, 'active': 0, 'inactive': 0} for s in config.real_servers}
        for svc in ipvs.parse(numeric):
            if svc['address'] != config.service:
                continue
            for r in svc['real_servers']:
                name = by_address.get(r['host'], r['host'])
                table[name] = {'weight': r['weight'], 'active': r['active'],
                               'inactive': r['inactive']}
        return table, numeric

    def set_weight(self, config, server, weight):
        out = self.ipvsadm('-e', '-t', config.service, '-r', config.real_endpoint(server),
                           *config.forward_args(), '-w', str(weight))
        if out.strip():
            raise RuntimeError('ipvsadm -e %s -w %s: %s' % (server, weight, out.strip()))

    def expire_nodest_conn(self):
        """IPVS reschedules a client's new connection that reuses the address and port of
        an old one bound for a server of weight 0 or removed, instead of sending it there
        (net.ipv4.vs.expire_nodest_conn; with conn_reuse_mode, the kernel's default)."""
        self.cmd('sysctl -qw net.ipv4.vs.expire_nodest_conn=1')

    def wait_drained(self, config, timeout, servers=None, counters=('active', 'inactive'),
                     poll=1.0):
        """Wait until the counters (ActiveConn, InActConn) of the servers (default: all)
        are 0, one `ipvsadm` per poll; seconds waited."""
        t0 = time.monotonic()
        while True:
            table, _ = self.server_table(config)
            if sum(r[c] for s, r in table.items() if servers is None or s in servers
                   for c in counters) == 0:
                return round(time.monotonic() - t0, 2)
            if time.monotonic() - t0 > timeout:
                raise RuntimeError('the IPVS connection table did not drain in %ds: %s'
                                   % (timeout, table))
            time.sleep(poll)


class RealServer:
    role = 'real server'
    vip = None
    vips = ()               # dual stack: the VIP of each family, on lo
    web_port = 80
    WEB = ('nginx',)        # its web server's processes (a hang stops them)

    def make_web(self, directory):
        self.nginx = NginxServer(self.name, self.web_port, directory,
                                 ipv6=any(':' in v for v in self.vips or (self.vip or '',)))
        self.web = None

    forwarding = 'dr'
    tun_type = 'ipip'
    gateways = ()           # behind the directors (NAT) or a router (remote TUN): per family

    @property
    def forwarding_script(self):
        return Path(self.nginx.dir).parent / 'realserver.sh'

    @property
    def configs(self):
        """Its generated files: the forwarding set-up and the web server's config."""
        return [self.forwarding_script, self.nginx.conf]

    def forwarding_variables(self):
        """The variables of its forwarding set-up (templates/realserver.sh.j2)."""
        tun = self.forwarding == 'tun'
        vips = list(self.vips or (self.vip,))
        return {'node': self.name, 'forwarding': self.forwarding, 'vip': self.vip,
                'vips': vips, 'vips4': [v for v in vips if ':' not in v],
                'vips6': [v for v in vips if ':' in v],
                'iface': self.interfaces()[0], 'gateways': list(self.gateways),
                'device': TUN_TYPES[self.tun_type] if tun else 'lo',
                'module': TUN_MODULES.get(self.tun_type) if tun else None,
                'gue_port': GUE_PORT if tun and self.tun_type == 'gue' else None,
                # IPv6 in IPv6: GRE's own catch-all device, else ip6_tunnel's (GUE too)
                'device6': 'ip6gre0' if tun and self.tun_type == 'gre' else 'ip6tnl0'}

    def configure_forwarding(self):
        """The VIP where the director's packets arrive: on lo for direct routing, on
        the tunnel's catch-all device for tunnelling (tunl0 for IPIP, also GUE's
        unwrapped packets; gre0 for GRE; in every namespace once the module is loaded);
        either way the server answers the client from the VIP. With NAT the server has
        no VIP: its answers go back through the director that holds the gateway, which
        rewrites them. One script, from the template a deployment also installs."""
        script = self.forwarding_script
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(render.render(FORWARDING_TEMPLATE, self.forwarding_variables()))
        out = self.cmd('sh %s 2>&1 || echo "exit status $?"' % script)
        if out.strip():
            raise RuntimeError('%s: its forwarding set-up (%s): %s'
                               % (self.name, script, out.strip()))
        for gateway in self.gateways:   # (a link coming up again must get it back)
            self.keep_route('default', gateway)

    def kept_logs(self):
        """[(its log file, as this process reads it; the name a run keeps it by)]."""
        return [(self.nginx.error_log, 'nginx-error.log')]

    def clear_state(self):
        self.cmd('ip addr flush dev lo scope global')
        if self.forwarding == 'tun':
            self.cmd('ip addr flush dev %s' % TUN_TYPES[self.tun_type])
            if any(':' in v for v in self.vips):     # (IPv6 in IPv6's device)
                self.cmd('ip -6 addr flush dev %s scope global'
                         % self.forwarding_variables()['device6'])
            if self.tun_type == 'gue':
                self.cmd('ip fou del port %d' % GUE_PORT)
                if any(':' in v for v in self.vips):
                    self.cmd('ip fou del port %d -6' % GUE_PORT)

    def boot(self):
        self.configure_forwarding()
        self.start_web()
        self.wait_web()

    def start_web(self):
        self.nginx.prepare()
        self.web = self.popen(self.nginx.command(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=raise_limits)

    def wait_web(self, timeout=60):
        self.nginx.wait_ready(self.web, timeout)

    def stop_web(self, timeout=30):
        """nginx's graceful quit (SIGQUIT): it stops listening and ends the requests in
        hand first. Seconds it took."""
        t0 = time.monotonic()
        if self.web and self.web.poll() is None:
            self.web.send_signal(signal.SIGQUIT)
            try:
                self.web.wait(timeout)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait()
        return round(time.monotonic() - t0, 3)

    def answered(self):
        """Requests its web server answered so far (its access log)."""
        return self.nginx.answered()

    def upgrade_web(self):
        """A new version of the site (its pages say X-Version: one more), started."""
        self.nginx.version += 1
        self.start_web()
        self.wait_web()
        return self.nginx.version


class Client:
    role = 'client'


class Router:
    """Tunnelling's remote variant: the real servers' network reaches the hub only
    through this router, as a real server at another site would. Active/active: the
    client's edge router, which spreads the VIP's connections over both directors."""
    role = 'router'

    def route_vip(self, config, directors):
        """Active/active: the VIP's ECMP route over the next hops of these directors
        (dual stack: each VIP's, over the next hops of its family)."""
        for view in config.families():
            hops = ' '.join('nexthop via %s' % view.next_hops[d] for d in directors)
            out = self.cmd('ip route replace %s %s' % (host_prefix(view.vip), hops))
            if out.strip():
                raise RuntimeError('%s: the VIP %s\'s route via %s: %s'
                                   % (self.name, view.vip, ', '.join(directors), out.strip()))

    def configure_routing(self):
        # replies from the VIP come in from the servers' side, where a strict
        # reverse-path check (the VIP's subnet is on the hub's side) would drop them
        self.cmd('sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 ' +
                 ' '.join('net.ipv4.conf.%s.rp_filter=0' % i for i in self.interfaces()))
