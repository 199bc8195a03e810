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
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402
from experiments.scheduling import (SCHEDULERS, count, expected_held, expected_share,  # noqa: E402
                                   held_deviation, in_service, max_deviation, round_size,
                                   rounds, rounds_exact, tolerance, within)

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
    from topo.network import ipvs
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


def read_event(proc, kind, timeout):
    """The next event of proc of this kind (other lines are logged)."""
    from topo.agents.events import parse
    from topo.network.nodes import read_until

    def accept(line):
        event = parse(line)
        if event is None:
            common.stage('load client: ' + line.rstrip())
            return None
        return event if event['kind'] == kind else None
    return read_until(proc, accept, timeout, 'the load client to report %r' % kind)


def set_weight(director, config, server, weight):
    from topo.network.config import FORWARDING
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
    proc = cluster.client.python('topo.agents.loadclient', '--host', config.vip, '--port', config.port,
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
    from topo.network.cluster import Cluster
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
    common.use_system_python()
    args = parse_args(argv)
    return common.run(args, ['cluster', 'plots'], 'schedulers', lambda out: body(args, out))


if __name__ == '__main__':
    sys.exit(main())
