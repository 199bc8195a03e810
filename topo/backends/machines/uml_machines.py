"""Machines of their own on this host, to try the real-machine path here (issue 15):
one User-Mode-Linux kernel per machine, so each has its own kernel (IPVS in it), a
real power-off (its kernel killed), the host's filesystem under a private overlay
(writes land in its own tmpfs: the host's files never change), its LAN on a host
bridge that floods like the paper's hub, and a management network from this host
(192.168.77.0/24) over which SSH reaches it. `up` writes their inventory
(topo/backends/machines/inventory.py), with the commands that switch each off and on and pull its cable.
"""
import ipaddress
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from topo.kernels import uml_kernels
from topo.kernels.uml import describe  # noqa: F401 (machines.py names their kernel)
from topo.kernels.native import MODULES
from topo.network.config import ConfigError, host_number, readable6

STATE = Path('/var/tmp/hatestbed-machines')
LAN, MGMT = 'hatb-lan', 'hatb-mgmt'
MGMT_SUBNET = ipaddress.ip_network('192.168.77.0/24')
HOST_MGMT = '192.168.77.1'
MEM_MB = 384
DISK_MB = 1024          # each machine's own disk: what it writes survives its power-off
READY_S = 180


def tap(name, net):
    return 'hatb-%s-%s' % (name, 'l' if net == LAN else 'm')


def sh(*args, check=True):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if check and p.returncode:
        raise RuntimeError('%s: %s' % (' '.join(args), p.stdout.strip()))
    return p.stdout


