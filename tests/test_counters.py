"""The kernel's counters (topo/network/counters.py) read from captured texts: the
UML kernel's (uml mode, the cluster's client and laicoz after five requests through
the VIP; its OVS datapath; its /proc/stat) and a veth pair with a tiny HTB queue
and a peer set down (the drops the emulated network can make)."""
import pytest

from topo.network import counters


def test_conntrack_drops_from_a_captured_table_full(data):
    # a client namespace after 10,000 connections, nf_conntrack_max 8192 (uml, 1 GB):
    # 639 packets dropped (0x27f), the table at 8172 entries (0x1fec)
    text = data('proc/nf_conntrack_stat.txt')
    assert counters.conntrack_drops(text) == {'insert_failed': 0, 'drop': 639, 'early_drop': 0}
    two_cpus = text + text.splitlines()[1] + '\n'
    assert counters.conntrack_drops(two_cpus)['drop'] == 2 * 639
    assert counters.conntrack_drops('') == {}


def test_softnet_backlog_drops_are_the_second_column_summed_over_cpus():
    text = ('00001a2b 00000003 00000000 00000000 00000000 00000000 00000000 00000000\n'
            '00000f00 00000010 00000001 00000000 00000000 00000000 00000000 00000000\n')
    assert counters.softnet_drops(text) == 3 + 16


def test_interface_drops_per_direction(data):
    # d1 set down: the 4 pings d0 sent were dropped by the veth (its transmit side)
    drops = counters.dev_drops(data('proc/net_dev_veth_drops.txt'))
    assert drops == {'lo': {'rx': 0, 'tx': 0}, 'd1': {'rx': 0, 'tx': 0},
                     'd0': {'rx': 0, 'tx': 4}}
    assert counters.dev_drops('') == {}
    assert counters.dev_bytes(data('proc/net_dev_veth_drops.txt'))['d0'] == {'rx': 676,
                                                                            'tx': 1068}


def test_qdisc_drops_count_each_root_once(data):
    # HTB at 8 kbit/s over a 2-packet FIFO: 51 dropped, which the root HTB counts too
    assert counters.qdisc_drops(data('proc/tc_qdisc_htb_drops.txt')) == {'d1': 0, 'd0': 51}


def test_ovs_datapath_lost_upcalls(data):
    one = counters.ovs_lookups(data('proc/ovs_dpctl_show.txt'))
    assert one['lost'] == 0
    two = data('proc/ovs_dpctl_show.txt').replace('lost:0', 'lost:7') + \
        'system@other:\n  lookups: hit:1 missed:2 lost:3\n'
    assert counters.ovs_lookups(two) == {'hit': one['hit'] + 1, 'missed': one['missed'] + 2,
                                         'lost': 10}
    assert counters.ovs_lookups('') is None


def test_tcp_counters_of_the_client(data):
    ext = counters.netstat(data('proc/netstat_client.txt'))['TcpExt']
    assert ext['TCPSynRetrans'] == 0 and ext['ListenDrops'] == 0
    assert len(ext) > 100 and all(isinstance(v, int) for v in ext.values())
    assert counters.netstat('') == {}


def test_ipvs_connections_are_the_first_hex_number(data):
    assert counters.ipvs_connections(data('proc/ip_vs_stats.txt')) == 5
    total = data('proc/ip_vs_stats.txt').replace('       5       1E', '    2710       1E')
    assert counters.ipvs_connections(total) == 10000
    assert counters.ipvs_connections('') is None        # no IPVS in that kernel


def test_cpu_busy_time_leaves_out_idle_and_iowait(data):
    # uml: 'cpu  2174 0 133 42 0 0 0 0 0 0' at 100 ticks a second
    assert counters.cpu_busy_s(data('proc/stat_uml.txt'), hz=100) == pytest.approx(23.07)
    assert counters.cpu_busy_s('intr 1 2') is None


KMSG = ('4,1021,5512301,-;nf_conntrack: nf_conntrack: table full, dropping packet\n'
        '4,1022,5512302,c;neighbour: arp_cache: neighbor table overflow!\n'
        '6,1023,5512303,-;IPVS: rr: TCP 10.0.14.146:80 - no destination available\n'
        ' SUBSYSTEM=net\n'
        '6,1024,5512304,-;TCP: request_sock_TCP: Possible SYN flooding on port 80. '
        'Sending cookies.  Check SNMP counters.\n'
        '6,1025,5512305,-;device hub-eth1 entered promiscuous mode\n')


def test_kernel_log_names_the_losses_and_keeps_ipvs_apart(tmp_path):
    log = tmp_path / 'kmsg'
    log.write_text('4,1,1,-;nf_conntrack: nf_conntrack: table full, dropping packet\n')
    watch = counters.KernelLog(str(log))
    assert watch.start()                # from the end: what was there before is not counted
    with open(log, 'a') as f:
        f.write(KMSG)
    lines = watch.read()
    watch.close()
    assert len(lines) == 5 and lines[0].startswith('nf_conntrack:')
    assert counters.kernel_log_counts(lines) == {
        'losses': {'conntrack table full': 1, 'neighbour table overflow': 1,
                   'SYN queue full': 1},
        'other': {'IPVS no destination': 1}}
    assert not counters.KernelLog(str(tmp_path / 'none')).start()


def test_ipvs_entries_are_the_lines_after_the_header():
    header = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n'
    entry = 'TCP 0A000101 9C40 0A000E92 0050 0A000E0C 0050 FIN_WAIT        119\n'
    assert counters.ipvs_entries(header + entry * 3) == 3
    assert counters.ipvs_entries(header) == 0 and counters.ipvs_entries('') == 0
