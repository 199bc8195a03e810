"""The instruments every timeline depends on: the director monitor's parsers
(captured /proc texts from a UML run), its log tailing, the recorder's waits,
the event schema and the prober's pacing."""
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import PYTHON, ROOT
from topo.agents import events, monitor
from topo.agents.recorder import Recorder
from topo.network.webserver import NginxServer

SVC = '10.0.14.146:80'
REALS = ['10.0.14.12:80', '10.0.14.13:80', '10.0.14.14:80']


# -- /proc parsers, on texts captured inside UML (laicoz serving, laicoy standing by) --
def test_fib_trie_shows_the_vip_only_where_it_is_held(data):
    held = monitor.parse_fib_trie(data('proc/laicoz-fib_trie'))
    assert '10.0.14.146' in held and '10.0.14.2' in held and '127.0.0.1' in held
    assert '10.0.14.0' not in held and '10.0.14.255' not in held     # network, broadcast
    standby = monitor.parse_fib_trie(data('proc/laicoy-fib_trie'))
    assert '10.0.14.3' in standby and '10.0.14.146' not in standby


def test_ip_vs_hex_table(data):
    assert monitor.parse_ip_vs(data('proc/laicoz-ip_vs')) == {SVC: REALS}
    assert monitor.parse_ip_vs(data('proc/laicoy-ip_vs')) == {}          # header only
    assert monitor.ipvs_table('/nonexistent/ip_vs') == {}                 # no IPVS at all


def test_ip_vs_with_a_server_missing(data):
    text = '\n'.join(line for line in data('proc/laicoz-ip_vs').splitlines()
                     if '0A000E0C' not in line)       # 10.0.14.12 left the table
    assert monitor.parse_ip_vs(text) == {SVC: REALS[1:]}


def test_the_arp_entry_of_the_vip_and_its_state_by_netlink():
    def message(address, state, mac=None):
        attrs = struct.pack('=HH', 8, monitor.NDA_DST) + socket.inet_aton(address)
        if mac:
            attrs += struct.pack('=HH', 10, monitor.NDA_LLADDR) + bytes.fromhex(
                mac.replace(':', '')) + b'\0\0'
        body = struct.pack('=BBHiHBB', socket.AF_INET, 0, 0, 6, state, 0, 0) + attrs
        return struct.pack('=IHHII', 16 + len(body), monitor.RTM_NEWNEIGH, 2, 1, 0) + body
    entries, done = monitor.parse_neighbours(
        message('10.0.14.146', 0x10, '00:00:00:00:00:01') + message('10.0.14.12', 0x20)
        + message('10.0.14.13', 0x02, '00:00:00:00:00:04'))
    assert not done and entries == {
        '10.0.14.146': ('00:00:00:00:00:01', 'PROBE'),     # probed, still used
        '10.0.14.12': (None, 'FAILED'), '10.0.14.13': ('00:00:00:00:00:04', 'REACHABLE')}


def test_the_client_s_own_arp_table_reads_by_netlink():
    # this namespace's own table, as the monitor reads the client's: the loopback's
    # entries are not in it, and an address never resolved has none
    assert monitor.Neighbours(socket.AF_INET).entry('192.0.2.77') == (None, None)


def test_owners_need_the_vip_and_links_up():
    rec = Recorder()
    rec.add('laicoz', json.dumps({'kind': 'vip', 'held': True, 't': 1.0}))
    rec.add('laicoy', json.dumps({'kind': 'vip', 'held': True, 't': 2.0}))
    assert rec.owners(['laicoz', 'laicoy']) == ['laicoz', 'laicoy']
    rec.note('laicoz', 'link', up=False)
    assert rec.owners(['laicoz', 'laicoy']) == ['laicoy']
    assert rec.events[-1]['kind'] == 'link' and rec.events[-1]['node'] == 'laicoz'


# -- log tailing ------------------------------------------------------------------------
def test_log_tail_joins_partial_lines(tmp_path):
    log = tmp_path / 'ha-log'
    log.write_text('old line\n')
    tail = monitor.LogTail(str(log))
    assert tail.lines() == ['old line']
    with open(log, 'a') as f:
        f.write('node laicoz: is de')
        f.flush()
        assert tail.lines() == []                 # half a line is not a line yet
        f.write('ad\n\nnext\n')
    assert tail.lines() == ['node laicoz: is dead', 'next']
    assert tail.lines() == []


