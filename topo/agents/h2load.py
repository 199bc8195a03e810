"""h2load (Debian's nghttp2-client), the ramp's load generator: its command line
and what it writes.

It runs as one process with one event loop on the client host. `--log-file`
gives one tab-separated line per request: start time (µs since the epoch),
HTTP status (-1: failed), duration (µs). Requests a client never started
(its connection failed first) are in the summary's "failed" but not in the
log, so the counts come from the summary and the latencies from the log.
"""
import re

BINARY = 'h2load'


def command(url, clients, requests, log_file, inactivity_timeout=30, headers=()):
    """One thread (UML has one CPU); HTTP/1.1 keep-alive; a connection silent for
    inactivity_timeout seconds is given up (counted as a timeout)."""
    extra = [a for h in headers for a in ('-H', h)]
    return [BINARY, '--h1', '-t', '1', '-c', str(clients), '-n', str(requests),
            '-N', '%ds' % inactivity_timeout, '--log-file=%s' % log_file] + extra + [url]


def parse_log(text):
    """[(start_s, status, duration_s)] of every request in a --log-file."""
    rows = []
    for line in text.splitlines():
        parts = line.split('\t')
        if len(parts) != 3:
            continue
        start_us, status, duration_us = (int(p) for p in parts)
        rows.append((start_us / 1e6, status, duration_us / 1e6))
    return rows


_REQUESTS = re.compile(r'requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, '
                       r'(\d+) failed, (\d+) errored, (\d+) timeout')
_STATUS = re.compile(r'status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx')
_FINISHED = re.compile(r'finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s')
_UNIT = {'us': 1e-6, 'ms': 1e-3, 's': 1.0}


def parse_summary(text):
    """h2load's closing summary: counts, elapsed seconds, req/s. Raises ValueError when
    the text has none (h2load did not run to its end)."""
    m = _REQUESTS.search(text)
    f = _FINISHED.search(text)
    if not m or not f:
        raise ValueError('no h2load summary in: %s' % ' | '.join(text.strip().splitlines()[-3:]))
    total, started, done, succeeded, failed, errored, timeout = (int(x) for x in m.groups())
    s = _STATUS.search(text)
    codes = dict(zip(('2xx', '3xx', '4xx', '5xx'), (int(x) for x in s.groups()))) if s else {}
    return {'total': total, 'started': started, 'done': done, 'succeeded': succeeded,
            'failed': failed, 'errored': errored, 'timeout': timeout, 'status': codes,
            'elapsed_s': float(f.group(1)) * _UNIT[f.group(2)], 'rps': float(f.group(3))}


def errors_by_kind(summary):
    """Failed requests by kind: connection errors, timeouts, non-2xx answers, and the
    requests never started because their client's connection had failed."""
    codes = summary['status']
    not_started = summary['total'] - summary['started']
    kinds = {'errored': max(0, summary['errored'] - not_started), 'timeout': summary['timeout'],
             'http-3xx': codes.get('3xx', 0), 'http-4xx': codes.get('4xx', 0),
             'http-5xx': codes.get('5xx', 0),
             'not-started': not_started}
    return {k: v for k, v in kinds.items() if v}
