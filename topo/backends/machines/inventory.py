"""The machines of a cluster outside the emulation, as an inventory: an Ansible
inventory (YAML) whose groups are the cluster's roles, so the same file deploys the
cluster (`ansible-playbook -i FILE`) and tells the experiments where each machine is.

    all:
      vars:
        cluster: {vip: 10.0.14.146, subnet: 10.0.14.0/24}     # optional: port, forwarding,
                                                              # client_addresses, vip6
      children:
        directors:
          hosts:
            laicoz: {ansible_host: 192.168.77.2, address: 10.0.14.2, interface: eth0,
                     power_off: "virsh destroy laicoz", power_on: "virsh start laicoz"}
            laicoy: {ansible_host: 192.168.77.3, address: 10.0.14.3, interface: eth0}
        real_servers:
          hosts:
            laico2: {ansible_host: 192.168.77.12, address: 10.0.14.12, interface: eth0}
        clients:
          hosts:
            client: {ansible_host: 192.168.77.200, address: 10.0.14.200, interface: eth0}

The machines carry the paper's names (the experiments, figures and checks name them):
directors laicoz (primary) and laicoy, real servers laico2, laico3, ... in order, one
client. `ansible_host` is where SSH reaches a machine (a management address),
`address` its address on the cluster's LAN, `interface` the LAN's interface there.
A machine may give the commands (run on the control node) that a fault needs:
power_off/power_on (e.g. `fence_ipmilan ...`, `virsh destroy ...`) and
link_down/link_up (a switch port, `virsh domif-setlink ...`), each pair whole.
`client_addresses` (default 1): how many addresses the client may open its connections
from, as the load lab's many users (RFC 2544's 198.18.0.0/15, routed to the client on
every machine of the cluster while a run lasts): say so only where that block is free.
IPv6 (`--vip` an IPv6 address, `--dual-stack`): `vip6` and `subnet6` (a /64) in the
cluster's vars, the VIP's IPv6 twin with the same host number (10.0.14.146 and
2001:db8:14::146: dual stack pairs them so), and each machine's `address6` in it.
"""
import ipaddress
from dataclasses import dataclass, field

from topo.network.config import CLIENT, ConfigError, DIRECTORS, readable6

GROUPS = {'directors': 'director', 'real_servers': 'real server', 'clients': 'client'}
HOST_KEYS = {'ansible_host', 'ansible_user', 'ansible_port', 'address', 'address6',
             'interface'}
# fault commands, in pairs: what undoes each
COMMANDS = {'power_off': 'power_on', 'link_down': 'link_up'}
CLUSTER_KEYS = {'vip', 'subnet', 'port', 'forwarding', 'client_addresses', 'vip6', 'subnet6'}


@dataclass
class Machine:
    name: str
    role: str                   # 'director', 'real server' or 'client'
    ssh: str                    # where SSH reaches it (ansible_host)
    address: str                # on the cluster's LAN
    interface: str              # the LAN's interface on the machine
    user: str = 'root'
    port: int = 22
    commands: dict = field(default_factory=dict)    # fault commands run on the control node
    address6: str = None        # on the cluster's LAN in IPv6 (with the cluster's vip6)


@dataclass
class Inventory:
    path: str
    machines: dict              # name -> Machine, directors first
    vip: str
    subnet: str
    port: int = 80
    forwarding: str = 'dr'
    ssh_key: str = None         # all.vars.ansible_ssh_private_key_file, as Ansible takes it
    ssh_args: str = ''          # all.vars.ansible_ssh_common_args
    client_addresses: int = 1   # the client's sources for the load lab (cluster's setting)
    vip6: str = None            # the service's IPv6 VIP, the VIP's twin (optional)
    subnet6: str = None

    @property
    def real_servers(self):
        return [m for m in self.machines if self.machines[m].role == 'real server']

    def command(self, fault, target):
        """The control node's command for a fault on a machine, or None when the fault
        needs none; ConfigError (before anything starts) when it needs one the inventory
        lacks."""
        from topo import faults
        try:
            key = faults.get(fault).machine_command     # (a fault declares it)
        except KeyError as e:
            raise ConfigError(e.args[0])
        if faults.get(fault).machines_problem:
            raise ConfigError('%s on machines: %s' % (fault, faults.get(fault).machines_problem))
        if key is None:
            return None
        machine = self.machines.get(target)
        if machine is None:
            raise ConfigError('%s: no machine %r in the inventory' % (self.path, target))
        if key not in machine.commands:
            raise ConfigError(
                '%s on %s needs %s and %s in the inventory (%s), e.g. "virsh destroy %s" '
                'and "virsh start %s" or a fence agent: there is no other way to switch '
                'off a real machine' % (fault, target, key, COMMANDS[key], self.path,
                                        target, target))
        return machine.commands[key]


