"""The load lab's measurements, a row of load.csv each: a level of the ramp from the
client, through the VIP or straight to one real server (the same run's baseline),
in one of two patterns:

  keepalive  h2load, HTTP/1.1 keep-alive: N clients are N connections, reused (the
             director schedules N connections in all)
  close      the load generator (topo/agents/loadgen.py), one connection per request
             (Connection: close): the director schedules every request, as for the
             browsers of the paper's time; from the clients' many addresses

Each level also says what it cost and what the kernels saw: the client's SYNs sent
again, the connections IPVS scheduled, the real servers' listen-queue drops, and
the machine's CPU busy time (per connection: the director's share is what the VIP
path costs beyond the direct one), and the bytes the hub carried per request (laicoz's
cable in both directions: a hub repeats every frame on every port, so a 10 Mbit/s hub's
ceiling is 10 Mbit/s over all of them).
"""
import csv
import subprocess
import time

from topo.agents import events, h2load
from topo.engine.run import stage
from topo.kernels import run_id
from topo.network import counters
from topo.network.config import DIRECTORS, PRIMARY
from topo.network.webserver import raise_limits
from topo.stats import percentile

LEVEL_FIELDS = ['level', 'pattern', 'target', 'concurrency', 'requests', 'ok', 'failed',
                'errors', 'rps', 'p50_s', 'p90_s', 'p99_s', 'max_s', 'connect_p50_s',
                'connect_p99_s', 'connect_max_s', 'syn_retrans', 'ipvs_connections',
                'ipvs_by_director', 'listen_drops', 'cpu_per_request_ms',
                'hub_bytes_per_request', 'sources', 'answers', 'servers']
# active/active: the VIP through laicoz alone (the router's ECMP route with its next
# hop only), against 'vip' through both
ONE_DIRECTOR = 'one-director'
PATTERNS = ('keepalive', 'close')
# --page: (path, request headers, what it is)
PAGES = {'light': ('/', (), 'the page naming the server, a few bytes (the paper\'s page)'),
         'cgi': ('/work.html', ('Accept-Encoding: gzip',),
                 'a page the server compresses per request (1 MB in, 1.5 kB out, ~3 ms of '
                 'CPU natively): server work a CPU cap can see, as a 2003 dynamic page')}
IPVS_ESTIMATOR_S = 2.1
CONNECT_TIMEOUT_S = 10.0        # a request not answered in this time failed (3 SYN retries)


class Level:
    """`requests` requests from `clients` simultaneous clients to the VIP (the static
    service's servers) or 'direct' to the first real server; a level of the ramp
    (index: its place), or (scale=True) a point of the scale-out."""
    pattern = None

    def __init__(self, target, clients, requests, page='light', scale=False, index=0):
        self.target, self.clients, self.requests = target, clients, requests
        self.page, self.scale, self.index = page, scale, index

    def __call__(self, run):
        net, config = run.network, run.config
        path, headers, _ = PAGES[self.page]
        if self.target == ONE_DIRECTOR:
            net[config.router].route_vip(config, [PRIMARY])
            try:
                return self.measure_level(run, net, config, path, headers)
            finally:
                net[config.router].route_vip(config, DIRECTORS)
        return self.measure_level(run, net, config, path, headers)

    def measure_level(self, run, net, config, path, headers):
        if self.target in ('vip', ONE_DIRECTOR):
            url = net.url(path)
            servers = [net[s] for s in run.static_servers or config.real_servers]
        else:
            first = net.real_servers[0]
            url, servers = 'http://%s%s' % (config.real_endpoint(first.name), path), [first]
        name = ('servers-%d' % len(servers) if self.scale
                else '%s-%s-%d-%d' % (self.pattern, self.target, self.clients, self.index))
        stage('%s, %s: %d requests from %d simultaneous clients (%s)'
              % (self.target, self.pattern, self.requests, self.clients, url))
        cost = Cost(net, servers)
        level = self.measure(run, url, servers, headers, run.out / 'load' / ('%s.txt' % name))
        level.update(cost.since(level['ok'] + level['failed']), target=self.target,
                     servers=len(servers), pattern=self.pattern, level=self.index)
        (run.measured.scale if self.scale else run.measured.levels).append(level)
        write_row(run.out / 'load.csv', level)
        stage('  %d ok, %d failed %s, %.0f req/s, p50 %s s, p99 %s s, answers %s'
              % (level['ok'], level['failed'], level['errors'] or '', level['rps'],
                 level['p50_s'], level['p99_s'], level['answers']))
        stage('  SYNs sent again %s, IPVS connections %s%s, CPU %s ms per request'
              % (level['syn_retrans'], level['ipvs_connections'],
                 ' (%s)' % _kinds(level['ipvs_by_director'])
                 if len(level['ipvs_by_director']) > 1 else '', level['cpu_per_request_ms']))


