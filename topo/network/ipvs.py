"""Kernel IPVS through ipvsadm: the commands for a virtual service and a parser
for `ipvsadm -L` output (names or numbers, any ipvsadm version's spacing)."""
import re


_SERVICE = re.compile(r'^(TCP|UDP|FWM|SCTP)\s+(\S+)\s+(\S+)(?:\s+(.*))?$')
_REAL = re.compile(r'^->\s*(\S+)\s+(\S+)\s+(-?\d+)\s+(\d+)\s+(\d+)\s*$')
_FORWARD_NAMES = {'Route': 'Route', 'Masq': 'Masq', 'Tunnel': 'Tunnel', 'Local': 'Local'}


def service_commands(config):
    """ipvsadm argument lists that install config's virtual service (dual stack: one
    per VIP) on a director."""
    cmds = []
    for view in config.families():
        vip = view.service
        cmds.append(['-A', '-t', vip, *view.scheduler_args()])
        for server, weight in zip(view.real_servers, view.weights):
            cmds.append(['-a', '-t', vip, '-r', view.real_endpoint(server),
                         *view.forward_args(), '-w', str(weight)])
    return cmds


def split_host_port(text):
    """'laico2:http' -> ('laico2', 'http'); '[::1]:80' -> ('::1', '80')."""
    if text.startswith('['):
        host, _, port = text[1:].partition(']:')
        return host, port
    host, _, port = text.rpartition(':')
    return host, port


def parse(text):
    """Parse `ipvsadm -L [-n]` output into a list of services.

    Each service: {'protocol', 'address', 'host', 'port', 'scheduler', 'flags',
    'real_servers': [{'address', 'host', 'port', 'forward', 'weight', 'active', 'inactive'}]}.
    A header-only table (figures 10 and 14) parses to [].
    """
    services = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(('IP Virtual Server', 'Prot ', '-> RemoteAddress')):
            continue
        m = _SERVICE.match(line)
        if m:
            host, port = split_host_port(m.group(2))
            services.append({'protocol': m.group(1), 'address': m.group(2), 'host': host,
                             'port': port, 'scheduler': m.group(3),
                             'flags': (m.group(4) or '').split(), 'real_servers': []})
            continue
        m = _REAL.match(line)
        if m and services:
            host, port = split_host_port(m.group(1))
            services[-1]['real_servers'].append({
                'address': m.group(1), 'host': host, 'port': port,
                'forward': _FORWARD_NAMES.get(m.group(2), m.group(2)),
                'weight': int(m.group(3)), 'active': int(m.group(4)),
                'inactive': int(m.group(5))})
            continue
        raise ValueError('unrecognised ipvsadm line: %r' % raw)
    return services


def short_host(host):
    """'laico2.laico.cic.unb.br' or 'laico2,laico...' (the paper's print) -> 'laico2'."""
    return re.split(r'[.,]', host, maxsplit=1)[0] if not re.match(r'^\d', host) else host


def tunnel_types(text):
    """`ipvsadm -S -n` -> {real server's address: its tunnel type, or None when it is
    not tunnelled} (only the rules show the type: `-L` says `Tunnel` for every one)."""
    types = {}
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ['-a'] and '-r' in words:
            host = split_host_port(words[words.index('-r') + 1])[0]
            tunnelled = '-i' in words or '--ipip' in words
            types[host] = (words[words.index('--tun-type') + 1] if '--tun-type' in words
                           else 'ipip') if tunnelled else None
    return types


def count_connections(text, service):
    """`ipvsadm -L -c -n` -> {state: entries} of the connections to service ('ip:port')."""
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] in ('TCP', 'UDP', 'SCTP') and parts[4] == service:
            counts[parts[2]] = counts.get(parts[2], 0) + 1
    return counts


def connection_sources(text, service):
    """`ipvsadm -L -c -n` -> the clients' 'ip:port' of the connections to service."""
    return sorted(parts[3] for parts in map(str.split, text.splitlines())
                  if len(parts) >= 6 and parts[0] in ('TCP', 'UDP', 'SCTP')
                  and parts[4] == service)


SYNC_ID = 14


def sync_daemon_commands(iface):
    """IPVS sync by hand: a master daemon (sends this director's entries) and a backup
    daemon (takes the peer's), both on a director; the kernel runs both at once."""
    return ['ipvsadm --start-daemon %s --mcast-interface %s --syncid %d 2>&1'
            % (role, iface, SYNC_ID) for role in ('master', 'backup')]