def test_log_tail_follows_a_new_file(tmp_path):
    log = tmp_path / 'ha-log'
    log.write_text('a long line of the first life of the daemon\npartial')
    tail = monitor.LogTail(str(log))
    assert tail.lines() == ['a long line of the first life of the daemon']
    log.write_text('short\n')                     # truncated: a new life
    assert tail.lines() == ['short']              # and no 'partial' glued to it
    new = tmp_path / 'new'
    new.write_text('x' * 100 + '\nafter power-on\n')
    os.replace(new, log)                          # replaced by a file longer than the old one
    assert tail.lines() == ['x' * 100, 'after power-on']


def test_log_tail_of_a_missing_file(tmp_path):
    tail = monitor.LogTail(str(tmp_path / 'not-yet'))
    assert tail.lines() == []
    (tmp_path / 'not-yet').write_text('born\n')
    assert tail.lines() == ['born']


# -- the event schema and the recorder ---------------------------------------------------
def test_event_lines_round_trip(capsys):
    events.emit('vip', held=True)
    line = capsys.readouterr().out
    e = events.parse(line)
    assert e['kind'] == 'vip' and e['held'] is True and abs(e['t'] - time.time()) < 5
    assert events.parse('listening') is None and events.parse('[1, 2]') is None
    assert events.is_kind('vip')(line) == e and events.is_kind('ipvs')(line) is None


def test_recorder_keeps_state_and_writes_every_event(tmp_path):
    rec = Recorder(tmp_path / 'events.jsonl')
    rec.add('laicoy', json.dumps({'kind': 'vip', 'held': True, 't': 1.0}))
    rec.add('laicoy', json.dumps({'kind': 'ipvs', 'table': {SVC: REALS}, 't': 2.0}))
    rec.add('client', json.dumps({'kind': 'probe', 'ok': True, 't': 3.0}))
    rec.add('laicoy', 'Traceback (most recent call last):')
    rec.close()
    assert rec.node('laicoy')['vip'] is True and rec.reals('laicoy', SVC) == set(REALS)
    assert rec.node('laicoz') == {'vip': False, 'table': {}, 'ready': False, 'link': True,
                                  'arp': None}
    assert [p['t'] for p in rec.probes] == [3.0]
    assert rec.events[-1]['kind'] == 'output' and rec.events[-1]['node'] == 'laicoy'
    written = [json.loads(line) for line in (tmp_path / 'events.jsonl').read_text().splitlines()]
    assert [e['kind'] for e in written] == ['vip', 'ipvs', 'probe', 'output']
    assert all('node' in e for e in written)


def test_wait_for_wakes_when_the_state_comes():
    rec = Recorder()
    t0 = time.time()
    timer = threading.Timer(0.3, rec.add, ('laicoy', json.dumps({'kind': 'vip', 'held': True,
                                                                 't': 0})))
    timer.start()
    t = rec.wait_for(lambda r: r.node('laicoy')['vip'], timeout=10)
    assert t is not None and 0.25 <= t - t0 < 2     # woken by the event, not by the timeout


def test_wait_for_gives_up_with_none():
    rec = Recorder()
    t0 = time.monotonic()
    assert rec.wait_for(lambda r: r.node('laicoy')['vip'], timeout=0.3) is None
    assert 0.25 <= time.monotonic() - t0 < 2