class H2loadLevel(Level):
    pattern = 'keepalive'

    def measure(self, run, url, servers, headers, keep):
        return measure(run.network, url, self.clients, self.requests, servers, keep=keep,
                       headers=headers)


class ConnectionLevel(Level):
    pattern = 'close'

    def measure(self, run, url, servers, headers, keep):
        net = run.network
        before = {s.name: s.answered() for s in servers}
        args = ['--url', url, '--clients', self.clients, '--requests', self.requests,
                '--ramp', 0, '--timeout', CONNECT_TIMEOUT_S]
        args += [a for h in headers for a in ('--header', h)]
        if run.config.client_sources:
            first, count = run.config.client_sources
            args += ['--sources', first, '--source-count', count]
        proc = net.client.agent('topo.agents.loadgen', *args, preexec_fn=raise_limits)
        try:
            out, _ = proc.communicate(timeout=1800)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise RuntimeError('the load generator did not finish within 30 min (%d clients)'
                               % self.clients)
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(out)
        done = [e for e in map(events.parse, out.splitlines()) if e and e['kind'] == 'done']
        if proc.returncode or not done:
            raise RuntimeError('the load generator failed (exit %s): %s'
                               % (proc.returncode, ' | '.join(out.strip().splitlines()[-3:])))
        d = done[-1]
        failed = sum(d['failed'].values())
        lat, con = d['latency'], d['connect']
        return {'concurrency': self.clients, 'requests': self.requests, 'ok': d['ok'],
                'failed': failed, 'errors': d['failed'],
                'rps': round(d['ok'] / d['elapsed_s'], 1) if d['elapsed_s'] else 0.0,
                'elapsed_s': d['elapsed_s'], 'p50_s': lat['p50_s'], 'p90_s': lat['p90_s'],
                'p99_s': lat['p99_s'], 'max_s': lat['max_s'],
                'connect_p50_s': con['p50_s'], 'connect_p90_s': con['p90_s'],
                'connect_p99_s': con['p99_s'], 'connect_max_s': con['max_s'],
                'sources': d['sources'], 'loadgen_cpu_s': d['cpu_s'],
                'answers': answers(servers, before, d['ok'])}


LEVELS = {cls.pattern: cls for cls in (H2loadLevel, ConnectionLevel)}


class ConntrackMax:
    """The kernel's connection-tracking table at `entries` (one limit for every
    namespace: the sandbox's kernel only, never a host's): UML's own default for its
    1 GB is 8,192, which lost the SYNs of the connection-per-request load."""
    PATH = '/proc/sys/net/netfilter/nf_conntrack_max'

    def __init__(self, entries):
        self.entries = entries

    def __call__(self, run):
        with open(self.PATH) as f:
            was = f.read().strip()
        with open(self.PATH, 'w') as f:
            f.write('%d\n' % self.entries)
        stage('connection tracking: at most %d entries per namespace (was %s)'
              % (self.entries, was))


