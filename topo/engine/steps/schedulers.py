"""How IPVS spreads connections with each scheduler of the paper's section 2.2, on a
static service, from a drained connection table:

 1. short requests: whole rounds of sequential HTTP requests, each on a new
    connection (a round: the weight sum over its gcd, 9 for 2,3,4). rr and wrr
    ignore the connection counters; lc and wlc pick the least
    (256*ActiveConn + InActConn)[/weight], and as every short connection is
    inactive before the next one starts, they spread like rr and wrr.
 2. long-lived connections (the paper's TELNET remark): the last real server
    already carries some held sessions (opened while the others were quiesced
    at weight 0), then more are opened and all are held while `ipvsadm -L` is
    captured. rr and wrr ignore the sessions already there; lc evens out
    ActiveConn, wlc makes ActiveConn proportional to the weights.

The hashing schedulers sh and mh pick the server from the client's address, so one
address would see one server: instead, requests from many client addresses
(--hash-sources), each address several times (--hash-passes). Every address must keep
its server, and the addresses spread over the servers by weight.
"""
import subprocess
import time
from dataclasses import asdict, dataclass

from topo.agents.events import parse, read_until
from topo.analysis.scheduling import (SCHEDULERS, checks_for, count, expected_held,
                                      expected_share, hashing_checks, hashing_result,
                                      held_deviation, in_service, max_deviation, round_size,
                                      rounds, rounds_exact, tolerance)
from topo.engine.run import stage
from topo.engine.steps.traffic import burst
from topo.network.config import HASHING, ConfigError


@dataclass
class SchedulerTrial:
    """What each scheduler is put through; check() refuses what cannot be measured."""
    schedulers: tuple = SCHEDULERS
    rounds: int = 4             # short-request rounds per scheduler
    held_rounds: int = 2        # rounds of new long-lived connections per scheduler
    preload: int = None         # long-lived connections already there (default: one round)
    preload_server: str = None  # who carries them (default: the last real server)
    fin_timeout: int = 8        # IPVS FIN_WAIT timeout (s): how long InActConn lasts
    hold_timeout: float = 300   # the load client lets go after this long whatever happens
    hash_sources: int = 300     # sh, mh: client addresses the requests come from
    hash_passes: int = 2        # sh, mh: requests per client address

    def check(self, config):
        """The trial completed with the cluster's defaults; ConfigError when impossible."""
        bad = [s for s in self.schedulers if s not in SCHEDULERS]
        if bad or not self.schedulers:
            raise ConfigError('--schedulers: choose from %s (got %s)'
                              % (', '.join(SCHEDULERS), list(self.schedulers)))
        if len(set(self.schedulers)) != len(self.schedulers):
            raise ConfigError('--schedulers: each scheduler once')
        weights = dict(zip(config.real_servers, config.weights))
        if not in_service(weights):
            raise ConfigError('--weights: at least one real server needs a weight above 0')
        for name in ('rounds', 'held_rounds'):
            if getattr(self, name) < 1:
                raise ConfigError('--%s must be at least 1' % name.replace('_', '-'))
        size = round_size(weights)
        preload = size if self.preload is None else self.preload
        server = self.preload_server or config.real_servers[-1]
        if preload < 0:
            raise ConfigError('--preload must be 0 or more')
        if server not in weights:
            raise ConfigError('--preload-server must be one of %s'
                              % ', '.join(config.real_servers))
        if preload and weights[server] == 0:
            raise ConfigError('--preload-server %s has weight 0: IPVS would not give it '
                              'connections' % server)
        if not 1 <= self.fin_timeout <= 600:
            raise ConfigError('--fin-timeout must be 1..600 seconds')
        if self.hashing:
            if self.hash_passes < 2:
                raise ConfigError('--hash-passes must be at least 2 (an address keeps its '
                                  'server only if it asks again)')
            if self.hash_sources < 2 * len(in_service(weights)):
                raise ConfigError('--hash-sources must be at least %d (two per real server '
                                  'in service)' % (2 * len(in_service(weights))))
            if config.client_addresses != self.hash_sources:
                raise ConfigError('the client speaks from %d addresses, sh and mh are '
                                  'measured from --hash-sources %d'
                                  % (config.client_addresses, self.hash_sources))
        return SchedulerTrial(tuple(self.schedulers), self.rounds, self.held_rounds, preload,
                              server, self.fin_timeout, self.hold_timeout, self.hash_sources,
                              self.hash_passes)

    @property
    def hashing(self):
        """The hashing schedulers chosen (measured from many client addresses)."""
        return [s for s in self.schedulers if s in HASHING]

    def as_dict(self, config):
        weights = dict(zip(config.real_servers, config.weights))
        size = round_size(weights)
        return dict(asdict(self), round_size=size, short_requests=self.rounds * size,
                    held_new=self.held_rounds * size)


