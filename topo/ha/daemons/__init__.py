"""One class per daemon: it renders its config templates (topo/ha/templates/*.j2,
Jinja2, topo/render.py) into a director's private directories, prepares what it
needs at boot, starts there, and can ask the daemon itself whether a rendered
config is valid.

What a daemon needs at boot, how it starts and how it is stopped are declared once,
as data and shell commands (run_dirs, log_dirs, boot_command(), start_command(),
kill_patterns(), pid_files): the emulation runs those commands in the node, and a
deployment's node script (deploy/templates/node.sh.j2) runs the same ones on a
machine, so a new stack needs nothing in deploy/."""
import os
import re
import shutil
import subprocess
from pathlib import Path

from topo import render

TEMPLATES = Path(__file__).resolve().parent.parent / 'templates'


class Daemon:
    name = None
    # template (topo/ha/templates/NAME.j2) -> path inside the node, e.g.
    # {'ha.cf': '/etc/ha.d/ha.cf'}
    templates = {}
    secret_files = ()       # paths inside the node that must be mode 600
    owners = {}             # path inside the node -> 'user:group' of a config its daemon
                            # rewrites (root's otherwise)
    scripts = {}            # executable file (copied as is) -> path inside the node
    # executable file -> path on the machine itself, installed by the set-up (where a
    # daemon looks for it whatever the node: e.g. Pacemaker's fence agents)
    installs = {}
    # Directories the daemon needs of its own on each director: two copies on
    # one filesystem would share pid files, state and node identity.
    private_dirs = ()
    # Of those, the ones that start as the package installed them (configs excluded):
    # {directory: glob patterns not to copy}
    seeds = {}
    run_dirs = ()           # created in a fresh /run before start, owner hacluster:haclient
    log_dirs = {}           # log directory -> its owner, made before start
    fresh = ()              # files a boot starts without (e.g. stale IPC rings), globs
    logs = ()               # log files inside the node
    processes = ()          # process names (comm, or a script's path): what a crash kills
    extra_kill = ()         # pkill arguments beyond those of the processes
    pid_files = ()          # what a stop removes (globs), so a start does not see them
    # the pid file of the process whose SIGTERM is the daemon's own graceful stop (it
    # hands the service over as it goes), or None
    main_pid_file = None
    # a file the machine's own copy of the daemon's package must have patched:
    # {'path', 'regexp', 'replace'} (Python's re; Ansible's `replace` on a machine)
    patches = ()
    needs = ()              # what it needs installed: (kind 'cmd'|'file', name, Debian package)
    services = ()           # the services its package starts on a systemd host

    def __init__(self, node, **options):
        self.node = node
        self.options = options

    def context(self):
        """The templates' variables, plain data (the deployment renders the same
        templates from the same variables): the options plus what the node adds."""
        return dict(self.options, node=self.node.name, iface=interfaces(self.node)[0],
                    ifaces=interfaces(self.node))

    def render(self):
        """Write every config file into the node's private directories; return their host paths."""
        for d, ignore in self.seeds.items():
            seed(d, Path(self.node.private(d)), ignore)
        for patch in self.patches:
            apply_patch(Path(self.node.private(patch['path'])), patch)
        written = self.render_configs()
        for script, inside in self.scripts.items():
            path = Path(self.node.private(inside))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((TEMPLATES / script).read_bytes())
            os.chmod(path, 0o755)
            written.append(path)
        return written

    def render_configs(self):
        """Only the config files, from the templates (a reload); their host paths."""
        ctx = self.context()
        written = []
        for template, inside in self.templates.items():
            text = render.render(TEMPLATES / (template + '.j2'), ctx)
            path = Path(self.node.private(inside))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            os.chmod(path, 0o600 if inside in self.secret_files else 0o644)
            if inside in self.owners:
                chown(path, self.owners[inside])
            self.node.publish(inside)
            written.append(path)
        return written

    # -- boot, start and stop, as shell commands (the same on every backend) -----------
    def boot_command(self):
        """What the daemon expects on a machine fresh from a boot: its directories in /run
        (owner hacluster:haclient, as the packages' systemd units make them) and its log
        directories; no stale files. One shell command, or None."""
        parts = []
        if self.run_dirs:
            dirs = ' '.join('/run/%s' % d for d in self.run_dirs)
            parts.append('mkdir -p %s && chown hacluster:haclient %s && chmod 750 %s'
                         % (dirs, dirs, dirs))
        for d, owner in self.log_dirs.items():
            parts.append('mkdir -p %s' % d + ('' if owner == 'root' else
                                              ' && chown %s %s' % (owner, d)))
        if self.fresh:
            parts.append('rm -rf %s' % ' '.join(self.fresh))
        return ' ; '.join(parts) or None

    def start_command(self):
        """The daemon started: a shell command that returns once it is on its way (a
        daemon that stays in the foreground is started with setsid -f)."""
        raise NotImplementedError

    def start_failed(self, output):
        """What the start command's output says went wrong, or None."""
        return None

    @classmethod
    def kill_patterns(cls):
        """pkill arguments that find the daemon's processes on a machine."""
        return ['-f %s' % p if '/' in p else '-x %s' % p for p in cls.processes] + \
            list(cls.extra_kill)

    def stop_command(self):
        """The daemon's own graceful stop, a shell command (None: it has none). A daemon
        just started (a power-on a moment ago) writes its pid file within a few seconds
        (keepalived's after it daemonizes): waited for, as an admin would."""
        if not self.main_pid_file:
            return None
        pid = self.main_pid_file
        return ('for i in $(seq 50); do [ -s {p} ] && break; sleep 0.1; done; '
                'if [ -s {p} ]; then kill -TERM $(cat {p}) 2>&1; '
                'else echo "{n} is not running (no {p} after 5 s)"; fi').format(p=pid, n=self.name)

    def start(self):
        problem = self.start_failed(self.node.cmd(self.start_command()))
        if problem:
            raise RuntimeError('%s: %s did not start: %s' % (self.node.name, self.name, problem))

    def reload(self):
        """Read the rendered config again without a restart (a daemon whose config
        the service's real servers are not in has nothing to do)."""
        return None

    def self_check(self):
        """None when the daemon accepts its rendered config, else what it said."""
        return None