class Cost:
    """What a level cost and what the kernels saw meanwhile (topo/network/counters.py)."""

    def __init__(self, net, servers):
        self.net, self.servers = net, servers
        self.before = self.read()

    def read(self):
        tcp = counters.netstat(self.net.client.proc_net('netstat')).get('TcpExt', {})
        listen = 0
        for s in self.servers:
            ext = counters.netstat(s.proc_net('netstat')).get('TcpExt', {})
            listen += ext.get('ListenDrops', 0) + ext.get('ListenOverflows', 0)
        with open('/proc/stat') as f:
            cpu = counters.cpu_busy_s(f.read())
        director = self.net.director()
        # laicoz's cable carries every frame on the hub: in, or out when laicoz sends it
        carried = sum(d['rx'] + d['tx'] for intf, d in
                      counters.dev_bytes(director.proc_net('dev')).items() if intf != 'lo')
        return {'syn_retrans': tcp.get('TCPSynRetrans'), 'listen_drops': listen,
                'ipvs_stats': self.ipvs_stats(), 'cpu': cpu, 'hub_bytes': carried}

    def ipvs_stats(self):
        """{director: its /proc/net/ip_vs_stats} (active/active: both serve)."""
        return {d.name: d.proc_net('ip_vs_stats') for d in self.net.directors}

    def settle(self, stats):
        """`stats` once every connection the level made is counted in them. IPVS adds
        its per-CPU counts to ip_vs_stats only at its estimator's tick, every 2 s and
        later on a busy machine: one read 2 s after another can miss the tick. So wait,
        for each director that may have scheduled something (its file changed during
        the level, or its connection table is not empty), for the file to change after
        the load ended (after traffic its rates move at every tick); for at most two
        ticks, after which a tick must have come."""
        directors = {d.name: d for d in self.net.directors}
        waiting = {n for n, text in stats.items()
                   if counters.ipvs_connections(text) is not None
                   and (text != self.before['ipvs_stats'][n]
                        or counters.ipvs_entries(directors[n].proc_net('ip_vs_conn')))}
        deadline = time.monotonic() + 2 * IPVS_ESTIMATOR_S
        first = dict(stats)
        while waiting and time.monotonic() < deadline:
            time.sleep(0.25)
            stats = dict(stats, **{n: directors[n].proc_net('ip_vs_stats') for n in waiting})
            waiting = {n for n in waiting if stats[n] == first[n]}
        return stats

    def since(self, requests):
        now = self.read()
        stats = self.settle(now.pop('ipvs_stats'))
        scheduled = {n: counters.ipvs_connections(t) for n, t in stats.items()}
        was = {n: counters.ipvs_connections(t)
               for n, t in self.before['ipvs_stats'].items()}
        by_director = {n: c - was[n] for n, c in scheduled.items()
                       if None not in (c, was[n]) and c - was[n]}
        d = {k: (now[k] - self.before[k] if None not in (now[k], self.before[k]) else None)
             for k in now}
        d['ipvs_connections'] = sum(by_director.values()) \
            if set(scheduled.values()) != {None} else None
        d['ipvs_by_director'] = by_director
        cpu, carried = d.pop('cpu'), d.pop('hub_bytes')
        d['hub_bytes_per_request'] = round(carried / requests) if requests else None
        d['cpu_busy_s'] = round(cpu, 2) if cpu is not None else None
        d['cpu_per_request_ms'] = round(1e3 * cpu / requests, 3) if cpu and requests else None
        return d


def write_row(path, level):
    new = not path.exists()
    with open(path, 'a', newline='') as f:
        writer = csv.DictWriter(f, LEVEL_FIELDS, extrasaction='ignore')
        if new:
            writer.writeheader()
        writer.writerow(dict(level, errors=_kinds(level['errors']),
                             answers=_kinds(level['answers']),
                             ipvs_by_director=_kinds(level.get('ipvs_by_director') or {})))


def _kinds(d):
    return ' '.join('%s=%s' % kv for kv in sorted(d.items()))


def answers(servers, before, ok):
    """{server: requests it answered since before}; nginx flushes its access log
    buffer each second: waits (5 s at most) until every answer is in."""
    end = time.monotonic() + 5
    while True:
        got = {s.name: s.answered() - before[s.name] for s in servers}
        if sum(got.values()) >= ok or time.monotonic() > end:
            return {k: v for k, v in got.items() if v}
        time.sleep(0.1)


def measure(net, url, clients, requests, servers, keep=None, headers=()):
    """One h2load run from the client; the level's numbers (topo/agents/h2load.py).
    keep: where h2load's own report is saved."""
    # where the client writes it: a path every backend's client has (a machine's own /tmp)
    log = '/tmp/hatestbed-h2load.%s.%d.log' % (run_id(), time.monotonic_ns())
    before = {s.name: s.answered() for s in servers}
    proc = net.client.popen(h2load.command(url, clients, requests, log, headers=headers),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, preexec_fn=raise_limits)
    try:
        out, _ = proc.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError('h2load did not finish within 30 min (%d clients)' % clients)
    if keep:
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(out)
    summary = h2load.parse_summary(out)
    rows = h2load.parse_log(net.client.take_file(log))
    ok = summary['status'].get('2xx', summary['succeeded'])
    lat = sorted(d for _, status, d in rows if 200 <= status < 300)
    r = lambda v: None if v is None else round(v, 4)
    return {'concurrency': clients, 'requests': requests, 'ok': ok, 'failed': requests - ok,
            'errors': h2load.errors_by_kind(summary),
            'rps': round(ok / summary['elapsed_s'], 1) if summary['elapsed_s'] else 0.0,
            'elapsed_s': round(summary['elapsed_s'], 2),
            'p50_s': r(percentile(lat, 50)), 'p90_s': r(percentile(lat, 90)),
            'p99_s': r(percentile(lat, 99)), 'max_s': r(lat[-1] if lat else None),
            'answers': answers(servers, before, ok)}