def load(path):
    """The inventory in the file at path, checked; ConfigError naming what is wrong."""
    import yaml
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise ConfigError('inventory %s: %s' % (path, e.strerror or e))
    except yaml.YAMLError as e:
        raise ConfigError('inventory %s is not YAML: %s' % (path, e))
    return parse(data, str(path))


def parse(data, path='inventory'):
    """The Inventory of already-parsed YAML; ConfigError for anything missing or wrong."""
    def bad(text):
        raise ConfigError('inventory %s: %s' % (path, text))
    if not isinstance(data, dict) or not isinstance(data.get('all'), dict):
        bad("no 'all' group at the top (an Ansible YAML inventory)")
    top = data['all']
    cluster = ((top.get('vars') or {}).get('cluster')) or {}
    if not isinstance(cluster, dict):
        bad("all.vars.cluster must be a mapping (%s)" % ', '.join(sorted(CLUSTER_KEYS)))
    unknown = set(cluster) - CLUSTER_KEYS
    if unknown:
        bad('all.vars.cluster: unknown %s (known: %s)' % (', '.join(sorted(unknown)),
                                                          ', '.join(sorted(CLUSTER_KEYS))))
    for key in ('vip', 'subnet'):
        if key not in cluster:
            bad('all.vars.cluster.%s is missing' % key)
    try:
        subnet = ipaddress.ip_network(str(cluster['subnet']))
        vip = ipaddress.ip_address(str(cluster['vip']))
    except ValueError as e:
        bad(str(e))
    if vip not in subnet:
        bad('the VIP %s is not in the subnet %s' % (vip, subnet))
    children = top.get('children') or {}
    unknown = set(children) - set(GROUPS)
    if unknown:
        bad('unknown group %s (the roles are %s)' % (', '.join(sorted(unknown)),
                                                     ', '.join(GROUPS)))
    hosts = {}
    for group, role in GROUPS.items():
        members = ((children.get(group) or {}).get('hosts')) or {}
        if not members:
            bad('group %s has no hosts' % group)
        for name, values in members.items():
            if name in hosts:
                bad('%s is in two groups' % name)
            hosts[name] = machine(name, role, values or {}, subnet, bad)
    names = {role: [n for n, m in hosts.items() if m.role == role] for role in GROUPS.values()}
    if sorted(names['director']) != sorted(DIRECTORS):
        bad('the directors must be %s (the experiments name them), got %s'
            % (' and '.join(DIRECTORS), ', '.join(names['director'])))
    servers = sorted(names['real server'], key=lambda n: (len(n), n))
    expected = ['laico%d' % (2 + i) for i in range(len(servers))]
    if servers != expected:
        bad('the real servers must be %s, in order from laico2, got %s'
            % (', '.join(expected), ', '.join(servers)))
    if names['client'] != [CLIENT]:
        bad('one client, named %s, got %s' % (CLIENT, ', '.join(names['client'])))
    order = list(DIRECTORS) + servers + [CLIENT]
    seen = {}
    for m in (hosts[n] for n in order):
        for what in ('address', 'ssh'):
            key = (what, getattr(m, what))
            if key in seen:
                bad('%s and %s have the same %s %s' % (seen[key], m.name, what, key[1]))
            seen[key] = m.name
        if m.address == str(vip):
            bad('%s has the VIP %s as its own address' % (m.name, vip))
    try:
        port = int(cluster.get('port', 80))
    except (TypeError, ValueError):
        bad('all.vars.cluster.port must be a number')
    sources = cluster.get('client_addresses', 1)
    if not isinstance(sources, int) or isinstance(sources, bool) or not 1 <= sources <= 65536:
        bad('all.vars.cluster.client_addresses must be a whole number from 1 to 65536')
    top_vars = top.get('vars') or {}
    vip6, subnet6 = ipv6(cluster, vip, subnet, [hosts[n] for n in order], bad)
    return Inventory(path, {n: hosts[n] for n in order}, str(vip), str(subnet), port,
                     str(cluster.get('forwarding', 'dr')),
                     top_vars.get('ansible_ssh_private_key_file'),
                     str(top_vars.get('ansible_ssh_common_args') or ''), sources,
                     vip6, subnet6)


