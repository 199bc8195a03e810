"""A node's event recorder, run inside its namespaces for the whole run.

It watches, without spawning anything: on a director, whether the VIP is a
local address (/proc/net/fib_trie; IPv6: /proc/net/if_inet6, once out of duplicate
address detection), which real servers the IPVS table holds (/proc/net/ip_vs) and new
lines of the HA daemons' logs; on the client (--arp), which MAC its ARP (IPv6:
neighbour) entry for the VIP points to and in which state, by a netlink dump (/proc
has no IPv6 neighbour table, and /proc/net/arp no states). Each change is one
JSON line with the time it was seen, so a failover can be decomposed to
within one poll interval. It is the testbed's instrument, not part of the
director: a power-off spares it.
"""
import argparse
import ipaddress
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


# /proc/net/if_inet6's flags of an address not yet (or never) usable
IFA_F_DADFAILED, IFA_F_TENTATIVE = 0x08, 0x40


def local_addresses6(path='/proc/net/if_inet6'):
    """IPv6 addresses local to this network namespace and usable."""
    try:
        with open(path) as f:
            return parse_if_inet6(f.read())
    except OSError:         # (IPv6 off)
        return set()


def parse_if_inet6(text):
    """/proc/net/if_inet6 -> its addresses, compressed, but those still in duplicate
    address detection (tentative) or that failed it: the kernel does not use them yet."""
    addrs = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 6 and not int(parts[4], 16) & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
            addrs.add(str(ipaddress.IPv6Address(int(parts[0], 16))))
    return addrs


def _hexaddr(text):
    if text.startswith('['):        # IPv6: [2001:0db8:...:0146]:0050
        ip, _, port = text[1:].partition(']:')
        return '[%s]:%d' % (ipaddress.IPv6Address(ip), int(port, 16))
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


# rtnetlink's neighbour messages (linux/neighbour.h, linux/rtnetlink.h)
RTM_NEWNEIGH, RTM_GETNEIGH, NLM_F_REQUEST, NLM_F_DUMP, NLMSG_DONE = 28, 30, 1, 0x300, 3
NDA_DST, NDA_LLADDR = 1, 2
NUD_STATES = {0x01: 'INCOMPLETE', 0x02: 'REACHABLE', 0x04: 'STALE', 0x08: 'DELAY',
              0x10: 'PROBE', 0x20: 'FAILED', 0x40: 'NOARP', 0x80: 'PERMANENT'}
_NO_MAC = ('INCOMPLETE', 'FAILED')


def parse_neighbours(data):
    """An RTM_NEWNEIGH dump -> {address: (MAC or None, state)}, and whether it ended."""
    entries, done, off = {}, False, 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from('=IH', data, off)
        if length < 16:
            break
        if kind == NLMSG_DONE:
            done = True
        elif kind == RTM_NEWNEIGH:
            family, _, _, _, state, _, _ = struct.unpack_from('=BBHiHBB', data, off + 16)
            attrs, dst, mac = off + 28, None, None
            while attrs + 4 <= off + length:
                alen, atype = struct.unpack_from('=HH', data, attrs)
                if alen < 4:
                    break
                value = data[attrs + 4:attrs + alen]
                if atype == NDA_DST:
                    dst = str(ipaddress.ip_address(value))
                elif atype == NDA_LLADDR and len(value) == 6:
                    mac = ':'.join('%02x' % b for b in value)
                attrs += (alen + 3) & ~3
            name = NUD_STATES.get(state, hex(state))
            if dst:
                entries[dst] = (None if name in _NO_MAC else mac, name)
        off += (length + 3) & ~3
    return entries, done


class Neighbours:
    """This namespace's neighbour table of one family (ARP's for IPv4, Neighbour
    Discovery's for IPv6), by one netlink dump per look (no process): each entry's
    state as well as its MAC, which /proc/net/arp does not give (a STALE entry keeps
    its MAC, and is used, until its probes fail)."""

    def __init__(self, family=socket.AF_INET6):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.family, self.seq = family, 0

    def entry(self, address):
        """(MAC or None, state name or None) of address's entry."""
        self.seq += 1
        # nlmsghdr + ndmsg asking for every entry of the family
        self.sock.send(struct.pack('=IHHII', 28, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP,
                                   self.seq, 0) + struct.pack('=BBHiHBB', self.family,
                                                              0, 0, 0, 0, 0, 0))
        entries, done = {}, False
        while not done:
            part, done = parse_neighbours(self.sock.recv(65536))
            entries.update(part)
        return entries.get(str(ipaddress.ip_address(address)), (None, None))


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
    p.add_argument('--also', action='append', default=[], metavar='ADDRESS',
                   help='another address that moves with the VIP (dual stack: the other '
                        'family\'s VIP and gateway)')
    p.add_argument('--log', action='append', default=[], help='log file to follow')
    p.add_argument('--arp', action='store_true',
                   help="the client's view only: where its ARP entry for the VIP points")
    p.add_argument('--interval', type=float, default=0.05)
    a = p.parse_args(argv)
    tails = {path: LogTail(path) for path in a.log}
    for t in tails.values():        # only what is logged from now on
        t.lines()
    vip, table, mac, gateway = None, None, '', None
    also = dict.fromkeys(a.also)
    ipv6 = ':' in a.vip
    # (only the families it watches: each read costs a parse)
    families = {':' in x for x in [a.vip, a.gateway or a.vip] + a.also}
    neighbours = Neighbours(socket.AF_INET6 if ipv6 else socket.AF_INET) if a.arp else None
    emit('ready')
    while True:
        if neighbours:
            now = neighbours.entry(a.vip)
            if now != mac:
                mac = now
                emit('arp', mac=mac[0], state=mac[1])
            time.sleep(a.interval)
            continue
        local = (local_addresses6() if True in families else set()) | (
            local_addresses() if False in families else set())
        now_vip = a.vip in local
        if now_vip != vip:
            vip = now_vip
            emit('vip', held=vip)
        if a.gateway and (a.gateway in local) != gateway:
            gateway = a.gateway in local
            emit('gateway', held=gateway)
        for address, held in also.items():
            if (address in local) != held:
                also[address] = address in local
                emit('also', address=address, held=also[address])
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
