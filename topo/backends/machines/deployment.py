"""A deployment of the cluster onto machines of an inventory (topo/backends/machines/inventory.py): each
machine's packages, configs and their variables, computed by the same classes that
render them in the emulation (topo/ha/daemons, topo/network/roles.py), for the
playbook (deploy/site.yml) to render from the same templates.

Its state lives beside the inventory, in FILE.deploy/ (mode 700): the secrets of the
deployment (mode 600, made once: a second deployment changes nothing), the machines'
variables (hosts.yml, an inventory Ansible reads with the user's) and the agents'
archive.
"""
import io
import json
import tarfile
from pathlib import Path

from topo import render
from topo.backends.machines import paths
from topo import ha
from topo.ha.daemons import TEMPLATES as HA_TEMPLATES
from topo.network import roles
from topo.network.config import ConfigError
from topo.network.webserver import WORK_BYTES, NginxServer

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / 'deploy' / 'site.yml'
NETWORK_TEMPLATES = ROOT / 'topo' / 'network' / 'templates'
PACKAGES = {'all': ['python3', 'curl', 'iproute2', 'procps', 'util-linux'],
            'director': ['ipvsadm', 'iptables', 'arptables'],
            'real server': ['nginx-light'],
            'client': ['python3-requests', 'nghttp2-client']}    # (h2load: the load lab)


class MachineNode:
    """A machine as the daemons' and the roles' variables need it: its name, its LAN
    interface."""

    def __init__(self, machine):
        self.name, self.machine = machine.name, machine

    def interfaces(self):
        return [self.machine.interface]


class MachineRealServer(roles.RealServer, MachineNode):
    def __init__(self, machine, config):
        MachineNode.__init__(self, machine)
        self.vip, self.forwarding, self.gateways = config.vip, config.forwarding, config.gateways
        self.vips = tuple(config.vips)
        self.tun_type = config.tun_type


def state_dir(inventory_path):
    return Path(str(inventory_path) + '.deploy')


def stable_secret(state, stack):
    """The deployment's secret for the stack: made once (the stack's fresh one), then
    kept in secrets.json (mode 600), so a second deployment renders the same files."""
    path = state / 'secrets.json'
    saved = json.loads(path.read_text()) if path.exists() else {}
    key = '%s-v%s' % (stack.name, getattr(stack.settings, 'vrrp_version', ''))
    if key not in saved:
        saved[key] = stack.secret
        path.touch(mode=0o600)
        path.write_text(json.dumps(saved, indent=2) + '\n')
    stack.secret = saved[key]


def host_variables(inventory, config, stack):
    """{machine: its variables for the playbook}."""
    stack.on_machines = True         # (its paths for machines, e.g. a fence switch's)
    record = {'stack': stack.name, 'layout': stack.layout,
              'settings': stack.settings.as_dict(), 'service': service(config)}
    out = {}
    for name, machine in inventory.machines.items():
        v = {'hatestbed_role': machine.role, 'hatestbed_vip': config.vip,
             'hatestbed_vips': list(config.vips),
             # the machines by name (`ipvsadm -L` shows the paper's names; heartbeat's
             # nodes), none for the VIP, as in the emulation
             'hatestbed_hosts': config.hosts_file().split('\n', 1)[1].rstrip('\n'),
             'hatestbed_packages': PACKAGES['all'] + PACKAGES[machine.role],
             'hatestbed_configs': [], 'hatestbed_scripts': [],
             'hatestbed_paths': paths.variables(),
             'hatestbed_deployment': dict(record, role=machine.role)}
        if machine.role == 'director':
            node = MachineNode(machine)
            v['hatestbed_stack'] = stack.name
            v['hatestbed_settings'] = stack.settings.as_dict()
            v['hatestbed_packages'] += sorted({p for _, _, p in stack.needs()})
            v.update(stack_variables(stack, node))
            for daemon in stack.daemons(node):
                merge(v, daemon.context(), name)
                for template, dest in daemon.templates.items():
                    v['hatestbed_configs'].append(dict({
                        'src': str(HA_TEMPLATES / (template + '.j2')), 'dest': dest,
                        'mode': '0600' if dest in daemon.secret_files else '0644'},
                        **owner(daemon.owners.get(dest))))
                v['hatestbed_scripts'] += [{'src': str(HA_TEMPLATES / s), 'dest': dest}
                                           for s, dest in list(daemon.scripts.items()) +
                                           list(daemon.installs.items())]
        elif machine.role == 'real server':
            server = MachineRealServer(machine, config)
            merge(v, server.forwarding_variables(), name)
            nginx = NginxServer(name, config.port, paths.WEB,
                                ipv6=any(':' in x for x in config.vips))
            merge(v, dict(nginx.variables(), work_bytes=WORK_BYTES), name)
            v['hatestbed_configs'] += [
                {'src': str(NETWORK_TEMPLATES / 'realserver.sh.j2'),
                 'dest': paths.REALSERVER_SCRIPT, 'mode': '0755'},
                {'src': str(NETWORK_TEMPLATES / 'nginx.conf.j2'),
                 'dest': paths.NGINX_CONF, 'mode': '0644'}]
        out[name] = render.plain(v)
    return out


