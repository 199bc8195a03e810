"""Node backends: the one interface through which the engine and the faults reach
the machines of the cluster and the network between them.

    with backends.network(config, stack=stack, recorder=recorder) as net:
        net['laicoz'].cmd('ipvsadm -L')

A backend is one package here holding a Network subclass marked @register and
its Node classes. A backend implements the primitives below (run a command,
start an in-node agent, links, processes and signals, packet loss, the hub's
cut and heal); the roles (topo/network/roles.py) build the directors', real
servers' and client's behaviour on them, and Network keeps the lifecycle
(boot, HA stack, monitors, hardware caps). Mininet (topo/backends/mininet/) is
the first backend; nothing outside it may reach into Mininet's objects.
"""
import abc
import signal
import time
from pathlib import Path

from topo.network import roles
from topo.network.config import CLIENT, DIRECTORS, INSIDE_SUBNET6, PRIMARY
from topo.registry import Registry

BACKENDS = Registry(__name__, 'node backend')
register, load = BACKENDS.register, BACKENDS.load
EMULATION = 'mininet'       # the cluster emulated in this machine's kernel (or its sandbox's)
MACHINES = 'machines'       # the cluster on an inventory's machines, each its own kernel


def network(config, backend='mininet', **kwargs):
    """A backend's network for the cluster (not started: use it in a `with`)."""
    return BACKENDS.get(backend)(config, **kwargs)


def route_command(destination, via):
    """`ip route replace`, in the family of the next hop (`default` has none)."""
    return 'ip %sroute replace %s via %s' % ('-6 ' if ':' in via else '', destination, via)


class Node(abc.ABC):
    """One machine of the cluster, as the engine and the faults see it."""
    name = None
    role = None             # 'director', 'real server' or 'client' (topo/network/roles.py)

    @abc.abstractmethod
    def cmd(self, *args):
        """Run a shell command in the node; its output."""

    @abc.abstractmethod
    def popen(self, argv, **kwargs):
        """Start a program in the node; a subprocess.Popen (or alike)."""

    @abc.abstractmethod
    def agent(self, module, *args, **kwargs):
        """Start one of the project's in-node programs (topo.agents.*); it prints the
        JSON lines of topo/agents/events.py on its standard output."""

    @abc.abstractmethod
    def interfaces(self):
        """Its network interfaces (lo aside), the one on the hub first."""

    @abc.abstractmethod
    def address(self):
        """Its address on the hub's network."""

    @abc.abstractmethod
    def mac(self):
        """The MAC of its interface on the hub."""

    @abc.abstractmethod
    def set_links(self, up, lan_only=False):
        """Every link of the node (or only its cable to the hub) up or down; the time.
        Up, the node's static routes (add_route) come back with them."""

    @abc.abstractmethod
    def processes(self, names=None):
        """PIDs of the node's processes (or of those names: command or script name)."""

    @abc.abstractmethod
    def signal(self, sig, pids):
        """Send a signal to some of the node's processes."""

    @abc.abstractmethod
    def set_loss(self, percent):
        """netem packet loss both ways on its cable to the hub (0: none)."""

    @abc.abstractmethod
    def private(self, path):
        """Where the testbed writes the file that the node sees at `path`."""

    def publish(self, path):
        """The node sees at `path` what the testbed wrote at private(path): the
        emulation's private copy is the node's own file."""

    @abc.abstractmethod
    def proc_net(self, name):
        """The text of the node's /proc/net/<name> (its network namespace's counters),
        or '' when the kernel has none."""

    def stop_agent(self, proc, timeout=60):
        """Ask an agent (agent()'s process) to end as SIGTERM does: it says what it
        measured before it exits. Its exit status."""
        proc.terminate()
        return proc.wait(timeout=timeout)

    def take_file(self, path):
        """The text of a file a program of the node wrote at `path` (a shared path,
        /tmp), removed: the emulation's nodes share this filesystem."""
        p = Path(path)
        try:
            return p.read_text()
        except FileNotFoundError:
            return ''
        finally:
            p.unlink(missing_ok=True)

    # -- built on the primitives --------------------------------------------------------
    clock_offset_s = 0.0    # its clock minus the control node's (topo/analysis/clocks.py)
    instruments = ()        # the testbed's own agents in the node: a power-off spares them

    def kill(self, names=None, keep_instruments=True):
        """SIGKILL the node's processes (a power-off) or only those of the names (a crash).
        All are frozen first: a daemon whose children shut down cleanly on their
        parent's death (keepalived's) would otherwise do so between two kills."""
        keep = {p.pid for p in self.instruments} if keep_instruments else set()
        pids = [p for p in self.processes(names) if p not in keep]
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            self.signal(sig, pids)
        return pids

    def add_route(self, destination, via):
        """A static route, kept (keep_route). Its output."""
        self.keep_route(destination, via)
        return self.cmd(route_command(destination, via))

    def keep_route(self, destination, via):
        """The kernel drops IPv4 routes through a device that goes down: a link set up
        again gets the routes kept back (restore_routes)."""
        if '_routes' not in self.__dict__:
            self._routes = {}
        self._routes[destination, ':' in via] = via     # (a default route per family)

    def restore_routes(self):
        for (destination, _), via in self.__dict__.get('_routes', {}).items():
            self.cmd(route_command(destination, via))

    def clear_state(self):
        """Kernel state a reboot loses (beyond the interface addresses)."""

    def boot(self):
        """The node's own services, started as at boot."""

    def settle_dad(self, timeout=10.0):
        """Wait until each interface has its link-local address and no address is
        tentative, as Debian's ifupdown does at boot before the services start
        (settle-dad.sh): a link just up gets its link-local address once it has a carrier,
        in duplicate address detection for a second, and a VRRPv3 advert sent from it
        fails (EINVAL), so a returning master would not be heard. Seconds waited."""
        from topo.agents.monitor import IFA_F_TENTATIVE
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            rows = [line.split() for line in self.proc_net('if_inet6').splitlines()]
            rows = [r for r in rows if len(r) >= 6]
            linked = {r[5] for r in rows if r[3] == '20'}      # scope link
            if set(self.interfaces()) <= linked and \
                    not any(int(r[4], 16) & IFA_F_TENTATIVE for r in rows):
                break
            time.sleep(0.05)
        return round(time.monotonic() - t0, 3)


