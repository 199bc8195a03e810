"""The load lab's measurement: one h2load run from the client, through the VIP or
straight to one real server (the same run's baseline); load.csv gets a row each."""
import csv
import subprocess
import time

from topo.agents import h2load
from topo.engine.run import stage
from topo.network.webserver import raise_limits
from topo.stats import percentile

LEVEL_FIELDS = ['target', 'concurrency', 'requests', 'ok', 'failed', 'errors', 'rps', 'p50_s',
                'p90_s', 'p99_s', 'max_s', 'answers', 'servers']
# --page: (path, request headers, what it is)
PAGES = {'light': ('/', (), 'the page naming the server, a few bytes (the paper\'s page)'),
         'cgi': ('/work.html', ('Accept-Encoding: gzip',),
                 'a page the server compresses per request (1 MB in, 1.5 kB out, ~3 ms of '
                 'CPU natively): server work a CPU cap can see, as a 2003 dynamic page')}


class H2loadLevel:
    """`requests` requests from `clients` simultaneous h2load clients to the VIP (the
    static service's servers) or 'direct' to the first real server; a level of the
    ramp, or (scale=True) a point of the scale-out."""

    def __init__(self, target, clients, requests, page='light', scale=False):
        self.target, self.clients, self.requests = target, clients, requests
        self.page, self.scale = page, scale

    def __call__(self, run):
        net, config = run.network, run.config
        path, headers, _ = PAGES[self.page]
        if self.target == 'vip':
            url = net.url(path)
            servers = [net[s] for s in run.static_servers or config.real_servers]
        else:
            first = net.real_servers[0]
            url, servers = 'http://%s:%d%s' % (first.address(), config.port, path), [first]
        name = ('servers-%d' % len(servers) if self.scale
                else '%s-%d' % (self.target, self.clients))
        stage('%s: %d requests from %d simultaneous clients (%s)'
              % (self.target, self.requests, self.clients, url))
        level = dict(measure(net, url, self.clients, self.requests, servers,
                             keep=run.out / 'h2load' / ('%s.txt' % name), headers=headers),
                     target=self.target, servers=len(servers))
        (run.measured.scale if self.scale else run.measured.levels).append(level)
        write_row(run.out / 'load.csv', level)
        stage('  %d ok, %d failed %s, %.0f req/s, p50 %s s, p99 %s s, answers %s'
              % (level['ok'], level['failed'], level['errors'] or '', level['rps'],
                 level['p50_s'], level['p99_s'], level['answers']))


def write_row(path, level):
    new = not path.exists()
    with open(path, 'a', newline='') as f:
        writer = csv.DictWriter(f, LEVEL_FIELDS, extrasaction='ignore')
        if new:
            writer.writeheader()
        writer.writerow(dict(level, errors=_kinds(level['errors']),
                             answers=_kinds(level['answers'])))


def _kinds(d):
    return ' '.join('%s=%s' % kv for kv in sorted(d.items()))


def measure(net, url, clients, requests, servers, keep=None, headers=()):
    """One h2load run from the client; the level's numbers (topo/agents/h2load.py).
    keep: where h2load's own report is saved."""
    log = net.workdir / ('h2load-%d.log' % time.monotonic_ns())
    before = {s.name: s.nginx.answered() for s in servers}
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
    rows = h2load.parse_log(log.read_text()) if log.exists() else []
    log.unlink(missing_ok=True)
    ok = summary['status'].get('2xx', summary['succeeded'])
    # nginx flushes its access log buffer each second: wait until every answer is in
    end = time.monotonic() + 5
    while True:
        answers = {s.name: s.nginx.answered() - before[s.name] for s in servers}
        if sum(answers.values()) >= ok or time.monotonic() > end:
            break
        time.sleep(0.1)
    lat = sorted(d for _, status, d in rows if 200 <= status < 300)
    r = lambda v: None if v is None else round(v, 4)
    return {'concurrency': clients, 'requests': requests, 'ok': ok, 'failed': requests - ok,
            'errors': h2load.errors_by_kind(summary),
            'rps': round(ok / summary['elapsed_s'], 1) if summary['elapsed_s'] else 0.0,
            'elapsed_s': round(summary['elapsed_s'], 2),
            'p50_s': r(percentile(lat, 50)), 'p90_s': r(percentile(lat, 90)),
            'p99_s': r(percentile(lat, 99)), 'max_s': r(lat[-1] if lat else None),
            'answers': {k: v for k, v in answers.items() if v}}