def apply_patch(path, patch):
    """A daemon's patch of its package's file, on a private copy."""
    text = path.read_text()
    patched, n = re.subn(patch['regexp'], lambda m: patch['replace'], text, count=1)
    if n != 1:
        raise RuntimeError('%s has nothing that matches %s' % (path, patch['regexp']))
    path.write_text(patched)


def install_files(daemon_classes, root='/'):
    """Copy the daemons' `installs` onto this machine where they differ; what was copied."""
    copied = []
    for cls in daemon_classes:
        for source, dest in cls.installs.items():
            path = Path(root) / dest.lstrip('/')
            data = (TEMPLATES / source).read_bytes()
            if path.exists() and path.read_bytes() == data:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + '.new')
            tmp.write_bytes(data)
            os.chmod(tmp, 0o755)
            os.replace(tmp, path)
            copied.append(str(path))
    return copied


def real_servers(config):
    """The service's real servers as the templates take them: [{address, endpoint,
    weight}] (endpoint: 'address:port', IPv6 in brackets)."""
    return [{'address': config.service_address(r), 'endpoint': config.real_endpoint(r), 'weight': w}
            for r, w in zip(config.real_servers, config.weights)]


def interfaces(node):
    """The node's network interfaces toward the other director (lo aside), its LAN
    interface first: the hub and the crossover cable; not NAT's inside network, which
    carries the service, not the cluster's heartbeats and adverts."""
    from topo.network.config import inside_interface
    return [i for i in node.interfaces() if i != inside_interface(node.name)]


def chown(path, owner):
    """Owner 'user:group' by name (left as it is where the names are unknown here)."""
    import grp
    import pwd
    user, group = owner.split(':')
    try:
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    except KeyError:
        pass


def seed(src, dst, ignore=()):
    """Copy a package's directory (owners kept) into a private one, configs excluded."""
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*ignore))
        for dirpath, dirnames, _ in os.walk(src):
            for name in [''] + dirnames:
                s = os.path.join(dirpath, name)
                target = os.path.join(dst, os.path.relpath(s, src))
                if os.path.lexists(target):
                    st = os.lstat(s)
                    os.lchown(target, st.st_uid, st.st_gid)
    dst.mkdir(parents=True, exist_ok=True)


def in_namespaces(script, timeout=60, flags=('-m', '-n')):
    """Run a shell script in throwaway namespaces (nothing of the host is touched);
    (exit status, output)."""
    p = subprocess.run(['unshare'] + list(flags) + ['sh', '-c', script],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=timeout)
    return p.returncode, p.stdout
