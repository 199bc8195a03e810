"""The kernel's own counters: where the emulated network can lose a packet that no
fault injected, and what a load level cost. Parsers of the kernel's texts (unit
tests feed them captured ones), and a watch on the kernel log.

Per node, its namespace's /proc/net (Node.proc_net: no process started):
  stat/nf_conntrack  drop, early_drop, insert_failed: a full (or racing) conntrack
                     table drops a new connection's packets before the wire
  dev                each interface's drops (a veth has no queue: it drops here),
                     and its bytes (what a director's cable carried)
  netstat            TcpExt: TCPSynRetrans (the client's SYNs sent again),
                     ListenDrops and ListenOverflows (a real server's full queues)
  ip_vs_stats        the connections IPVS scheduled (a director)
  ip_vs_conn         the entries of its connection table (a director)
The machine (the sandbox's kernel in uml mode, the host's natively):
  softnet_stat       the CPUs' input backlogs' drops
  tc -s qdisc        each hub port's queue drops (the hub's ends of the cables live
                     in the root namespace)
  ovs-dpctl show     the OVS datapath's lost upcalls (packets its daemon never saw)
  /dev/kmsg          the kernel's own complaints while the run measured
  /proc/stat         CPU time busy
IPVS itself keeps no drop counter; its one log line for a dropped connection ("no
destination available") is counted apart: a failover makes it by design.
"""
import os
import re

CONNTRACK_DROPS = ('drop', 'early_drop', 'insert_failed')
# the mark of a drop counter that a fault's down cable explains (fidelity: fault_drops)
FAULT_CABLE = ' to a cable set down'


def conntrack_drops(text):
    """{counter: total over the CPUs} of /proc/net/stat/nf_conntrack (a header, then a
    row of hex counters per CPU) for the counters that mean a lost packet."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0][0] != 'entries':
        return {}
    return {k: sum(int(row[i], 16) for row in lines[1:] if len(row) > i)
            for i, k in enumerate(lines[0]) if k in CONNTRACK_DROPS}


def softnet_drops(text):
    """Packets the CPUs' input backlogs dropped (/proc/net/softnet_stat: the second
    column, hex, a row per CPU)."""
    return sum(int(line.split()[1], 16) for line in text.splitlines() if len(line.split()) > 1)


def dev_drops(text):
    """{interface: {'rx': n, 'tx': n}} of /proc/net/dev: drops plus FIFO overruns, each
    direction (the columns after the name: 8 receive, then 8 transmit counters)."""
    out = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(':')
        fields = rest.split()
        if not sep or len(fields) < 16 or not fields[0].isdigit():
            continue
        out[name.strip()] = {'rx': int(fields[3]) + int(fields[4]),
                             'tx': int(fields[11]) + int(fields[12])}
    return out


def dev_bytes(text):
    """{interface: {'rx': bytes, 'tx': bytes}} of /proc/net/dev."""
    out = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(':')
        fields = rest.split()
        if sep and len(fields) >= 16 and fields[0].isdigit():
            out[name.strip()] = {'rx': int(fields[0]), 'tx': int(fields[8])}
    return out


def netstat(text):
    """/proc/net/netstat or /proc/net/snmp: {'TcpExt': {name: value}, ...} (each
    group is a line of names followed by a line of values)."""
    out, lines = {}, text.splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        group, _, names = names.partition(':')
        vgroup, _, values = values.partition(':')
        if group != vgroup:
            continue
        out[group] = {n: int(v) for n, v in zip(names.split(), values.split())
                      if v.lstrip('-').isdigit()}
    return out


def ipvs_connections(text):
    """Connections IPVS scheduled since the module loaded (/proc/net/ip_vs_stats: the
    first hex number of the line after the two header lines); None without IPVS."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 3 or lines[0][0] != 'Total':
        return None
    return int(lines[2][0], 16)


def ipvs_entries(text):
    """Entries in a director's IPVS connection table (/proc/net/ip_vs_conn: a line
    each after the header; in both families)."""
    return sum(1 for line in text.splitlines()[1:] if line.strip())