class Machines:
    """The cluster's machines (a ClusterConfig's hosts), each a UML kernel."""

    def __init__(self, config, state=STATE, kernel=None):
        """kernel: a uml_kernels.UMLKernel (up); else the one the machines were booted with."""
        self.config, self.state = config, Path(state)
        self._kernel = kernel

    @property
    def kernel(self):
        if self._kernel is None:
            try:
                saved = json.loads((self.state / 'kernel.json').read_text())
                self._kernel = uml_kernels.UMLKernel(**saved)
            except (OSError, ValueError, TypeError):
                self._kernel = uml_kernels.choose('auto')
        return self._kernel

    def address6(self, name):
        """Its IPv6 address on the LAN, which reads as its IPv4 one (as in the emulation)."""
        return readable6(ipaddress.ip_network(self.config.subnet6),
                         host_number(self.config.addresses[name]))

    def mgmt_address(self, name):
        return str(MGMT_SUBNET.network_address + 2 + self.config.hosts.index(name))

    # -- up and down ------------------------------------------------------------------
    def check_free(self):
        """ConfigError before anything starts: machines up already, or this host's own
        networks overlapping the machines'."""
        if self.state.exists():
            raise ConfigError('machines are up already (%s): take them down first' % self.state)
        routes = sh('ip', '-4', 'route', 'show')
        for net in (MGMT_SUBNET, ipaddress.ip_network(self.config.subnet)):
            for line in routes.splitlines():
                try:
                    dest = ipaddress.ip_network(line.split()[0], strict=False)
                except ValueError:      # default, blackhole, ...
                    continue
                if dest.overlaps(net):
                    raise ConfigError('this host routes %s already (%s): the machines need it'
                                      % (net, line.strip()))

    def up(self, inventory_path):
        self.check_free()
        self.state.mkdir(mode=0o700, parents=True)
        (self.state / 'config.json').write_text(json.dumps({'servers': self.config.servers}))
        # power-on boots what up booted
        (self.state / 'kernel.json').write_text(json.dumps(self.kernel.__dict__))
        try:
            sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'hatestbed-machines',
               '-f', str(self.state / 'id_ed25519'))
            for bridge in (LAN, MGMT):
                sh('ip', 'link', 'add', bridge, 'type', 'bridge', 'ageing_time', '0')
                sh('ip', 'link', 'set', bridge, 'up')
            sh('ip', 'addr', 'add', '%s/%d' % (HOST_MGMT, MGMT_SUBNET.prefixlen), 'dev', MGMT)
            for name in self.config.hosts:
                disk = self.state / ('%s.disk' % name)
                with open(disk, 'wb') as f:
                    f.truncate(DISK_MB << 20)
                sh('mkfs.ext4', '-q', '-F', '-L', name, str(disk))
                for net in (LAN, MGMT):
                    sh('ip', 'tuntap', 'add', 'dev', tap(name, net), 'mode', 'tap')
                    sh('ip', 'link', 'set', tap(name, net), 'master', net, 'up')
                self.boot(name)
            self.wait_ready()
            self.write_inventory(inventory_path)
        except BaseException:
            self.down()
            raise

    def down(self):
        """Every machine killed, every tap and bridge removed, the state gone."""
        for name in self.config.hosts:
            self.kill(name)
        for name in self.config.hosts:
            for net in (LAN, MGMT):
                sh('ip', 'link', 'del', tap(name, net), check=False)
        for bridge in (LAN, MGMT):
            sh('ip', 'link', 'del', bridge, check=False)
        if self.state.exists():
            import shutil
            shutil.rmtree(self.state, ignore_errors=True)

    # -- one machine ------------------------------------------------------------------
    def boot(self, name):
        init = self.state / ('%s.init' % name)
        init.write_text(self.init_script(name))
        os.chmod(init, 0o700)
        console = open(self.state / ('%s.console' % name), 'ab')
        proc = subprocess.Popen(
            [self.kernel.binary, 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw',
             'mem=%dM' % MEM_MB, 'init=%s' % init, 'con=null', 'con0=fd:0,fd:1', 'quiet',
             'umid=hatb-%s' % name, 'uml_dir=%s' % self.state,
             'ubd0=%s' % (self.state / ('%s.disk' % name)),
             self.kernel.tap_arg(0, tap(name, LAN)), self.kernel.tap_arg(1, tap(name, MGMT))]
            + self.kernel.boot_args(),
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True, env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin',
                                         'TMPDIR': uml_kernels.memory_dir(self.state)})
        (self.state / ('%s.pid' % name)).write_text(str(proc.pid))

    def kill(self, name):
        """A power-off: the machine's kernel (its process group) killed."""
        pid_file = self.state / ('%s.pid' % name)
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pid_file.unlink()

    def init_script(self, name):
        """PID 1 of the machine: the host's / under an overlay whose upper layer is the
        machine's own disk (what it writes stays its own, across power cycles), then its
        boot: addresses, its own SSH host key (made at its first boot), sshd."""
        release = '$(uname -r)'
        modules = self.kernel.modules_root
        # a vector driver's vecN is named ethN, as the legacy driver's (and the inventory's)
        names = '\n'.join('ip link set %s name eth%d' % (self.kernel.iface(i), i)
                          for i in (0, 1) if self.kernel.iface(i) != 'eth%d' % i)
        mods = ' '.join(['overlay'] + MODULES + ['fou', 'ip_gre', 'nf_conntrack', 'nf_tables'])
        address = self.config.addresses[name]
        return f"""#!/bin/sh
# PID 1 of machine {name} (generated by topo/backends/machines/uml_machines.py)
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /mnt
mkdir -p /mnt/disk /mnt/root /mnt/mod/lib/modules/{release}
mount --bind {modules}/{release} /mnt/mod/lib/modules/{release}
for m in ext4 {mods}; do /sbin/modprobe -d /mnt/mod $m; done
mount /dev/ubda /mnt/disk
mkdir -p /mnt/disk/upper /mnt/disk/work
mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/disk/upper,workdir=/mnt/disk/work /mnt/root
R=/mnt/root
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev 2>/dev/null || mount --bind /dev $R/dev
mkdir -p $R/dev/pts && mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
# as a booted Debian has it (systemd mounts it): POSIX shared memory, e.g. libqb's IPC
mkdir -p $R/dev/shm && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm
mount -t tmpfs tmpfs $R/run
# cgroup v2, as systemd mounts it: a starved machine's cap (the starve fault)
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
mount -t tmpfs tmpfs $R/tmp
# its kernel's modules where modprobe looks for them, as on any machine
mkdir -p $R/lib/modules/{release} && mount --bind {modules}/{release} $R/lib/modules/{release}
# root's home is the machine's own, not this host's (whose shell start-up files it would run)
mkdir -p /mnt/disk/root && chmod 700 /mnt/disk/root && mount --bind /mnt/disk/root $R/root
{names}
exec chroot $R /bin/sh -c '
hostname {name}
ip link set lo up
ip link set eth0 up && ip addr add {address}/{self.config.prefixlen} brd + dev eth0
ip -6 addr add {self.address6(name)}/64 dev eth0 nodad
ip link set eth1 up && ip addr add {self.mgmt_address(name)}/{MGMT_SUBNET.prefixlen} dev eth1
mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh
cp {self.state}/id_ed25519.pub /root/.ssh/authorized_keys
if [ ! -f /etc/ssh/.own-host-key ]; then
  rm -f /etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key && touch /etc/ssh/.own-host-key
fi
/usr/sbin/sshd -o HostKey=/etc/ssh/ssh_host_ed25519_key -o UsePAM=no \\
  -o PermitRootLogin=prohibit-password -o ListenAddress={self.mgmt_address(name)}
exec /usr/bin/python3 -c "
import os
while True:
    try:
        os.wait()
    except ChildProcessError:
        import time; time.sleep(1)
"'
"""

    # -- reaching them ------------------------------------------------------------------
    def ssh_args(self, name):
        return ['ssh', '-i', str(self.state / 'id_ed25519'), '-o', 'BatchMode=yes',
                '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=5',
                '-o', 'UserKnownHostsFile=%s' % (self.state / 'known_hosts'),
                'root@%s' % self.mgmt_address(name)]

    def run(self, name, command, timeout=60):
        return subprocess.run(self.ssh_args(name) + [command], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=timeout)

    def wait_ready(self, timeout=READY_S):
        end = time.monotonic() + timeout
        waiting = list(self.config.hosts)
        while waiting and time.monotonic() < end:
            waiting = [n for n in waiting if self.run(n, 'hostname', 30).stdout.strip() != n]
            if waiting:
                time.sleep(2)
        if waiting:
            raise RuntimeError('no SSH answer within %ds from %s (consoles in %s)'
                               % (timeout, ', '.join(waiting), self.state))

    def write_inventory(self, path):
        import yaml
        from topo.network.config import CLIENT, DIRECTORS
        me = '%s %s' % ('/usr/bin/python3', Path(__file__).resolve().parents[3] /
                        'experiments' / 'machines.py')

        def host(name):
            return {'ansible_host': self.mgmt_address(name), 'address': self.config.addresses[name],
                    'address6': self.address6(name), 'interface': 'eth0',
                    'power_off': '%s power-off %s' % (me, name),
                    'power_on': '%s power-on %s' % (me, name)}
        # No link_down/link_up: the host's end of a machine's cable (its tap) set down
        # leaves the machine's NIC up (UML signals no carrier), a blocked switch port,
        # not a pulled cable: keepalived stays MASTER through it and sends no gratuitous
        # ARP when it comes back (measured: 18.8 s of failed requests after the plug). The
        # cable is pulled inside the machine instead, where its NIC goes down.
        data = {'all': {
            'vars': {'cluster': {'vip': self.config.vip, 'subnet': self.config.subnet,
                                 # (the service in IPv6: --vip this, or --dual-stack)
                                 'vip6': self.config.other_vip(),
                                 'subnet6': self.config.subnet6},
                     'ansible_ssh_private_key_file': str(self.state / 'id_ed25519'),
                     'ansible_ssh_common_args': '-o UserKnownHostsFile=%s -o '
                     'StrictHostKeyChecking=accept-new' % (self.state / 'known_hosts')},
            'children': {
                'directors': {'hosts': {d: host(d) for d in DIRECTORS}},
                'real_servers': {'hosts': {r: host(r) for r in self.config.real_servers}},
                'clients': {'hosts': {CLIENT: host(CLIENT)}}}}}
        Path(path).write_text('# the machines of `machines.py up` (topo/backends/machines/uml_machines.py)\n'
                              + yaml.safe_dump(data, sort_keys=False))