# -- the prober -----------------------------------------------------------------------------
def probe_run(url, seconds, rate=20, timeout=0.5):
    """The prober as the client runs it, stopped with SIGTERM after `seconds`."""
    proc = subprocess.Popen([PYTHON, '-m', 'topo.agents.httpclient', 'probe', '--url', url,
                             '--rate', str(rate), '--timeout', str(timeout)], cwd=str(ROOT),
                            stdout=subprocess.PIPE, universal_newlines=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    time.sleep(seconds)
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    said = [events.parse(line) for line in out.splitlines() if events.parse(line)]
    # one 'done' line at the end, with the prober's own CPU time (its cost at a rate)
    assert said[-1]['kind'] == 'done' and said[-1]['probes'] >= len(said) - 1
    assert said[-1]['cpu_s'] >= 0
    return said[:-1]


class LocalWeb:
    """The real servers' web server (nginx, as in the cluster) on loopback: nothing
    leaves this machine. It can be stopped and started again."""

    def __init__(self, directory):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            self.port = s.getsockname()[1]
        self.url = 'http://127.0.0.1:%d/' % self.port
        self.nginx = NginxServer('laico9', self.port, directory)
        self.proc = None

    def start(self):
        self.nginx.prepare()
        conf = self.nginx.conf.read_text()
        self.nginx.conf.write_text(conf.replace('listen %d ' % self.port,
                                                'listen 127.0.0.1:%d ' % self.port))
        self.proc = subprocess.Popen(self.nginx.command(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.nginx.wait_ready(self.proc, timeout=20)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()       # the master stops its worker
            self.proc.wait()


@pytest.fixture
def local_web(tmp_path):
    web = LocalWeb(tmp_path / 'nginx')
    web.start()
    yield web
    web.stop()


@pytest.fixture
def web(local_web):
    return local_web.url


def test_prober_keeps_its_pace_and_names_the_server(web):
    probes = probe_run(web, 2.0)
    assert all(p['kind'] == 'probe' and p['ok'] and p['server'] == 'laico9' for p in probes)
    sent = sorted(p['t'] for p in probes)
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert 25 <= len(probes) <= 45                   # 20/s for about 2 s (start-up aside)
    assert abs(sum(gaps) / len(gaps) - 0.05) < 0.01  # the period, on average


def test_an_outage_does_not_slow_the_prober():
    """A server that never answers: every request times out, yet they leave at the rate."""
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(1024)                          # connections queue, nobody answers
        url = 'http://127.0.0.1:%d/' % silent.getsockname()[1]
        probes = probe_run(url, 2.5, timeout=1.0)
    assert probes and not any(p['ok'] for p in probes)
    sent = sorted(p['t'] for p in probes)
    assert (len(sent) - 1) / (sent[-1] - sent[0]) > 15    # still about 20/s, not 1/s


# -- the load generator (failover and conn-sync runs) ------------------------------------------
def loadgen(url, *args, during=None):
    """Run topo.agents.loadgen for its --duration; during(): done meanwhile (after 1.5 s)."""
    proc = subprocess.Popen([PYTHON, '-m', 'topo.agents.loadgen', '--url', url] +
                            [str(a) for a in args], cwd=str(ROOT), stdout=subprocess.PIPE,
                            universal_newlines=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if during:
        time.sleep(1.5)
        during()
    out, _ = proc.communicate(timeout=60)
    said = [events.parse(line) for line in out.splitlines() if events.parse(line)]
    return [e for e in said if e['kind'] == 'load'], said[-1]


def test_load_generator_counts_every_answer(web):
    seconds, done = loadgen(web, '--clients', 50, '--duration', 3, '--ramp', 0.2)
    assert done['kind'] == 'done' and done['failed'] == {} and done['ok'] > 100
    assert sum(s['ok'] for s in seconds) <= done['ok'] and len(seconds) >= 2
    assert all(s['p50_s'] <= s['p99_s'] <= s['max_s'] for s in seconds if s['ok'])
    assert done['cpu_s'] > 0                   # its own cost, reported with the run


def test_load_generator_carries_on_through_an_outage(local_web):
    """Unlike h2load, whose clients stop at their first error: failures are counted
    while the server is down, and answers come again once it is back."""
    def outage():
        local_web.stop()
        time.sleep(1.0)
        local_web.start()
    seconds, done = loadgen(local_web.url, '--clients', 20, '--duration', 10, '--ramp', 0.2,
                            '--timeout', 1, during=outage)
    assert sum(done['failed'].values()) > 0 and set(done['failed']) <= {
        'refused', 'reset', 'closed', 'connect-timeout', 'read-timeout'}
    # answered again at the end, with connections open (the very last second's record may
    # come after the clients closed theirs at --duration: open 0 there, seen once)
    assert seconds[-1]['ok'] > 0
    assert any(s['ok'] > 0 and s['open'] > 0 for s in seconds[-3:]), seconds[-3:]


def test_source_addresses_are_consecutive_across_octets():
    from topo.agents.loadgen import source_addresses
    assert source_addresses('198.18.0.254', 4) == ['198.18.0.254', '198.18.0.255',
                                                    '198.18.1.0', '198.18.1.1']
    assert source_addresses('10.0.0.1', 1) == ['10.0.0.1']


def test_count_mode_sends_n_requests_spread_over_the_source_addresses(local_web):
    """A connection per request, exactly N of them, each from the next of ten loopback
    addresses in turn: nginx's own access log names the sources."""
    log = local_web.nginx.dir / 'access.log'
    before = len(log.read_text().splitlines()) if log.exists() else 0
    _, done = loadgen(local_web.url, '--clients', 20, '--requests', 300, '--ramp', 0,
                      '--sources', '127.0.0.2', '--source-count', 10)
    assert done['kind'] == 'done' and done['ok'] == 300 and done['failed'] == {}
    assert done['requests'] == 300 and done['sources'] == 10
    assert done['latency']['n'] == done['connect']['n'] == 300
    # (to 0.1 ms: a loopback connect often rounds to 0; the slowest one does not)
    assert 0 <= done['connect']['p50_s'] <= done['latency']['p50_s']
    assert 0 < done['connect']['max_s'] <= done['latency']['max_s']
    assert done['latency']['p50_s'] <= done['latency']['p99_s'] <= done['latency']['max_s']
    local_web.stop()            # nginx writes its buffered access log on the way out
    sources = {}
    for line in log.read_text().splitlines()[before:]:
        sources[line.split()[0]] = sources.get(line.split()[0], 0) + 1
    assert sources == {'127.0.0.%d' % i: 30 for i in range(2, 12)}


def test_count_mode_counts_failures_and_ends(local_web):
    local_web.stop()
    _, done = loadgen(local_web.url, '--clients', 5, '--requests', 50, '--ramp', 0)
    assert done['ok'] == 0 and done['failed'] == {'refused': 50} and done['requests'] == 50


def test_sessions_survive_a_steady_server_and_break_when_it_goes(local_web):
    _, steady = loadgen(local_web.url, '--clients', 30, '--duration', 2.5, '--keepalive',
                        '--interval', 0.2, '--ramp', 0.2)
    assert steady['sessions'] == steady['unbroken'] == 30 and steady['reconnects'] == 0
    assert len(steady['unbroken_last_ok']) == 30 and steady['ok'] >= 30 * 5

    def outage():
        local_web.stop()
        time.sleep(0.5)
        local_web.start()
    _, broken = loadgen(local_web.url, '--clients', 30, '--duration', 4, '--keepalive',
                        '--interval', 0.2, '--ramp', 0.2, during=outage)
    assert broken['unbroken'] == 0 and broken['reconnects'] >= 30


def test_the_hub_sniffer_queues_only_the_frames_it_counts(tmp_path):
    """The hub check's observer filters in the kernel (classic BPF on the MACs): a burst
    of other frames (Corosync's at start-up) cannot fill its buffer and lose the pings."""
    script = tmp_path / 'sniff.sh'
    script.write_text('''set -e
ip link add a0 type veth peer name b0
ip link set a0 up; ip link set b0 up
A=$(ip -o link show a0 | grep -o "link/ether [0-9a-f:]*" | cut -d" " -f2)
%(py)s -m topo.agents.sniff --iface b0 --src $A --dst 02:00:00:00:00:99 --want 5 \\
    --timeout 10 > %(out)s &
sleep 1
%(py)s - $A <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('a0', 0))
src = bytes.fromhex(sys.argv[1].replace(':', ''))
for i in range(2000):       # other frames, more than a socket buffer holds
    s.send(bytes.fromhex('020000000098') + src + b'\\x08\\x00' + b'x' * 1400)
for i in range(5):
    s.send(bytes.fromhex('020000000099') + src + b'\\x08\\x00' + b'y' * 100)
PY
wait
''' % {'py': PYTHON, 'out': tmp_path / 'out'})
    p = subprocess.run(['unshare', '-n', 'sh', str(script)], cwd=str(ROOT),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    assert p.returncode == 0, p.stdout
    count = [json.loads(line) for line in (tmp_path / 'out').read_text().splitlines()][-1]
    assert count['kind'] == 'count' and count['seen'] == 5
    assert count['passed'] == 5 and count['dropped'] == 0      # nothing else was queued
