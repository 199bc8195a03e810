#!/usr/bin/env python3
"""How IPVS spreads connections with each scheduler of the paper's section 2.2: rr, wrr, lc, wlc.

  sudo python3 experiments/schedulers.py                    # weights 2,3,4, all four schedulers
  sudo python3 experiments/schedulers.py --weights 1,2,3 --schedulers wrr,wlc

One cluster boot serves every scheduler: laicoz holds the VIP with a static
IPVS service (no HA daemons) and the scheduler is switched with `ipvsadm -E`.
For each scheduler, from a drained connection table:

 1. short requests: whole rounds of sequential HTTP requests, each on a new
    connection (a round: the weight sum over its gcd, 9 for 2,3,4). rr and wrr ignore the
    connection counters: rr gives equal shares, wrr exactly w_i per round
    (2, 3, 4 of every 9: the paper's worked example). lc and wlc pick the
    least (256*ActiveConn + InActConn)[/weight]; as every short connection is
    inactive before the next one starts, they spread like rr and wrr.
 2. long-lived connections (the paper's TELNET remark): the last real server
    already carries some held sessions (opened while the others were
    quiesced at weight 0), then more are opened and all are held while
    `ipvsadm -L` is captured. rr and wrr ignore the sessions already there;
    lc evens out ActiveConn, wlc makes ActiveConn proportional to the weights.

The IPVS FIN_WAIT timeout is shortened (ipvsadm --set) so finished
connections leave the counters in seconds instead of two minutes; the run
waits for every counter to be 0 before each phase.
"""
import json
import math
import os
import subprocess
import sys
import time
from functools import reduce
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402

SCHEDULERS = ('rr', 'wrr', 'lc', 'wlc')
WEIGHTED = ('wrr', 'wlc')           # the schedulers that look at the weights' values
COUNTING = ('lc', 'wlc')            # the schedulers that look at the connection counters


# -- expectation maths (no Mininet: unit-tested on hand-made inputs) --------
def _gcd(values):
    return reduce(math.gcd, values, 0)


def _lcm(a, b):
    return a * b // math.gcd(a, b)


def in_service(weights):
    """Names of the servers IPVS schedules to (weight > 0), in order."""
    return [s for s, w in weights.items() if w > 0]


