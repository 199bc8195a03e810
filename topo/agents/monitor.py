"""A node's event recorder, run inside its namespaces for the whole run.

It watches, without spawning anything: on a director, whether the VIP is a
local address (/proc/net/fib_trie), which real servers the IPVS table holds
(/proc/net/ip_vs) and new lines of the HA daemons' logs; on the client
(--arp), which MAC its ARP entry for the VIP points to (/proc/net/arp). Each change is one
JSON line with the time it was seen, so a failover can be decomposed to
within one poll interval. It is the testbed's instrument, not part of the
director: a power-off spares it.
"""
import argparse
import os
import socket
import struct
import sys
import time

from topo.agents.events import emit


def local_addresses(path='/proc/net/fib_trie'):
    """IPv4 addresses local to this network namespace."""
    with open(path) as f:
        return parse_fib_trie(f.read())


def parse_fib_trie(text):
    """The addresses of /proc/net/fib_trie's '/32 host LOCAL' leaves."""
    addrs, last = set(), None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(('|--', '+--')):
            last = s.split()[1]
        elif s == '/32 host LOCAL' and last:
            addrs.add(last)
    return addrs


def _hexaddr(text):
    ip, port = text.split(':')
    return '%s:%d' % (socket.inet_ntoa(struct.pack('>I', int(ip, 16))), int(port, 16))


def ipvs_table(path='/proc/net/ip_vs'):
    """{service: sorted real servers} from /proc/net/ip_vs ({} without IPVS)."""
    try:
        with open(path) as f:
            return parse_ip_vs(f.read())
    except OSError:
        return {}


def parse_ip_vs(text):
    """/proc/net/ip_vs (hex addresses) -> {service 'ip:port': sorted real servers 'ip:port'}."""
    table, service = {}, None
    for line in text.splitlines()[3:]:
        parts = line.split()
        if parts and parts[0] in ('TCP', 'UDP'):
            service = _hexaddr(parts[1])
            table[service] = []
        elif parts and parts[0] == '->' and service:
            table[service].append(_hexaddr(parts[1]))
    return {k: sorted(v) for k, v in table.items()}


def parse_arp(text, address):
    """The MAC /proc/net/arp gives for address, or None (no entry, or incomplete)."""
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4 and parts[0] == address:
            complete = int(parts[2], 16) & 0x2        # ATF_COM
            return parts[3] if complete and parts[3] != '00:00:00:00:00:00' else None
    return None


def arp_entry(address, path='/proc/net/arp'):
    with open(path) as f:
        return parse_arp(f.read(), address)


class LogTail:
    """New complete lines of a log file, across partial writes and a new file
    (truncated, or replaced after a power-on)."""

    def __init__(self, path):
        self.path, self.pos, self.buf, self.inode = path, 0, b'', None

    def lines(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return []
        if st.st_ino != self.inode or st.st_size < self.pos:
            self.inode, self.pos, self.buf = st.st_ino, 0, b''
        if st.st_size == self.pos:
            return []
        with open(self.path, 'rb') as f:
            f.seek(self.pos)
            self.buf += f.read()
            self.pos = f.tell()
        *done, self.buf = self.buf.split(b'\n')
        return [d.decode('utf-8', 'replace') for d in done if d.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--vip', required=True)
    p.add_argument('--gateway', help='NAT: the real servers\' gateway, which moves with the VIP')
    p.add_argument('--log', action='append', default=[], help='log file to follow')
    p.add_argument('--arp', action='store_true',
                   help="the client's view only: where its ARP entry for the VIP points")
    p.add_argument('--interval', type=float, default=0.05)
    a = p.parse_args(argv)
    tails = {path: LogTail(path) for path in a.log}
    for t in tails.values():        # only what is logged from now on
        t.lines()
    vip, table, mac, gateway = None, None, '', None
    emit('ready')
    while True:
        if a.arp:
            now_mac = arp_entry(a.vip)
            if now_mac != mac:
                mac = now_mac
                emit('arp', mac=mac)
            time.sleep(a.interval)
            continue
        local = local_addresses()
        now_vip = a.vip in local
        if now_vip != vip:
            vip = now_vip
            emit('vip', held=vip)
        if a.gateway and (a.gateway in local) != gateway:
            gateway = a.gateway in local
            emit('gateway', held=gateway)
        now_table = ipvs_table()
        if now_table != table:
            table = now_table
            emit('ipvs', table=table)
        for path, tail in tails.items():
            for line in tail.lines():
                emit('log', log=os.path.basename(path), line=line)
        time.sleep(a.interval)


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (KeyboardInterrupt, BrokenPipeError):
        pass
