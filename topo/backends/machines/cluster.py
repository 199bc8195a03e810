"""The cluster on machines of an inventory (topo/backends/machines/inventory.py), reached over SSH from
this, the control node. The machines run what the deployment installed; a run
starts from a clean state (the stack and the web servers stopped, the kernel's
IPVS table and VIP cleared), then boots the services as the Mininet backend does."""
import shlex
import shutil
import threading
import time
from pathlib import Path

from topo.backends import MACHINES, Network, register
from topo.backends.machines.connection import Connection
from topo.backends.machines.nodes import HEAL_DEADLINE_S, Client, Director, RealServer, run_local
from topo.backends.machines.paths import CONFIGS_CHANGED
from topo.backends.machines import selfheal
from topo.kernels import run_id
from topo.network.config import DIRECTORS

PARTITION = 'hatb-partition'       # the iptables chain of a partition


def partition_rules(peer, interface='eth0'):
    """Rules that drop everything from the peer as it arrives, IP and ARP (an IP-only
    rule lets ARP and gratuitous ARP through, which changes what the client sees); both
    directors get them, so both ways are cut. On arrival, never on sending: a sender's
    own drop (iptables OUTPUT, tc egress) fails its sendmsg (EPERM, ENOBUFS), which no
    cut cable or switch does, and Corosync's knet, given those errors, did not form its
    membership of one in an 8 s partition of machines (token 1 s; the emulation's hub
    drops silently and it formed within token + consensus). The legacy x_tables where
    the kernel has them (IP in a chain of its own, so the undo removes only it: Debian
    12's kernels, UML's 6.1 included, whose nf_tables has no ip, inet or arp family),
    else tc on the LAN interface (clsact, flower, drop: UML 7.2 has neither legacy
    x_tables nor nf_tables for IPv4 or ARP). Then the machine's time."""
    legacy = ('iptables-legacy -N {c} 2>/dev/null && iptables-legacy -A {c} -s {p} -j DROP && '
              'iptables-legacy -I INPUT -j {c} && arptables-legacy -I INPUT -s {p} -j DROP')
    tc = ('tc qdisc add dev {i} clsact && '
          'tc filter add dev {i} ingress protocol ip flower src_ip {p} action drop && '
          'tc filter add dev {i} ingress protocol arp flower arp_sip {p} action drop')
    legacy, tc = (r.format(c=PARTITION, p=peer, i=interface) for r in (legacy, tc))
    return '{ %s; } || { %s; } && %s' % (legacy, tc, NOW)


def partition_undo(peer, interface='eth0'):
    """Every rule of partition_rules removed, whichever kind it was (each as often as it
    may be there); the machine's time once the path is open again, then the clean-up."""
    deletes = ('iptables-legacy -D INPUT -j {c}; iptables-legacy -D OUTPUT -j {c}; '
               'arptables-legacy -D INPUT -s {p} -j DROP; '
               'arptables-legacy -D OUTPUT -d {p} -j DROP; '
               'tc qdisc del dev {i} clsact'.format(c=PARTITION, p=peer, i=interface))
    return ('{{ {d}; }} 2>/dev/null; {now}; {{ {d}; iptables-legacy -F {c}; '
            'iptables-legacy -X {c}; }} 2>/dev/null; true'.format(d=deletes, now=NOW,
                                                                  c=PARTITION))


NOW = 'date +%s.%N'     # the machine's clock, when its rules took effect

STARVED = '/sys/fs/cgroup/hatestbed-starved'    # a starved machine's processes' group
STARVED_STATE = '/run/hatestbed-starved'        # each one's own group; .loop: the loop's pid


def starve_command(pids, share, period_s):
    """A shell command for a machine: as the emulation starves a node
    (topo/faults/starve.py), its processes `pids` (SSH and the testbed's agents are not
    among them) into a cgroup of their own capped at share x period of one CPU, a busy
    loop beside them taking the rest (FEED undoes it). cgroup v2 with its cpu controller,
    as systemd mounts it (Debian 11 and later); without it the command says so and moves
    nothing (preflight.starvable refuses such a machine before start).
    Each moved process's group is read with the shell's own `read`: a process start per
    process would cost seconds on a slow machine."""
    quota, period = max(1000, int(share * period_s * 1e6)), int(period_s * 1e6)
    do = ('C=/sys/fs/cgroup G={g} S={s}; '
          'if ! grep -qw cpu $C/cgroup.controllers 2>/dev/null; then '
          'echo "no cgroup v2 with its cpu controller at $C"; else '
          'grep -qw cpu $C/cgroup.subtree_control || echo +cpu > $C/cgroup.subtree_control; '
          'mkdir -p $G && echo "{q} {p}" > $G/cpu.max && : > $S && '
          'for p in {pids}; do read -r o < /proc/$p/cgroup && echo $p > $G/cgroup.procs && '
          'echo "$p ${{o#0::}}" >> $S; done 2>/dev/null; '
          "setsid sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & "
          'echo $! > $G/cgroup.procs; echo $! > $S.loop; fi'
          ).format(g=STARVED, s=STARVED_STATE, q=quota, p=period,
                   pids=' '.join(str(int(p)) for p in pids))
    return do