class SetFinTimeout:
    """Finished connections leave the counters in seconds instead of two minutes."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __call__(self, run):
        laicoz = run.network.director()
        err = laicoz.ipvsadm('--set', '0', str(self.seconds), '0').strip()
        if err:
            raise RuntimeError('ipvsadm --set: %s' % err)
        run.measured.ipvs_timeouts = laicoz.ipvsadm('-L', '--timeout').strip()
        stage(run.measured.ipvs_timeouts)


class SchedulerRun:
    """One scheduler: switched in with `ipvsadm -E`, its short and long-lived phases."""

    def __init__(self, sched, trial):
        self.sched, self.trial = sched, trial

    def __call__(self, run):
        sched, trial, config = self.sched, self.trial, run.config
        laicoz = run.network.director()
        ts = time.monotonic()
        out = laicoz.ipvsadm('-E', '-t', run.service, '-s', sched)
        if out.strip():
            raise RuntimeError('ipvsadm -E -s %s: %s' % (sched, out.strip()))
        if sched in HASHING:
            run.measured.schedulers[sched] = r = hash_phase(run, sched, trial)
            r['elapsed_s'] = round(time.monotonic() - ts, 2)
            return _said(sched, r)
        size = round_size(dict(zip(config.real_servers, config.weights)))
        drain1 = laicoz.wait_drained(config, trial.fin_timeout + 90)
        stage('%s: %d short requests' % (sched, trial.rounds * size))
        short = short_phase(run, sched, trial, size)
        stage('%s: answers %s in %.1fs (expected share %s, max deviation %g)'
              % (sched, short['answers'], short['short_seconds'],
                 {s: round(v, 3) for s, v in short['expected_share'].items()},
                 short['max_deviation']))
        drain2 = laicoz.wait_drained(config, trial.fin_timeout + 90)
        stage('%s: %d long-lived connections on top of %d held on %s'
              % (sched, trial.held_rounds * size, trial.preload, trial.preload_server))
        held = held_phase(run, sched, trial, size)
        stage('%s: ActiveConn while held %s (expected %s); new ones went %s'
              % (sched, held['active_peak'], held['active_expected'], held['held_answers']))
        r = dict(weights=dict(zip(config.real_servers, config.weights)), **short, **held)
        r['drain_s'] = [drain1, drain2]
        r['checks'] = checks_for(sched, r)
        r['passed'] = all(r['checks'].values())
        r['elapsed_s'] = round(time.monotonic() - ts, 2)
        run.measured.schedulers[sched] = r
        _said(sched, r)


def _said(sched, r):
    stage('%s: %s' % (sched, 'PASS' if r['passed'] else 'FAIL %s' % [
        k for k, v in r['checks'].items() if not v]))


def _save(run, director, name):
    table, numeric = director.server_table(run.config)
    (run.out / ('ipvsadm-%s.n.txt' % name)).write_text(numeric)
    (run.out / ('ipvsadm-%s.txt' % name)).write_text(director.snapshot())
    return table


def short_phase(run, sched, trial, size):
    config, laicoz = run.config, run.network.director()
    servers = config.real_servers
    weights = dict(zip(servers, config.weights))
    n = trial.rounds * size
    t0 = time.monotonic()
    replies = burst(run.network, n)
    took = time.monotonic() - t0
    sequence = [r.get('server') if r.get('ok') else None for r in replies]
    answers = count(sequence, servers)
    failed = n - sum(answers.values())
    table = _save(run, laicoz, '%s-short' % sched)
    share = expected_share(sched, weights)
    dev = max_deviation(answers, share)
    inactive = {s: table[s]['inactive'] for s in servers}
    return {
        'requests': n, 'failed': failed, 'short_seconds': round(took, 2),
        'requests_per_s': round(n / took, 1) if took > 0 else None,
        'answers': answers, 'sequence': sequence, 'rounds': rounds(sequence, servers, size),
        'expected_share': {s: round(v, 6) for s, v in share.items()},
        'expected_answers': {s: round(share[s] * n, 6) for s in servers},
        'max_deviation': round(dev, 6), 'max_deviation_share': round(dev / n, 6) if n else None,
        'rounds_exact': rounds_exact(sequence, share, size),
        # figure 6's view: every finished short connection is an InActConn until FIN_WAIT ends
        'inactive_after': inactive,
        'expired_during_phase': sum(inactive.values()) < n - failed,
    }


def hash_phase(run, sched, trial):
    """Requests from trial.hash_sources client addresses in turn, trial.hash_passes times
    round: which server each address got."""
    config, laicoz = run.config, run.network.director()
    weights = dict(zip(config.real_servers, config.weights))
    laicoz.wait_drained(config, trial.fin_timeout + 90)
    n = trial.hash_sources * trial.hash_passes
    stage('%s: %d requests from %d client addresses, each %d times'
          % (sched, n, trial.hash_sources, trial.hash_passes))
    t0 = time.monotonic()
    replies = burst(run.network, n, sources=config.client_sources)
    r = dict(hashing_result(replies, weights), weights=weights,
             short_seconds=round(time.monotonic() - t0, 2))
    _save(run, laicoz, '%s-short' % sched)
    r['checks'] = hashing_checks(r)
    r['passed'] = all(r['checks'].values())
    stage('%s: client addresses per server %s (expected %s, within %s); %d of %d kept '
          'their server' % (sched, r['sources_per_server'], r['expected_sources'],
                            r['sources_tolerance'], r['sticky_sources'], r['sources']))
    return r


def read_event(proc, kind, timeout):
    """The next event of proc of this kind (other lines are logged)."""
    def accept(line):
        event = parse(line)
        if event is None:
            stage('load client: ' + line.rstrip())
            return None
        return event if event['kind'] == kind else None
    return read_until(proc, accept, timeout, 'the load client to report %r' % kind)


def held_phase(run, sched, trial, size):
    config, laicoz = run.config, run.network.director()
    servers = config.real_servers
    weights = dict(zip(servers, config.weights))
    new = trial.held_rounds * size
    preload = {s: (trial.preload if s == trial.preload_server else 0) for s in servers}
    total = trial.preload + new
    t0 = time.monotonic()
    proc = run.network.client.agent('topo.agents.loadclient', '--host', config.vip, '--port',
                                    config.port, '--control', '--hold', trial.hold_timeout,
                                    stdin=subprocess.PIPE)
    timeout = 60 + 2 * total

    def command(text):
        proc.stdin.write(text + '\n')
        proc.stdin.flush()
    try:
        if trial.preload:
            others = [s for s in servers if s != trial.preload_server and weights[s] > 0]
            for s in others:             # quiesce: only the preload server takes connections
                laicoz.set_weight(config, s, 0)
            command('open %d' % trial.preload)
            opened = read_event(proc, 'opened', timeout)
            for s in others:
                laicoz.set_weight(config, s, weights[s])
            if opened['ok'] != trial.preload:
                raise RuntimeError('preload: %d of %d connections opened: %s'
                                   % (opened['ok'], trial.preload, opened['failed'][:3]))
        command('open %d' % new)
        opened = read_event(proc, 'opened', timeout)
        if opened['ok'] != new:
            raise RuntimeError('%d of %d long-lived connections opened: %s'
                               % (opened['ok'], new, opened['failed'][:3]))
        opened_s = time.monotonic() - t0
        # every held connection must show as ActiveConn: poll a few times if the
        # director has not yet seen the last handshakes
        peak = {s: 0 for s in servers}
        for _ in range(10):
            table, _ = laicoz.server_table(config)
            for s in servers:
                peak[s] = max(peak[s], table[s]['active'])
            if sum(table[s]['active'] for s in servers) >= total:
                break
            time.sleep(0.5)
        table = _save(run, laicoz, sched)
        snapshot_active = {s: table[s]['active'] for s in servers}
        command('release')
        released = read_event(proc, 'released', timeout)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    by_batch = released['by_batch']
    got_new = count([c.get('server') for c in released['conns']
                     if c['batch'] == len(by_batch) - 1], servers)
    got_preload = count([c.get('server') for c in released['conns']
                         if trial.preload and c['batch'] == 0], servers)
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
