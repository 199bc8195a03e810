"""A director's event recorder, run inside its namespaces for the whole run.

It watches, without spawning anything: whether the VIP is a local address
(/proc/net/fib_trie), which real servers the IPVS table holds
(/proc/net/ip_vs) and new lines of the HA daemons' logs. Each change is one
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


def local_addresses():
    """IPv4 addresses local to this network namespace."""
    addrs, last = set(), None
    with open('/proc/net/fib_trie') as f:
        for line in f:
            s = line.strip()
            if s.startswith(('|--', '+--')):
                last = s.split()[1]
            elif s == '/32 host LOCAL' and last:
                addrs.add(last)
    return addrs


def _hexaddr(text):
    ip, port = text.split(':')
    return '%s:%d' % (socket.inet_ntoa(struct.pack('>I', int(ip, 16))), int(port, 16))


def ipvs_table():
    """{service: sorted real servers} from /proc/net/ip_vs ({} without IPVS)."""
    table, service = {}, None
    try:
        with open('/proc/net/ip_vs') as f:
            lines = f.read().splitlines()
    except OSError:
        return table
    for line in lines[3:]:
        parts = line.split()
        if parts and parts[0] in ('TCP', 'UDP'):
            service = _hexaddr(parts[1])
            table[service] = []
        elif parts and parts[0] == '->' and service:
            table[service].append(_hexaddr(parts[1]))
    return {k: sorted(v) for k, v in table.items()}


class LogTail:
    def __init__(self, path):
        self.path, self.pos, self.buf = path, 0, ''

    def lines(self):
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return []
        if size < self.pos:     # a new file after a power-on
            self.pos = 0
        if size == self.pos:
            return []
        with open(self.path, errors='replace') as f:
            f.seek(self.pos)
            self.buf += f.read()
            self.pos = f.tell()
        *done, self.buf = self.buf.split('\n')
        return [d for d in done if d.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--vip', required=True)
    p.add_argument('--log', action='append', default=[], help='log file to follow')
    p.add_argument('--interval', type=float, default=0.05)
    a = p.parse_args(argv)
    tails = {path: LogTail(path) for path in a.log}
    for t in tails.values():        # only what is logged from now on
        t.lines()
    vip, table = None, None
    emit('ready')
    while True:
        now_vip = a.vip in local_addresses()
        if now_vip != vip:
            vip = now_vip
            emit('vip', held=vip)
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