def stack_variables(stack, node):
    """What the node script and the roles do for the stack, as the stack declares it
    (deploy/ names no stack): its boot commands, and how every stack's daemons are
    stopped (a machine may run another stack's before)."""
    every = ha.all_daemon_classes()
    main = stack.daemons(node)[0]
    return {'hatestbed_boot': [step.command for step in stack.boot_steps(node)],
            'hatestbed_running': main.kill_patterns()[0],
            'hatestbed_kill': [p for d in every for p in d.kill_patterns()],
            'hatestbed_pid_files': [f for d in every for f in d.pid_files],
            'hatestbed_services': sorted({s for d in every for s in d.services}),
            # the daemons' patches of their packages' files; Ansible's `replace` reads
            # backslashes in the replacement as escapes
            'hatestbed_patches': [dict(p, replace=p['replace'].replace('\\', '\\\\'))
                                  for d in stack.daemons(node) for p in d.patches]}


def owner(spec):
    """A config's owner for Ansible's template module ({} for root's)."""
    if not spec:
        return {}
    user, group = spec.split(':')
    return {'owner': user, 'group': group}


def service(config):
    """What of the cluster's settings the deployed configs hold (a run compares them)."""
    return {'scheduler': config.scheduler, 'sched_flags': list(config.sched_flags),
            'sloppy_tcp': config.sloppy_tcp, 'weights': list(config.weights),
            'forwarding': config.forwarding, 'tun_type': config.tun_type, 'port': config.port,
            'vips': list(config.vips)}


def merge(variables, more, host):
    """One namespace per machine (its templates share it): a name two of them give
    different values is a mistake, said before anything is deployed."""
    for k, value in render.plain(more).items():
        if k in variables and variables[k] != value:
            raise ConfigError('%s: the variable %r means two things (%r, %r)'
                              % (host, k, variables[k], value))
        variables[k] = value


def agents_archive(path):
    """The testbed's topo package (what its agents import), as a tar whose bytes depend
    only on the sources: the playbook copies it again only when they changed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for f in sorted((ROOT / 'topo').rglob('*.py')):
            rel = f.relative_to(ROOT)
            if '__pycache__' in rel.parts:
                continue
            info = tarfile.TarInfo(str(rel))
            data = f.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def prepare(inventory, config, stack):
    """The deployment's state written (FILE.deploy/): hosts.yml and the agents' archive;
    the path of hosts.yml."""
    import yaml
    state = state_dir(inventory.path)
    state.mkdir(mode=0o700, exist_ok=True)
    stable_secret(state, stack)
    hosts = host_variables(inventory, config, stack)
    archive = agents_archive(state / 'agents.tar')
    for v in hosts.values():
        v['hatestbed_agents'] = str(archive)
    path = state / 'hosts.yml'
    path.touch(mode=0o600)      # it holds the stack's secret
    path.write_text('# written by experiments/deploy.py: each machine\'s variables\n' +
                    yaml.safe_dump({'all': {'hosts': hosts}}, sort_keys=True))
    return path


def playbook_command(inventory, hosts_file, check=False):
    argv = ['ansible-playbook', '-i', str(inventory.path), '-i', str(hosts_file), str(PLAYBOOK)]
    return argv + (['--check', '--diff'] if check else [])