class Network(abc.ABC):
    """The cluster on one backend: its nodes, the hub between them, and the lifecycle.

    Leaving the `with` block (normally, by an error or by Ctrl-C) tears everything
    down: daemons, nodes, the hub, the backend's own helpers.
    """
    name = None
    floods = True           # its LAN repeats unicast frames on every port, as the paper's
                            # hub did (a real machines' switch need not)

    # a backend whose machines bring their own kernels runs no kernel mode here: before
    # anything starts, check(plan) raises what it cannot do; describe(plan) says where
    # it runs, torn_down what an interrupted run leaves (cli.execute)
    torn_down = 'the cluster was torn down'

    @classmethod
    def check(cls, plan):
        pass

    @classmethod
    def describe(cls, plan):
        return cls.name

    def __init__(self, config, log=print, log_dir=None, stack=None, recorder=None,
                 hardware=None, inventory=None):
        self.config = config
        self.inventory = inventory      # the machines, for a backend of real ones
        self.log = log
        self.log_dir = log_dir
        self.stack = stack              # an HA stack (topo/ha), or None: no HA daemons
        self.recorder = recorder        # where the agents' events go (topo/agents/recorder.py)
        self.hardware = hardware        # a topo.network.hardware.Profile, or None
        self.configs = {}               # director -> paths of its generated config files
        self.timings = {}               # seconds from the start to each stage of it
        self.workdir = None             # a folder of this run's own, here: the backend makes
                                        # it, the teardown removes it
        self.fenced_off = set()         # nodes the stack's fencing switched off (and that
                                        # stay off until repaired: topo/faults clear())

    # -- what a backend provides ------------------------------------------------------
    @abc.abstractmethod
    def build(self):
        """Create the nodes and the hub, and start the hub."""

    @abc.abstractmethod
    def teardown(self):
        """Remove everything build() and the nodes made, also after an interrupt."""

    @abc.abstractmethod
    def __getitem__(self, name):
        """The Node of that name."""

    @abc.abstractmethod
    def cut(self, a, b):
        """Cut the hub's path between two nodes (both still reach every other); the time."""

    @abc.abstractmethod
    def hub_drops(self):
        """{counter: packets} the hub itself dropped so far: its ports, its queues
        ('... queue'), its datapath (topo/network/counters.py)."""

    def hub_lookups(self):
        """The hub's flow cache so far, if it has one: {'hit', 'missed', 'lost'} packets
        (topo/network/counters.py), else None."""
        return None

    @abc.abstractmethod
    def heal(self):
        """Undo every cut; the time."""

    def starve(self, name, share, period_s):
        """The node's processes (the testbed's instruments excepted) get at most `share`
        of one CPU in each `period_s`, the rest of it taken by a busy loop; the time."""
        raise NotImplementedError('the %s backend cannot starve a node' % self.name)

    def feed(self, name):
        """Undo starve(); the time."""
        raise NotImplementedError('the %s backend cannot starve a node' % self.name)

    @abc.abstractmethod
    def cap(self, node):
        """Put the node's processes under the hardware profile's CPU and memory caps."""

    @abc.abstractmethod
    def measure_cpu(self, role):
        """The CPU share a busy loop really gets under the role's cap."""

    @abc.abstractmethod
    def usage(self):
        """What each capped node used so far: CPU seconds, throttling, memory."""

    @abc.abstractmethod
    def cli(self, commands=None, prompt=None, script=None):
        """An interactive shell on the cluster (`NODE command` runs in the node), with
        extra commands (a mixin class taking the network first) and a prompt."""

    # -- lifecycle ----------------------------------------------------------------------
    def start(self):
        t0 = time.monotonic()
        self.build()
        self.timings['network_s'] = time.monotonic() - t0
        if self.config.remote_servers:      # the real servers' network is behind the router
            c = self.config
            routes = [(c.inside_subnet, c.addresses[c.router])] + (
                [(INSIDE_SUBNET6, c.addresses6[c.router])] if c.ipv6 or c.dual_stack else [])
            for node in self.directors + [self.client]:
                for prefix, via in routes:
                    out = node.add_route(prefix, via)
                    if out.strip():
                        raise RuntimeError('%s: route to %s: %s' % (node.name, prefix,
                                                                    out.strip()))
        if self.config.active_active:       # the client is behind the router
            roles.route_through_router(self.config, self[self.config.router], self.client,
                                       self.directors + self.real_servers)
        elif self.config.client_sources:
            # (real servers on the inside reach the clients through their gateway)
            roles.route_client_prefix(self.config, self.client, [
                self[h] for h in self.config.hosts if h != CLIENT and
                not (self.config.servers_inside and h in self.config.real_servers)])
        for server in self.real_servers:
            server.start_web()
        for server in self.real_servers:
            server.wait_web()
        self.timings['start_s'] = time.monotonic() - t0
        if self.stack:
            self.start_ha()
            self.timings['ha_started_s'] = time.monotonic() - t0
        if self.hardware:
            for node in self.directors + self.real_servers:
                self.cap(node)
        return self

    def stop(self):
        try:
            if self.stack:
                self.stack.detach()
        finally:
            self.teardown()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    def boot(self, name):
        """A node switched on again: its services (and its HA stack) as at boot."""
        node = self[name]
        if self.config.ipv6:
            node.settle_dad()
        node.boot()
        if self.stack and name in DIRECTORS:
            self.start_stack(node)
        if self.hardware:
            self.cap(node)

    # -- the HA stack and its instruments -------------------------------------------------
    def start_ha(self):
        """Render the stack's configs, start the monitors, then the daemons (primary first)."""
        self.stack.attach(self)
        self.configs = {name: self.configure(self[name]) for name in DIRECTORS}
        for name in DIRECTORS:
            self.start_monitor(self[name])
        self.start_monitor(self.arp_watcher, '--arp')     # where VIP traffic is sent
        primary, backup = DIRECTORS
        self.start_stack(self[primary])
        if self.stack.backup_waits_for_primary and self.recorder.wait_for(
                lambda r: r.node(primary)['vip'], self.stack.acquire_deadline_s) is None:
            self.log('%s did not take the VIP within %.0fs: starting %s anyway'
                     % (primary, self.stack.acquire_deadline_s, backup))
        self.start_stack(self[backup])

    def configure(self, director):
        """The stack's config files for a director (rendered here); their paths."""
        return self.stack.configure(director)

    def power_off(self, name, links):
        """The node switched off (the paper's fault): its links down first (the network
        sees the PC vanish at once, not after the slow walk through its processes), every
        process killed, its kernel state gone; the time. links(up) sets and records them."""
        node = self[name]
        t = links(False)
        node.kill()
        node.clear_state()
        return t

    def power_on(self, name, links):
        """The node switched on: links up, its services (and HA stack) as at boot; the time."""
        self[name].clear_state()
        t = links(True)
        self.boot(name)
        return t

    def start_stack(self, director):
        if self.config.ipv6:
            director.settle_dad()
        director.fresh_run()
        self.stack.start(director)

    @property
    def arp_watcher(self):
        """The node whose ARP entry for the takeover address says where the VIP's
        traffic goes: the client's, or active/active the router's (its ECMP route's
        next hop for laicoz)."""
        return self[self.config.router] if self.config.active_active else self.client

    def start_monitor(self, node, *extra):
        args = ['--vip', self.config.takeover_address] + list(extra)
        if node.role == 'director' and self.config.nat:
            args += ['--gateway', self.config.gateway]
        if node.role == 'director':     # dual stack: the other family's VIP (or next
            for address in self.config.companions:      # hop) and gateway
                args += ['--also', address]
        if node.role == 'director':
            for log in self.stack.logs(node):
                args += ['--log', log]
        self.instrument(node, 'topo.agents.monitor', *args)
        if self.recorder.wait_for(lambda r: r.node(node.name)['ready'], 60) is None:
            raise RuntimeError('%s: the monitor did not start' % node.name)

    def machines(self):
        """Each machine's kernel and clock, for the summary (None: the nodes share the
        testbed's own kernel and clock)."""
        return None

    def probe_machines(self, period):
        """Start a speed agent (topo/agents/speed.py) on each machine of the cluster that
        has a kernel of its own, for the run's fidelity; whether it did. The emulation's
        nodes share the testbed's kernel, which the fidelity monitor probes itself."""
        return False

    def instrument(self, node, module, *args, name=None):
        """Start an agent that is the testbed's instrument (a power-off spares it);
        its events go to the recorder under `name` (default: the node's)."""
        proc = node.agent(module, *args)
        node.instruments.append(proc)
        self.recorder.attach(name or node.name, proc, node.clock_offset_s)
        return proc

    @property
    def stage_file(self):
        """Where the client's prober reads the run's stage (each request's label)."""
        return self.workdir / 'stage'

    def set_stage(self, label):
        self.stage_file.write_text(label)

    # -- nodes ------------------------------------------------------------------------------
    def director(self, name=PRIMARY):
        return self[name]

    @property
    def directors(self):
        return [self[d] for d in DIRECTORS]

    @property
    def real_servers(self):
        return [self[r] for r in self.config.real_servers]

    @property
    def client(self):
        return self[CLIENT]

    @property
    def nodes(self):
        return [self[h] for h in self.config.hosts]

    def url(self, path='/'):
        return 'http://%s%s' % (self.config.service, path)

    # -- the hardware profile, measured ----------------------------------------------------
    def measure_link(self, server=None, megabytes=4):
        """The rate (Mbit/s) a bulk download from a real server to the client really gets."""
        server = server or self.real_servers[0]
        (server.nginx.dir / 'bulk.bin').write_bytes(b'\0' * (megabytes << 20))
        out = self.client.cmd('curl -s -o /dev/null -m 120 -w "%%{speed_download}" '
                              'http://%s:%d/bulk.bin' % (server.address(), self.config.port))
        try:
            return round(float(out.strip().replace(',', '.')) * 8 / 1e6, 2)
        except ValueError:
            raise RuntimeError('link measurement failed: %s' % out.strip()[:200])