# every starved process back in the group it came from (one born meanwhile: the root's),
# the loop ended
FEED = ('C=/sys/fs/cgroup G={g} S={s}; if [ -d $G ]; then echo max > $G/cpu.max; '
        '[ -f $S.loop ] && read -r h < $S.loop && kill $h; '
        '[ -f $S ] && while read -r p o; do echo $p > $C$o/cgroup.procs; done < $S; '
        'for i in 1 2 3 4 5 6 7 8 9 10; do '
        'while read -r p; do echo $p > $C/cgroup.procs; done < $G/cgroup.procs; '
        'rmdir $G && break; sleep 0.1; done; fi 2>/dev/null; rm -f $S $S.loop'
        ).format(g=STARVED, s=STARVED_STATE)


def machine_time(node, out, what):
    """The control node's time of the moment a machine printed its clock (the last line
    of out; anything before it is an error)."""
    lines = out.strip().splitlines()
    try:
        t = float(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError('%s: %s: %s' % (node.name, what, out.strip() or 'no answer'))
    if lines[:-1]:
        raise RuntimeError('%s: %s: %s' % (node.name, what, ' '.join(lines[:-1])))
    return t - node.clock_offset_s


@register
class MachineNetwork(Network):
    name = MACHINES
    floods = False          # real machines' switch learns addresses: only answers prove it
    torn_down = "the testbed's agents and faults were removed from the machines"

    @classmethod
    def check(cls, plan):
        from topo.backends.machines import preflight
        preflight.check(plan)

    @classmethod
    def describe(cls, plan):
        return 'machines of %s, over SSH' % plan.target.path

    def __init__(self, config, **kwargs):
        Network.__init__(self, config, **kwargs)
        if self.inventory is None:
            raise ValueError('the machines backend needs an inventory (--target)')
        if self.stack:      # configs it renders here (a growth) carry the deployment's secret
            from topo.backends.machines import deployment
            self.stack.on_machines = True
            deployment.stable_secret(deployment.state_dir(self.inventory.path), self.stack)
        self.workdir = Path('/run/hatestbed.%s' % run_id())
        self.workdir.mkdir(mode=0o700)
        self.log_dir = Path(self.log_dir or self.workdir)
        self.connections, self.nodes_by_name = {}, {}
        self.restarts = {}          # node -> the instruments to start again after a power-on
        self.cut_pair = None
        self.down = set()           # machines switched off
        self.forwards = {}          # machine -> [(its socket, this node's)]: forward_socket

    # -- build and teardown -------------------------------------------------------------
    def build(self):
        t0 = time.monotonic()
        inv, cfg = self.inventory, self.config
        control = self.workdir / 'ssh'
        control.mkdir(mode=0o700)
        for name, machine in inv.machines.items():
            self.connections[name] = Connection(machine, control, inv.ssh_key, inv.ssh_args)
        self._each(lambda c: c.open(), self.connections.values())
        cache = self.workdir / 'files'
        for name, machine in inv.machines.items():
            conn = self.connections[name]
            if machine.role == 'director':
                node = Director(machine, conn, cache, vip=cfg.vip,
                                gateway=cfg.gateway if cfg.nat else None, vips=cfg.vips)
            elif machine.role == 'real server':
                node = RealServer(machine, conn, cache, vip=cfg.vip, web_port=cfg.port,
                                  forwarding=cfg.forwarding, gateway=cfg.gateway,
                                  tun_type=cfg.tun_type, vips=cfg.vips)
            else:
                node = Client(machine, conn, cache)
            self.nodes_by_name[name] = node
        # (that the directors run what the run asks for: preflight.deployed, before the start)
        self.timings['connect_s'] = time.monotonic() - t0
        self._each(self._measure_clock, self.nodes)
        # stacks stopped everywhere before any neighbour entry is flushed: a director's
        # stack stopping hands the VIP to its peer, whose gratuitous ARP, after the
        # client's flush, left the client's entry on a director about to drop the VIP
        # (one failed request in the smoke after a keepalived run, one CI run)
        self._each(self._stop, self.nodes)
        self._each(self._reset, self.nodes)
        self.timings['reset_s'] = time.monotonic() - t0

    def _measure_clock(self, node):
        node.clock = node.conn.clock_offset()
        node.release = node.cmd('uname -r').strip()

    def _stop(self, node):
        """As after a boot: the testbed's agents, the stack and the web server stopped,
        no fault left in place, the kernel's IPVS table and addresses cleared."""
        node.cmd(self.undo_all(node))
        node.node_script('stop')
        node.clear_state()

    def _reset(self, node):
        """Once every node stopped: no neighbour entry on the LAN (a client's ARP entry for
        the VIP pointing at the director that held it in the last run failed the next
        run's first request), the deployed configs and the real servers as at boot."""
        node.cmd('ip neigh flush dev %s' % node.machine.interface)
        if node.role == 'director' and self.stack and \
                node.cmd('test -e %s && echo yes' % CONFIGS_CHANGED).strip():
            self.deployed_configs(node)
        if node.role == 'real server':     # (its VIP, as at boot: the web server follows)
            node.set_web_version(1)         # (a rolling upgrade's left the next one)
            node.configure_forwarding()

    def teardown(self):
        """The testbed's agents stopped and its faults undone on every machine reached;
        the services stay as the run left them (they are the deployment's), except after
        a static service, which stood in for the deployed stack: that one is back."""
        for name, node in self.nodes_by_name.items():
            node.stop_helpers()
            if name in self.down:
                continue
            try:
                node.conn.run(self.undo_all(node) + ''.join(
                    '; rm -f %s' % shlex.quote(remote) for remote, _ in
                    self.forwards.get(name, [])), timeout=30)
                if self.stack is None and node.role == 'director':
                    node.clear_state()
                    node.node_script('start')
            except Exception as e:
                self.log('teardown: %s: %s' % (name, e))
        for conn in self.connections.values():
            conn.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def undo_all(self, node):
        """A shell command for the node: the testbed's agents stopped, its faults undone."""
        peer = [d for d in DIRECTORS if d != node.name][0] if node.name in DIRECTORS \
            else None
        return ("pkill -f 'python3 -m topo[.]agents' 2>/dev/null; " +
                selfheal.clear('starve', FEED) + '; ' +
                selfheal.clear('link', 'ip link set %s up' % node.machine.interface) +
                ('; ' + selfheal.clear('partition', partition_undo(self[peer].address()))
                 if peer else ''))

    @staticmethod
    def _each(fn, items):
        """fn on every item at once (one SSH round trip costs the slowest machine once)."""
        errors = []

        def one(item):
            try:
                fn(item)
            except Exception as e:
                errors.append(e)
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in items]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def __getitem__(self, name):
        return self.nodes_by_name[name]

    def machines(self):
        """Each machine's kernel and clock offset, for the summary."""
        return {n.name: {'kernel_release': getattr(n, 'release', None),
                         'clock': n.clock.as_dict() if n.clock else None}
                for n in self.nodes}

    # -- the HA stack: deployed, started here ---------------------------------------------
    def configure(self, director):
        """The deployment's config files, as the machine has them (its secrets left out)."""
        secret = {p for d in self.stack.daemons(director) for p in d.secret_files}
        return [director.private(p) for d in self.stack.daemons(director)
                for p in d.templates.values() if p not in secret]

    def deployed_configs(self, director):
        """The stack's configs for the deployed service, rendered and written back (by a
        copy of the stack: both directors are reset at once, the run's keeps its own)."""
        import copy
        deployed = copy.copy(self.stack)
        deployed.in_service = None
        for d in deployed.daemons(director):
            d.render_configs()
        director.cmd('rm -f %s' % CONFIGS_CHANGED)

    def start_stack(self, director):
        if self.stack.in_service is not None:   # a growth starts with part of the service
            for d in self.stack.daemons(director):
                d.render_configs()
        director.node_script('start')

    def instrument(self, node, module, *args, name=None):
        self.restarts.setdefault(node.name, []).append((module, args, name))
        return Network.instrument(self, node, module, *args, name=name)

    def probe_machines(self, period):
        for node in self.nodes:     # (started again after a power-on, as every instrument)
            self.instrument(node, 'topo.agents.speed', '--period', period)
        return True

    stage_file = '/run/hatestbed-stage'     # on the client machine

    def set_stage(self, label):
        self.client.cmd('printf %%s %s > %s' % (shlex.quote(label), self.stage_file))

    # -- power and the hub ----------------------------------------------------------------
    def power_off(self, name, links):
        """The inventory's power_off; the machine holds nothing from then on."""
        node = self[name]
        cmd = self.inventory.command('power-off', name)
        run_local(cmd)
        t = time.time()         # off once its command returned (a fence agent confirms)
        self.down.add(name)
        node.stop_helpers()
        node.conn.close()
        if self.recorder:
            self.recorder.note(name, 'link', t=t, up=False)
            if node.role == 'director':         # its monitor died with it
                self.recorder.note(name, 'vip', t=t, held=False)
                self.recorder.note(name, 'ipvs', t=t, table={})
        return t

    def power_on(self, name, links):
        """The inventory's power_on, the machine back on SSH, then its boot."""
        node = self[name]
        machine = self.inventory.machines[name]
        run_local(self.inventory.machines[name].commands['power_on'])
        t = time.time()
        end = time.monotonic() + 300
        while True:
            try:
                node.conn.open()
                break
            except RuntimeError:
                if time.monotonic() > end:
                    raise RuntimeError('%s did not answer SSH within 300 s of its power-on'
                                       % name)
                time.sleep(2)
        self.down.discard(name)
        for remote, local in self.forwards.get(name, []):
            node.conn.forward_socket(remote, local)
        if self.recorder:
            self.recorder.note(name, 'link', t=time.time(), up=True)
        node.cmd('ip link set %s up' % machine.interface)
        for module, args, label in self.restarts.pop(name, []):
            self.instrument(node, module, *args, name=label)
        self.boot(name)
        return t

    def forward_socket(self, names, remote, local):
        """A socket of this node's (a fence agents' power switch) at `remote` on each
        machine named, through its SSH connection, again after each power-on."""
        for name in names:
            self.forwards.setdefault(name, []).append((remote, local))
            self[name].conn.forward_socket(remote, local)

    def cut(self, a, b):
        """Both directors drop each other, at once (one SSH round trip each, in parallel):
        the path is cut once the first has its rules (each drops both ways); the time."""
        done = {}

        def rules(pair):
            x, y = pair
            peer, lan = self[y].address(), self[x].interfaces()[0]
            done[x] = machine_time(self[x], self[x].cmd(selfheal.inject(
                'partition', partition_rules(peer, lan), partition_undo(peer, lan),
                HEAL_DEADLINE_S)), 'partition rules')
        self.cut_pair = (a, b)
        self._each(rules, [(a, b), (b, a)])
        return min(done.values())

    def heal(self):
        """Both directors' rules removed at once; healed when the last one's are gone."""
        done = {}

        def undo(pair):
            x, y = pair
            done[x] = machine_time(self[x], self[x].cmd(selfheal.clear(
                'partition', partition_undo(self[y].address(), self[x].interfaces()[0]))),
                'partition undone')
        a, b = self.cut_pair or DIRECTORS
        # (a director switched off meanwhile, fenced: its rules went with its kernel)
        self._each(undo, [(x, y) for x, y in ((a, b), (b, a)) if x not in self.down])
        self.cut_pair = None
        return max(done.values()) if done else time.time()

    def hub_drops(self):
        return {}       # the machines' switch is not the testbed's to read

    def starve(self, name, share, period_s):
        node = self[name]
        do = starve_command(node.processes(), share, period_s)
        return machine_time(node, node.cmd(selfheal.inject('starve', do, FEED, HEAL_DEADLINE_S)
                                           + '; ' + NOW), 'starved')

    def feed(self, name):
        node = self[name]
        return machine_time(node, node.cmd(selfheal.clear('starve', FEED)
                                           + '; ' + NOW), 'fed')

    def cap(self, node):
        raise RuntimeError('hardware profiles are emulated caps: not on real machines')

    def measure_cpu(self, role):
        raise RuntimeError('hardware profiles are emulated caps: not on real machines')

    def usage(self):
        return {}

    def cli(self, commands=None, prompt=None, script=None):
        raise RuntimeError('the interactive lab runs on the emulation only')

