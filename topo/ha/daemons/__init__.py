"""One class per daemon: it renders its config templates (topo/ha/templates/*.j2,
Jinja2, topo/render.py) into a director's private directories, prepares what it
needs at boot, starts there, and can ask the daemon itself whether a rendered
config is valid."""
import os
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
    logs = ()               # log files inside the node
    processes = ()          # process names (comm): what a crash kills
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
            written.append(path)
        return written

    def prepare(self):
        """What the daemon expects in a /run fresh from a boot."""
        for sub in self.run_dirs:
            path = Path(self.node.private('/run')) / sub
            path.mkdir(parents=True, exist_ok=True)
            chown_ha(path)

    def start(self):
        raise NotImplementedError

    def reload(self):
        """Read the rendered config again without a restart (a daemon whose config
        the service's real servers are not in has nothing to do)."""
        return None

    def self_check(self):
        """None when the daemon accepts its rendered config, else what it said."""
        return None


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
    """The service's real servers as the templates take them: [{address, weight}]."""
    return [{'address': config.addresses[r], 'weight': w}
            for r, w in zip(config.real_servers, config.weights)]


def interfaces(node):
    """The node's network interfaces toward the other director (lo aside), its LAN
    interface first: the hub and the crossover cable; not NAT's inside network, which
    carries the service, not the cluster's heartbeats and adverts."""
    from topo.network.config import inside_interface
    return [i for i in node.interfaces() if i != inside_interface(node.name)]


def chown_ha(path):
    """Owner hacluster:haclient, mode 750, as the heartbeat package sets them."""
    import grp
    import pwd
    try:
        os.chown(path, pwd.getpwnam('hacluster').pw_uid, grp.getgrnam('haclient').gr_gid)
        os.chmod(path, 0o750)
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
