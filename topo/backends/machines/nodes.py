"""The cluster's machines reached over SSH: the primitives of topo/backends.Node, with
the roles of topo/network/roles.py on top. What runs on a machine is what the
deployment (deploy/, experiments/deploy.py) put there (paths.py): the testbed's agents
and one script, the node script, that starts and stops the machine's services."""
import shlex
import subprocess
import time
from pathlib import Path

from topo.backends import Node
from topo.backends.machines import selfheal
from topo.backends.machines.paths import (AGENTS, CONFIGS_CHANGED, NGINX_CONF, NODE_SCRIPT,
                                          REALSERVER_SCRIPT, WEB)
from topo import render
from topo.network.config import SCHEDULER_MODULES
from topo.network import roles, webserver

NOFILE = webserver.CONNECTIONS * 4         # as raise_limits gives a local program

# a fault the control node set in a machine undoes itself after this long even if
# nothing ever reaches the machine again (selfheal); clear() undoes it at once
HEAL_DEADLINE_S = 900


class SSHNode(Node):
    def __init__(self, machine, connection, cache_dir):
        self.name, self.machine, self.conn = machine.name, machine, connection
        self.cache = Path(cache_dir) / machine.name     # copies of the machine's files
        self.instruments = []
        self.helpers = []
        self.clock = None               # topo.analysis.clocks.Offset, measured at build
        self._mac = None

    @property
    def clock_offset_s(self):
        return self.clock.offset_s if self.clock else 0.0

    # -- the primitives -------------------------------------------------------------------
    def cmd(self, *args):
        return self.conn.run(' '.join(str(a) for a in args)).stdout

    @staticmethod
    def _limits(kwargs):
        """A preexec_fn (raise_limits) would run here, in the ssh process: the limit that
        counts is the machine's, raised there (the load lab's thousands of connections)."""
        return 'ulimit -n %d 2>/dev/null; ' % NOFILE if kwargs.pop('preexec_fn', None) else ''

    def popen(self, argv, **kwargs):
        proc = self.conn.popen(self._limits(kwargs) + 'exec ' +
                               ' '.join(shlex.quote(str(a)) for a in argv), **kwargs)
        self.helpers.append(proc)
        return proc

    def agent(self, module, *args, **popen_args):
        popen_args.setdefault('stdout', subprocess.PIPE)
        popen_args.setdefault('stderr', subprocess.STDOUT)
        remote = '%scd %s && PYTHONPATH=%s PYTHONUNBUFFERED=1 exec python3 -m %s %s' % (
            self._limits(popen_args), AGENTS, AGENTS, module,
            ' '.join(shlex.quote(str(a)) for a in args))
        proc = self.conn.popen(remote, universal_newlines=True, **popen_args)
        proc.module = module        # (stop_agent finds it on the machine by it)
        self.helpers.append(proc)
        return proc

    def stop_agent(self, proc, timeout=60):
        # a signal to the local ssh would end the session, not tell the agent: the agent
        # itself is signalled, on the machine, and its last lines still come through
        self.cmd('pkill -TERM -f %s' % shlex.quote('python3 -m %s( |$)'
                                                   % proc.module.replace('.', '[.]')))
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def interfaces(self):
        return [self.machine.interface]

    def address(self):
        return self.machine.address

    def mac(self):
        if self._mac is None:
            self._mac = self.cmd('cat /sys/class/net/%s/address' % self.machine.interface).strip()
        return self._mac

    def set_links(self, up, lan_only=False):
        """The inventory's link command when it has one (a switch port, the host's end of
        a virtual cable), else the interface inside the machine, healing by itself."""
        key = 'link_up' if up else 'link_down'
        if key in self.machine.commands:
            run_local(self.machine.commands[key])
            t = time.time()
        else:
            iface = self.machine.interface
            do, undo = 'ip link set %s down' % iface, 'ip link set %s up' % iface
            out = self.cmd(selfheal.clear('link', undo) if up else
                           selfheal.inject('link', do, undo, HEAL_DEADLINE_S))
            t = time.time()
            if out.strip():
                raise RuntimeError('%s: links %s: %s' % (self.name, 'up' if up else 'down',
                                                         out.strip()))
        if up:
            self.restore_routes()
        return t

    def processes(self, names=None):
        """PIDs of the machine's processes: the testbed's hand aside (its agents, SSH,
        the timers of self-healing faults), and the kernel's threads and PID 1."""
        out = self.cmd("ps -e -o pid=,comm=,args= | grep -v -e 'topo[.]agents' -e 'sshd[:]' "
                       "-e %s" % selfheal.STATE)
        pids = []
        for line in out.splitlines():
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].isdigit() or parts[0] == '1' or \
                    parts[1] == 'sshd' or parts[2:3] and parts[2].startswith('['):
                continue
            args = parts[2].split() if len(parts) > 2 else []
            name = parts[1]
            if name.startswith(('perl', 'python', 'sh', 'bash')) and len(args) > 1:
                name = args[1]
            if names is None or name in names:
                pids.append(int(parts[0]))
        return pids

    def signal(self, sig, pids):
        if pids:
            self.cmd('kill -%d %s 2>/dev/null' % (int(sig), ' '.join(map(str, pids))))

    def kill(self, names=None, keep_instruments=True):
        pids = self.processes(names)
        for sig in (19, 9):         # SIGSTOP, SIGKILL: as Node.kill
            self.signal(sig, pids)
        return pids

    def set_loss(self, percent):
        """netem on what the machine sends on its LAN interface (a machine has no hub end
        to shape the other way)."""
        iface = self.machine.interface
        out = self.cmd(('tc qdisc replace dev %s root netem loss %g%%' % (iface, percent))
                       if percent else 'tc qdisc del dev %s root 2>/dev/null' % iface)
        if percent and out.strip():
            raise RuntimeError('netem on %s of %s: %s' % (iface, self.name, out.strip()))

    def private(self, path):
        """A copy of the machine's file at `path`, fetched now (for reading)."""
        local = self.cache / path.lstrip('/')
        local.parent.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(self.conn.command('cat %s' % shlex.quote(path)),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, timeout=120)
        if p.returncode == 0:
            local.write_bytes(p.stdout)
        return str(local)

    def take_file(self, path):
        p = self.conn.run('cat %s 2>/dev/null; rm -f %s' % (shlex.quote(str(path)),
                                                          shlex.quote(str(path))), timeout=300)
        return p.stdout

    def put(self, path, data, changed=''):
        """The machine's file at `path` replaced by data where it differs (its mode and
        owner kept); the shell command `changed` run when it did."""
        p = subprocess.run(self.conn.command(
            'f=%s; cat > $f.new && if cmp -s $f $f.new; then rm $f.new; else '
            'chmod --reference=$f $f.new 2>/dev/null; chown --reference=$f $f.new '
            '2>/dev/null; mv $f.new $f %s; fi' % (shlex.quote(path),
                                                  changed and '&& ' + changed)),
            input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode or p.stdout.strip():
            raise RuntimeError('%s: writing %s: %s' % (self.name, path,
                                                      p.stdout.decode(errors='replace').strip()))

    def publish(self, path):
        """The private copy written to the machine, where it differs (a mark left for
        the next run's reset, which renders the deployed configs back)."""
        self.put(path, (self.cache / path.lstrip('/')).read_bytes(),
                 'touch %s' % CONFIGS_CHANGED)

    def proc_net(self, name):
        return self.cmd('cat /proc/net/%s 2>/dev/null' % name)

    def node_script(self, action):
        p = self.conn.run('sh %s %s 2>&1' % (NODE_SCRIPT, action), timeout=300)
        if p.returncode:
            raise RuntimeError('%s: %s %s: %s' % (self.name, NODE_SCRIPT, action,
                                                  p.stdout.strip()[-500:]))
        return p.stdout

    def stop_helpers(self):
        for proc in self.helpers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.helpers, self.instruments = [], []


def run_local(command):
    """An inventory command, run on this (the control) node."""
    p = subprocess.run(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=300)
    if p.returncode:
        raise RuntimeError('%r failed (exit %d): %s' % (command, p.returncode, p.stdout.strip()))
    return p.stdout


class Director(roles.Director, SSHNode):
    def __init__(self, machine, connection, cache_dir, vip=None, gateway=None, vips=()):
        SSHNode.__init__(self, machine, connection, cache_dir)
        self.vip, self.gateways = vip, (gateway,) if gateway else ()
        self.vips = tuple(vips) or ((vip,) if vip else ())

    def boot(self):
        self.node_script('boot')

    def clear_state(self):
        """As after a boot: also no IPVS connection entry left (they outlive `ipvsadm -C`
        and would count in the next run's figures): the IPVS modules loaded afresh."""
        roles.Director.clear_state(self)
        out = self.cmd('modprobe -r %s 2>&1 && modprobe ip_vs 2>&1'
                       % ' '.join(SCHEDULER_MODULES + ['ip_vs']))
        if out.strip():
            raise RuntimeError('%s: the IPVS modules could not be reloaded (a fresh table '
                               'needs it): %s' % (self.name, out.strip()))


class RealServer(roles.RealServer, SSHNode):
    def __init__(self, machine, connection, cache_dir, vip=None, web_port=80,
                 forwarding='dr', gateway=None, tun_type='ipip', vips=()):
        SSHNode.__init__(self, machine, connection, cache_dir)
        self.vip, self.web_port, self.forwarding = vip, web_port, forwarding
        self.vips = tuple(vips) or ((vip,) if vip else ())
        self.gateways, self.tun_type = (gateway,) if gateway else (), tun_type

    version = 1                     # the site's, as deployed (its pages' X-Version)

    @property
    def configs(self):
        return [self.private(REALSERVER_SCRIPT), self.private(NGINX_CONF)]

    def answered(self):
        out = self.cmd('cat %s/access.log 2>/dev/null | wc -l' % WEB).strip()
        return int(out) if out.isdigit() else 0

    def set_web_version(self, version):
        """nginx.conf as the deployment renders it (the same template and variables),
        for this version of the site; written only when it changes."""
        nginx = webserver.NginxServer(self.name, self.web_port, WEB,
                                      ipv6=any(':' in v for v in self.vips))
        nginx.version = version
        self.put(NGINX_CONF, render.render(webserver.TEMPLATE, nginx.variables()).encode())
        self.version = version

    def upgrade_web(self):
        """A new version of the site (its pages say X-Version: one more), started; the
        next run's reset puts the deployed one back."""
        self.set_web_version(self.version + 1)
        self.start_web()
        self.wait_web()
        return self.version

    def kept_logs(self):
        return [(Path(self.private(WEB + '/error.log')), 'nginx-error.log')]

    def configure_forwarding(self):
        self.node_script('forwarding')
        for gateway in self.gateways:
            self.keep_route('default', gateway)

    def boot(self):
        self.node_script('boot')
        self.wait_web()

    def start_web(self):
        self.node_script('web-start')

    def wait_web(self, timeout=60):
        end = time.monotonic() + timeout
        url = 'http://127.0.0.1:%d/alive.html' % self.web_port
        while time.monotonic() < end:
            if self.cmd('curl -s -m 2 -o /dev/null -w %%{http_code} %s' % url).strip() == '200':
                return
            time.sleep(0.5)
        raise RuntimeError('the web server (nginx) of %s did not answer %s within %ds'
                           % (self.name, url, timeout))

    def stop_web(self, timeout=30):
        t0 = time.monotonic()
        self.node_script('web-stop')
        return round(time.monotonic() - t0, 3)


class Client(roles.Client, SSHNode):
    pass