def cpu_busy_s(text, hz=None):
    """Seconds the machine's CPUs were busy since boot (/proc/stat's first line: every
    column but idle and iowait, in clock ticks)."""
    fields = text.split('\n', 1)[0].split()
    if not fields or fields[0] != 'cpu':
        return None
    ticks = [int(v) for v in fields[1:9]]       # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / float(hz or os.sysconf('SC_CLK_TCK'))


_QDISC = re.compile(r'^qdisc (\S+) \S+ dev (\S+) (root)?')
_SENT = re.compile(r'Sent \d+ bytes \d+ pkt \(dropped (\d+)')


def qdisc_drops(text):
    """{device: packets dropped by its queues} of `tc -s qdisc show`: each root qdisc's
    'Sent ... (dropped N, ...' line (a classful root counts its children's drops too)."""
    out, dev = {}, None
    for line in text.splitlines():
        m = _QDISC.match(line)
        if m:
            dev = m.group(2) if m.group(3) else None
            continue
        m = _SENT.search(line)
        if m and dev:
            out[dev] = out.get(dev, 0) + int(m.group(1))
            dev = None
    return out


_LOOKUPS = re.compile(r'lookups: hit:(\d+) missed:(\d+) lost:(\d+)')


def ovs_lookups(text):
    """The OVS kernel datapath's lookups (`ovs-dpctl show`, summed over the datapaths):
    {'hit': packets its flow cache matched, 'missed': sent up to ovs-vswitchd, 'lost':
    of those, lost on their way to it}; None without a datapath."""
    found = _LOOKUPS.findall(text)
    if not found:
        return None
    return {k: sum(int(f[i]) for f in found) for i, k in enumerate(('hit', 'missed', 'lost'))}


# the kernel's own complaints: (pattern, what, whether it is a loss nobody injected)
KERNEL_LOG = [
    (re.compile(r'nf_conntrack: .*table full, dropping packet'), 'conntrack table full', True),
    (re.compile(r'neighbo(u)?r table overflow'), 'neighbour table overflow', True),
    (re.compile(r'TCP: request_sock_TCP: Possible SYN flooding'), 'SYN queue full', True),
    (re.compile(r'IPVS: .*no destination available'), 'IPVS no destination', False),
]


def kernel_log_counts(lines):
    """{what: lines} of the kernel log lines that say a packet was dropped;
    {'losses': ..., 'other': ...} apart."""
    losses, other = {}, {}
    for line in lines:
        for pattern, what, loss in KERNEL_LOG:
            if pattern.search(line):
                d = losses if loss else other
                d[what] = d.get(what, 0) + 1
    return {'losses': losses, 'other': other}


class KernelLog:
    """The kernel log's records from start() on (/dev/kmsg, read without blocking)."""

    def __init__(self, path='/dev/kmsg'):
        self.path, self.fd = path, None

    def start(self):
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError:
            self.close()
        return self.fd is not None

    def read(self):
        """The messages written since start() (or the last read); [] when unreadable."""
        lines = []
        while self.fd is not None:
            try:
                record = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == 32:       # EPIPE: overwritten records skipped; read on
                    continue
                break
            if not record:
                break
            # a record per read: "prio,seq,time,flags;message", then " KEY=value" lines
            for line in record.decode(errors='replace').splitlines():
                if line and not line.startswith(' '):
                    lines.append(line.split(';', 1)[-1])
        return lines

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def multicast_out(snmp, netstat_text):
    """What a node sent by UDP and by multicast so far, from /proc/net/snmp and
    /proc/net/netstat: the IPVS sync daemon's messages are both (UDP to 224.0.0.81),
    VRRP's adverts are multicast only."""
    udp = netstat(snmp).get('Udp', {})
    ext = netstat(netstat_text).get('IpExt', {})
    return {'udp_datagrams': udp.get('OutDatagrams'), 'mcast_packets': ext.get('OutMcastPkts'),
            'mcast_octets': ext.get('OutMcastOctets')}