def wrr_round(weights):
    """IPVS wrr's cycle: {server: picks per cycle}; the cycle has sum(w)/gcd(w) picks.

    The kernel lowers its current weight by gcd(w) from max(w) down to gcd(w),
    passing over the servers whose weight reaches it: a server with weight w
    is picked w/gcd times per cycle (2, 3, 4 of 9 for the weights 2, 3, 4).
    """
    g = _gcd([w for w in weights.values() if w > 0])
    if not g:
        raise ValueError('no server has a weight above 0')
    return {s: w // g for s, w in weights.items()}


def round_size(weights):
    """Requests per round: whole wrr cycles that are also whole rr turns."""
    return _lcm(sum(wrr_round(weights).values()), len(in_service(weights)))


def expected_share(scheduler, weights):
    """Share of short requests each server should get, starting from 0 counters.

    rr and lc: equal shares among the servers in service (lc: every short
    connection is inactive again before the next is scheduled, so the least
    InActConn goes round like rr); wrr and wlc: proportional to the weights.
    """
    if scheduler not in SCHEDULERS:
        raise ValueError('unknown scheduler %r' % scheduler)
    live = in_service(weights)
    if not live:
        raise ValueError('no server has a weight above 0')
    if scheduler in WEIGHTED:
        total = sum(weights[s] for s in live)
        return {s: (weights[s] / total if s in live else 0.0) for s in weights}
    return {s: (1 / len(live) if s in live else 0.0) for s in weights}


def max_deviation(counts, share):
    """Largest |observed - expected| over the servers, in requests (0: exact)."""
    total = sum(counts.get(s, 0) for s in share)
    return max(abs(counts.get(s, 0) - share[s] * total) for s in share)


def count(names, servers):
    """{server: how many of names} for every server (0 included)."""
    out = {s: 0 for s in servers}
    for n in names:
        if n in out:
            out[n] += 1
    return out


def rounds(sequence, servers, size):
    """Counts per server in each consecutive whole round of size requests."""
    return [count(sequence[i:i + size], servers)
            for i in range(0, len(sequence) - size + 1, size)]


def rounds_exact(sequence, share, size):
    """True when every whole round gives each server exactly share * size requests."""
    per_round = rounds(sequence, list(share), size)
    want = {s: share[s] * size for s in share}
    return bool(per_round) and len(sequence) % size == 0 and all(
        all(abs(r[s] - want[s]) < 1e-9 for s in share) for r in per_round)


def water_fill(start, weights, extra):
    """Where `extra` new connections end up when each goes to the least loaded server.

    Least loaded: smallest connections/weight among the servers in service
    (lc: pass weight 1 for each). Real-valued: the level c with
    sum(max(start_i, c * w_i)) = sum(start) + extra; servers already above
    it keep what they have. An integer scheduler lands within 1 of it.
    """
    live = in_service(weights)
    if not live:
        raise ValueError('no server has a weight above 0')
    target = sum(start[s] for s in live) + extra

    def filled(c):
        return sum(max(start[s], c * weights[s]) for s in live)
    lo, hi = 0.0, max(start[s] / weights[s] for s in live) + extra / min(weights[s] for s in live) + 1
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if filled(mid) < target else (lo, mid)
    c = (lo + hi) / 2
    return {s: (round(max(start[s], c * weights[s]), 6) if s in live else start[s]) for s in start}


def expected_held(scheduler, weights, preload, new):
    """ActiveConn per server once `new` long-lived connections join `preload` held ones.

    rr and wrr ignore the connections already there (new ones split equally,
    or by weight); lc equalizes ActiveConn, wlc makes ActiveConn/weight equal,
    as far as the new connections allow. Returns (active, new per server).
    """
    if scheduler in COUNTING:
        w = weights if scheduler == 'wlc' else {s: (1 if weights[s] > 0 else 0) for s in weights}
        active = water_fill(preload, w, new)
    else:
        share = expected_share(scheduler, weights)
        active = {s: round(preload[s] + share[s] * new, 6) for s in weights}
    return active, {s: round(active[s] - preload[s], 6) for s in weights}


def held_deviation(observed, expected):
    return max(abs(observed.get(s, 0) - expected[s]) for s in expected)


def tolerance(scheduler, weights, expected):
    """How far (in connections) a correct scheduler may land from `expected`.

    0 when every expected count is a whole number: whole rounds for rr and
    wrr, and for lc/wlc a level the greedy pick reaches exactly (a server can
    only pass its share once every other server has reached its own). Else
    the integer rounding: under 1 for rr and lc; for wlc, whose pick is the
    least ActiveConn/weight, a heavy server may lag by up to
    servers * weight / weight sum connections.
    """
    if all(abs(v - round(v)) < 1e-6 for v in expected.values()):
        return 0
    live = in_service(weights)
    if scheduler == 'wlc':
        return max(1.0, len(live) * max(weights[s] for s in live) / sum(weights[s] for s in live))
    return 1.0


def within(deviation, tol):
    return deviation < 1e-9 if tol == 0 else deviation < tol


# -- the experiment ----------------------------------------------------------
def parse_args(argv=None):
    p = common.base_parser(__doc__.splitlines()[0])
    common.add_cluster_args(p, weights_default='2,3,4', scheduler=False)
    g = p.add_argument_group('schedulers')
    g.add_argument('--schedulers', default=','.join(SCHEDULERS),
                   help='schedulers to measure, in order (one cluster boot for all)')
    g.add_argument('--rounds', type=int, default=4,
                   help='short-request rounds per scheduler (a round: the weight sum, '
                        'made a multiple of the server count)')
    g.add_argument('--held-rounds', type=int, default=2,
                   help='rounds of new long-lived connections per scheduler')
    g.add_argument('--preload', type=int, default=None,
                   help='long-lived connections already on --preload-server before the new '
                        'ones (default: one round)')
    g.add_argument('--preload-server', default=None,
                   help='real server carrying the preloaded sessions (default: the last one)')
    g.add_argument('--fin-timeout', type=int, default=8,
                   help='IPVS FIN_WAIT timeout in seconds (ipvsadm --set; kernel default 120): '
                        'how long finished connections stay in InActConn')
    g.add_argument('--hold-timeout', type=float, default=300,
                   help='the load client releases its connections after this long whatever '
                        'happens')
    args = p.parse_args(argv)
    args.schedulers = [s.strip() for s in args.schedulers.split(',') if s.strip()]
    bad = [s for s in args.schedulers if s not in SCHEDULERS]
    if bad or not args.schedulers:
        p.error('--schedulers: choose from %s (got %s)' % (', '.join(SCHEDULERS), args.schedulers))
    if len(set(args.schedulers)) != len(args.schedulers):
        p.error('--schedulers: each scheduler once')
    args.scheduler = args.schedulers[0]         # the service is installed with the first
    try:
        args.config = common.cluster_config(args)
    except ValueError as e:
        p.error(str(e))
    config = args.config
    weights = dict(zip(config.real_servers, config.weights))
    if not in_service(weights):
        p.error('--weights: at least one real server needs a weight above 0')
    args.round = round_size(weights)
    for name in ('rounds', 'held_rounds'):
        if getattr(args, name) < 1:
            p.error('--%s must be at least 1' % name.replace('_', '-'))
    if args.preload is None:
        args.preload = args.round
    if args.preload < 0:
        p.error('--preload must be 0 or more')
    args.preload_server = args.preload_server or config.real_servers[-1]
    if args.preload_server not in weights:
        p.error('--preload-server must be one of %s' % ', '.join(config.real_servers))
    if args.preload and weights[args.preload_server] == 0:
        p.error('--preload-server %s has weight 0: IPVS would not give it connections'
                % args.preload_server)
    if not 1 <= args.fin_timeout <= 600:
        p.error('--fin-timeout must be 1..600 seconds')
    return args


def server_table(director, config):
    """{server: {'weight', 'active', 'inactive'}} from `ipvsadm -L -n`, plus the text."""
    from topo import ipvs
    numeric = director.snapshot(numeric=True)
    by_address = {config.addresses[s]: s for s in config.real_servers}
    table = {s: {'weight': None, 'active': 0, 'inactive': 0} for s in config.real_servers}
    for svc in ipvs.parse(numeric):
        if svc['address'] != '%s:%d' % (config.vip, config.port):
            continue
        for r in svc['real_servers']:
            name = by_address.get(r['host'], r['host'])
            table[name] = {'weight': r['weight'], 'active': r['active'], 'inactive': r['inactive']}
    return table, numeric


def wait_drained(director, config, timeout):
    """Wait until every ActiveConn and InActConn is 0; seconds waited."""
    t0 = time.monotonic()
    while True:
        table, _ = server_table(director, config)
        busy = sum(r['active'] + r['inactive'] for r in table.values())
        if busy == 0:
            return round(time.monotonic() - t0, 2)
        if time.monotonic() - t0 > timeout:
            raise RuntimeError('the IPVS connection table did not drain in %ds: %s'
                               % (timeout, table))
        time.sleep(1.0)


def read_event(proc, event, timeout):
    """The next JSON line of proc whose event is `event` (other lines are logged)."""
    from topo.nodes import read_until

    def accept(line):
        try:
            msg = json.loads(line)
        except ValueError:
            common.stage('load client: ' + line.rstrip())
            return None
        return msg if msg.get('event') == event else None
    return read_until(proc, accept, timeout, 'the load client to report %r' % event)


def set_weight(director, config, server, weight):
    from topo.config import FORWARDING
    out = director.ipvsadm('-e', '-t', '%s:%d' % (config.vip, config.port),
                           '-r', '%s:%d' % (config.addresses[server], config.port),
                           FORWARDING[config.forwarding][0], '-w', str(weight))
    if out.strip():
        raise RuntimeError('ipvsadm -e %s -w %s: %s' % (server, weight, out.strip()))


def short_phase(args, cluster, sched, out):
    config, laicoz = args.config, cluster.director()
    servers = config.real_servers
    weights = dict(zip(servers, config.weights))
    n = args.rounds * args.round
    t0 = time.monotonic()
    replies = cluster.burst(n)
    took = time.monotonic() - t0
    sequence = [r.get('server') if r.get('ok') else None for r in replies]
    answers = count(sequence, servers)
    failed = n - sum(answers.values())
    table, numeric = server_table(laicoz, config)
    (out / ('ipvsadm-%s-short.n.txt' % sched)).write_text(numeric)
    (out / ('ipvsadm-%s-short.txt' % sched)).write_text(laicoz.snapshot())
    share = expected_share(sched, weights)
    dev = max_deviation(answers, share)
    exact = rounds_exact(sequence, share, args.round)
    inactive = {s: table[s]['inactive'] for s in servers}
    return {
        'requests': n, 'failed': failed, 'short_seconds': round(took, 2),
        'requests_per_s': round(n / took, 1) if took > 0 else None,
        'answers': answers, 'sequence': sequence,
        'rounds': rounds(sequence, servers, args.round),
        'expected_share': {s: round(v, 6) for s, v in share.items()},
        'expected_answers': {s: round(share[s] * n, 6) for s in servers},
        'max_deviation': round(dev, 6),
        'max_deviation_share': round(dev / n, 6) if n else None,
        'rounds_exact': exact,
        # figure 6's view: every finished short connection is an InActConn until FIN_WAIT ends
        'inactive_after': inactive,
        'expired_during_phase': sum(inactive.values()) < n - failed,
    }


def held_phase(args, cluster, sched, out):
    config, laicoz = args.config, cluster.director()
    servers = config.real_servers
    weights = dict(zip(servers, config.weights))
    new = args.held_rounds * args.round
    preload = {s: (args.preload if s == args.preload_server else 0) for s in servers}
    total = args.preload + new
    t0 = time.monotonic()
    proc = cluster.client.python('topo.loadclient', '--host', config.vip, '--port', config.port,
                                 '--control', '--hold', args.hold_timeout,
                                 stdin=subprocess.PIPE)
    timeout = 60 + 2 * total

    def command(text):
        proc.stdin.write(text + '\n')
        proc.stdin.flush()
    try:
        if args.preload:
            others = [s for s in servers if s != args.preload_server and weights[s] > 0]
            for s in others:             # quiesce: only the preload server takes connections
                set_weight(laicoz, config, s, 0)
            command('open %d' % args.preload)
            opened = read_event(proc, 'opened', timeout)
            for s in others:
                set_weight(laicoz, config, s, weights[s])
            if opened['ok'] != args.preload:
                raise RuntimeError('preload: %d of %d connections opened: %s'
                                   % (opened['ok'], args.preload, opened['failed'][:3]))
        command('open %d' % new)
        opened = read_event(proc, 'opened', timeout)
        if opened['ok'] != new:
            raise RuntimeError('%d of %d long-lived connections opened: %s'
                               % (opened['ok'], new, opened['failed'][:3]))
        opened_s = time.monotonic() - t0
        # every held connection must show as ActiveConn: poll a few times if the
        # director has not yet seen the last handshakes
        peak = {s: 0 for s in servers}
        for attempt in range(10):
            table, numeric = server_table(laicoz, config)
            for s in servers:
                peak[s] = max(peak[s], table[s]['active'])
            if sum(table[s]['active'] for s in servers) >= total:
                break
            time.sleep(0.5)
        (out / ('ipvsadm-%s.n.txt' % sched)).write_text(numeric)
        (out / ('ipvsadm-%s.txt' % sched)).write_text(laicoz.snapshot())
        snapshot_active = {s: table[s]['active'] for s in servers}
        command('release')
        released = read_event(proc, 'released', timeout)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    by_batch = released['by_batch']
    got_new = count([c.get('server') for c in released['conns'] if c['batch'] == len(by_batch) - 1],
                    servers)
    got_preload = count([c.get('server') for c in released['conns']
                         if args.preload and c['batch'] == 0], servers)
    active_exp, new_exp = expected_held(sched, weights, preload, new)
    return {
        'preload': preload, 'preload_answers': got_preload, 'new': new,
        'held_answers': got_new, 'held_expected': new_exp,
        'active_peak': peak, 'active_snapshot': snapshot_active, 'active_expected': active_exp,
        'held_max_deviation': round(held_deviation(peak, active_exp), 6),
        'held_tolerance': tolerance(sched, weights, active_exp),
        'held_failed': released['counts'].get('failed', 0),
        'seconds_to_open': round(opened_s, 2), 'held_seconds': round(time.monotonic() - t0, 2),
    }


def checks_for(sched, r):
    """The pass/fail checks of one scheduler's results."""
    short_tol = (0 if sched in ('rr', 'wrr') or not r['expired_during_phase']
                 else tolerance(sched, r['weights'], r['expected_answers']))
    c = {
        'no_failed_requests': r['failed'] == 0 and r['held_failed'] == 0,
        # rr, wrr: the counters play no part, so every round must be exact; lc,
        # wlc: exact too from drained counters while no connection expires
        # during the phase, else within the integer granularity
        'short_share': within(r['max_deviation'], short_tol) and (r['rounds_exact'] or short_tol > 0),
        'preload_on_one_server': r['preload_answers'] == r['preload'],
        'all_held_active': sum(r['active_peak'].values()) == sum(r['preload'].values()) + r['new'],
        # the client's view (X-Served-By) and the director's (ActiveConn) agree
        'client_matches_ipvsadm': all(
            r['held_answers'][s] + r['preload_answers'][s] == r['active_snapshot'][s]
            for s in r['active_snapshot']),
        'held_spread': within(r['held_max_deviation'], r['held_tolerance']),
    }
    if not r['expired_during_phase']:
        # every finished short connection is one InActConn (figure 6's view)
        c['short_inactive_matches_answers'] = r['inactive_after'] == r['answers']
    return c


def body(args, out):
    from topo import sandbox
    from topo.cluster import Cluster
    config = args.config
    weights = dict(zip(config.real_servers, config.weights))
    settings = {'schedulers': args.schedulers, 'round_size': args.round,
                'short_requests': args.rounds * args.round,
                'held_new': args.held_rounds * args.round, 'preload': args.preload,
                'preload_server': args.preload_server, 'fin_timeout_s': args.fin_timeout}
    summary = common.Summary(out / 'summary.json', experiment='schedulers',
                             kernel_mode=sandbox.kernel_mode(),
                             kernel_release=os.uname().release,
                             parameters=config.as_dict(), settings=settings)
    t0 = time.monotonic()
    results = {}
    common.stage('starting the cluster: %s' % ', '.join(config.hosts))
    with Cluster(config, log=common.stage, log_dir=out) as cluster:
        summary.update(cluster_start_s=round(cluster.timings['start_s'], 2))
        laicoz = cluster.director()
        laicoz.install_service(config)
        laicoz.add_vip(config.vip, 32)
        err = laicoz.ipvsadm('--set', '0', str(args.fin_timeout), '0').strip()
        if err:
            raise RuntimeError('ipvsadm --set: %s' % err)
        timeouts = laicoz.ipvsadm('-L', '--timeout').strip()
        summary.update(ipvs_timeouts=timeouts)
        common.stage('cluster up in %.1fs; static service on laicoz, weights %s; %s'
                     % (cluster.timings['start_s'], weights, timeouts))
        vip = '%s:%d' % (config.vip, config.port)
        for sched in args.schedulers:
            ts = time.monotonic()
            out_e = laicoz.ipvsadm('-E', '-t', vip, '-s', sched)
            if out_e.strip():
                raise RuntimeError('ipvsadm -E -s %s: %s' % (sched, out_e.strip()))
            drain1 = wait_drained(laicoz, config, args.fin_timeout + 90)
            common.stage('%s: %d short requests' % (sched, args.rounds * args.round))
            short = short_phase(args, cluster, sched, out)
            common.stage('%s: answers %s in %.1fs (expected share %s, max deviation %g)'
                         % (sched, short['answers'], short['short_seconds'],
                            {s: round(v, 3) for s, v in short['expected_share'].items()},
                            short['max_deviation']))
            drain2 = wait_drained(laicoz, config, args.fin_timeout + 90)
            common.stage('%s: %d long-lived connections on top of %d held on %s'
                         % (sched, args.held_rounds * args.round, args.preload,
                            args.preload_server))
            held = held_phase(args, cluster, sched, out)
            common.stage('%s: ActiveConn while held %s (expected %s); new ones went %s'
                         % (sched, held['active_peak'], held['active_expected'],
                            held['held_answers']))
            r = dict(weights=weights, **short, **held)
            r['drain_s'] = [drain1, drain2]
            r['checks'] = checks_for(sched, r)
            r['passed'] = all(r['checks'].values())
            r['elapsed_s'] = round(time.monotonic() - ts, 2)
            results[sched] = r
            summary.update(schedulers=results)
            common.stage('%s: %s' % (sched, 'PASS' if r['passed'] else 'FAIL %s' % [
                k for k, v in r['checks'].items() if not v]))
    try:
        from experiments import plot_schedulers
        png = plot_schedulers.plot(out, complete=True)
        common.stage('plot: %s' % png)
        plotted = True
    except Exception as e:      # the measurements stand without the figure
        common.stage('plot failed: %s: %s' % (type(e).__name__, e))
        plotted = False
    ok = bool(results) and all(r['passed'] for r in results.values()) and plotted
    summary.finish(elapsed_run_s=round(time.monotonic() - t0, 2), plotted=plotted, passed=ok)
    common.stage('%s -> %s' % (', '.join('%s %s' % (s, 'ok' if r['passed'] else 'FAIL')
                                         for s, r in results.items()), 'PASS' if ok else 'FAIL'))
    print('results: %s' % out)
    return 0 if ok else 1


def main(argv=None):
    args = parse_args(argv)
    return common.run(args, ['cluster', 'plots'], 'schedulers', lambda out: body(args, out))


if __name__ == '__main__':
    common.use_system_python()
    sys.exit(main())