def ipv6(cluster, vip, subnet, machines, bad):
    """The cluster's IPv6 VIP and subnet, checked with each machine's address6; (None,
    None) without vip6."""
    if 'vip6' not in cluster:
        if 'subnet6' in cluster or any(m.address6 for m in machines):
            bad('subnet6 or address6 without all.vars.cluster.vip6 (the IPv6 VIP)')
        return None, None
    try:
        vip6 = ipaddress.IPv6Address(str(cluster['vip6']))
        subnet6 = ipaddress.IPv6Network(str(cluster.get('subnet6') or
                                            ipaddress.IPv6Network('%s/64' % vip6, strict=False)))
    except ValueError as e:
        bad('vip6 or subnet6: %s' % e)
    if vip6 not in subnet6 or subnet6.prefixlen > 64:
        bad('the IPv6 VIP %s must be in subnet6, a /64 or larger, got %s' % (vip6, subnet6))
    twin = readable6(subnet6, int(vip) - int(subnet.network_address))
    if str(vip6) != twin:
        bad('vip6 must be %s, the VIP %s\'s twin in %s (the same host number: dual stack '
            'serves them as a pair), got %s' % (twin, vip, subnet6, vip6))
    seen = {}
    for m in machines:
        if not m.address6:
            bad('%s has no address6 (every machine needs one with vip6)' % m.name)
        try:
            a = ipaddress.IPv6Address(m.address6)
        except ValueError as e:
            bad('%s: %s' % (m.name, e))
        if a not in subnet6 or a == vip6:
            bad('%s: its address6 %s is not an address of subnet6 %s besides the VIP'
                % (m.name, a, subnet6))
        if a in seen:
            bad('%s and %s have the same address6 %s' % (seen[a], m.name, a))
        seen[a] = m.name
        m.address6 = str(a)
    return str(vip6), str(subnet6)


def machine(name, role, values, subnet, bad):
    if not isinstance(values, dict):
        bad('%s: its variables must be a mapping' % name)
    unknown = set(values) - HOST_KEYS - set(COMMANDS) - set(COMMANDS.values())
    if unknown:
        bad('%s: unknown %s (known: %s)' % (name, ', '.join(sorted(unknown)), ', '.join(
            sorted(HOST_KEYS | set(COMMANDS) | set(COMMANDS.values())))))
    for key in ('ansible_host', 'address', 'interface'):
        if not values.get(key):
            bad('%s (%s) has no %s' % (name, role, key))
    try:
        address = ipaddress.ip_address(str(values['address']))
    except ValueError as e:
        bad('%s: %s' % (name, e))
    if address not in subnet:
        bad('%s: its address %s is not in the subnet %s' % (name, address, subnet))
    commands = {}
    for first, second in COMMANDS.items():
        given = [k for k in (first, second) if values.get(k)]
        if len(given) == 1:
            bad('%s: %s without %s (a fault must be undone the way it was done)'
                % (name, given[0], second if given[0] == first else first))
        commands.update({k: str(values[k]) for k in given})
    try:
        port = int(values.get('ansible_port', 22))
    except (TypeError, ValueError):
        bad('%s: ansible_port must be a number' % name)
    return Machine(name, role, str(values['ansible_host']), str(address),
                   str(values['interface']), str(values.get('ansible_user', 'root')), port,
                   commands, str(values['address6']) if values.get('address6') else None)
