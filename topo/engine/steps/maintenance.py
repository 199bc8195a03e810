"""Real-server maintenance and growth under load, as section 2.2 of the paper promises
them: "maintenance and upgrade of real servers without making the service unavailable,
removing one machine at a time and reinserting it before disconnecting another", and
"the number of real servers can easily be increased temporarily and, when that period
passes, removed again, without interrupting service".

  Drain    weight 0 on every director whose table has the server (IPVS sends it no
           new connection, not even one on a reused client port: expire_nodest_conn),
           then wait until its active connections have ended
  Upgrade  stop its web server (nginx's graceful quit), wait until the active
           director's health check has removed it, start the new version, wait until
           the health check has put it back (with the weight of its configuration)
  Resize   the service's real servers changed through the HA stack's own reload
  ChangeServer, UndoChange   a real server's place in the service changed under long-
           lived sessions, before a failover (what consistent hashing promises to
           survive): removed, added back, its weight doubled, or seen down by the
           backup alone (the directors' health checks disagree)

Each server's record (when each part began and ended) goes to run.measured.server_work.
"""
import time

from topo.engine.run import stage
from topo.network.config import DIRECTORS, PRIMARY


def _active(run):
    """The director that owns the VIP now (the takeover may have moved it)."""
    owners = run.rec.owners(DIRECTORS)
    return owners[0] if owners else PRIMARY


def _record(run, server):
    for r in run.measured.server_work:
        if r['server'] == server and 'back' not in r:
            return r
    r = {'server': server}
    run.measured.server_work.append(r)
    return r


class Drain:
    def __init__(self, server, poll=0.5):
        self.server, self.poll = server, poll

    def __call__(self, run):
        run.set_stage('%s draining' % self.server)
        rec = _record(run, self.server)
        rec['drain'] = time.time()
        for d in DIRECTORS:
            table, _ = run.network[d].server_table(run.config)
            if table[self.server]['weight'] is not None:        # in this director's table
                run.network[d].expire_nodest_conn()
                run.network[d].set_weight(run.config, self.server, 0)
        try:
            run.network[_active(run)].wait_drained(run.config, run.measure.wait, [self.server],
                                                   ('active',), self.poll)
        except RuntimeError:
            run.fail('%s still had active connections %.0fs after its weight went to 0'
                     % (self.server, run.measure.wait))
            return
        rec['drained'] = time.time()
        stage('%s drained: weight 0, no active connection after %.2fs'
              % (self.server, rec['drained'] - rec['drain']))


class Upgrade:
    def __init__(self, server):
        self.server = server

    def __call__(self, run):
        node, rec = run.network[self.server], _record(run, self.server)
        address = run.config.real_endpoint(self.server)
        director = _active(run)
        run.set_stage('%s down' % self.server)
        rec['stop'] = time.time()
        rec['stop_s'] = node.stop_web()
        if run.wait('the health check to remove %s' % self.server,
                    lambda r: address not in r.reals(director, run.service)) is None:
            return
        rec['removed'] = time.time()
        rec['version'] = node.upgrade_web()
        rec['started'] = time.time()
        run.set_stage('%s back' % self.server)
        if run.wait('the health check to put %s back' % self.server,
                    lambda r: address in r.reals(director, run.service)) is None:
            return
        rec['back'] = time.time()
        stage('%s upgraded to version %d: out of the table %.2fs after the stop, back %.2fs '
              'after its start' % (self.server, rec['version'], rec['removed'] - rec['stop'],
                                   rec['back'] - rec['started']))


class CheckVersions:
    """Every real server answers the client with the version it was upgraded to."""

    def __init__(self, version):
        self.version = version

    def __call__(self, run):
        seen, answers = {}, {}
        for server in run.config.real_servers:
            head = run.network.client.cmd('curl -gsS -m 5 -D - -o /dev/null http://%s/ 2>&1'
                                          % run.config.real_endpoint(server))
            versions = [line.split(':', 1)[1].strip() for line in head.splitlines()
                        if line.lower().startswith('x-version:')]
            seen[server] = int(versions[0]) if versions and versions[0].isdigit() else None
            answers[server] = head.strip().splitlines()[:1]
        run.measured.versions = seen
        wrong = {s: v for s, v in seen.items() if v != self.version}
        if wrong:
            run.fail('not every real server runs version %d: %s (answers: %s)'
                     % (self.version, wrong, {s: answers[s] for s in wrong}))
        else:
            stage('every real server answers with version %d' % self.version)


class Resize:
    """The service grown or shrunk to its first n real servers through each HA stack's
    own reload (ldirectord's, keepalived's SIGHUP; no daemon restarted); waits until
    the active director's table holds exactly them and, growing, until every new
    server has answered the prober. Records it in run.measured.resizes."""

    def __init__(self, n):
        self.n = n

    def __call__(self, run):
        before = list(run.reals)
        run.set_stage('%d real servers' % self.n)
        run.stack.in_service = self.n
        rec = {'servers': self.n, 'from': len(before), 'reload': time.time(), 'answered': {}}
        rec['said'] = {d: run.stack.reload(run.network[d]) for d in DIRECTORS}
        names = {run.config.real_endpoint(s): s
                 for s in run.config.real_servers}
        rec['added'] = [names[a] for a in run.reals if a not in before]
        rec['removed'] = [names[a] for a in before if a not in run.reals]
        run.measured.resizes.append(rec)
        director = _active(run)
        rec['table'] = run.wait('%s\'s table to hold %d real servers' % (director, self.n),
                                lambda r: r.reals(director, run.service) == set(run.reals))
        if rec['table'] is None:
            return

        def answered(r):
            for p in r.probes[-200:]:
                if p['ok'] and p['t'] > rec['reload'] and p.get('server') in rec['added']:
                    rec['answered'].setdefault(p['server'], p['t'])
            return len(rec['answered']) == len(rec['added'])
        if rec['added'] and run.wait('every new real server to answer', answered) is None:
            return
        stage('%d real servers: table %.2fs after the reload%s' % (
            self.n, rec['table'] - rec['reload'], ', every new one answering after %.2fs'
            % (max(rec['answered'].values()) - rec['reload']) if rec['added'] else ''))


# How a real server's place in the service changes under the sessions (load.py
# --conn-sync --change): {change: what it is}
CHANGES = {
    'remove': 'its web server stopped: the health checks take it out of the tables',
    'add': 'its web server stopped before the sessions, started again under them: the '
           'health checks put it back',
    'weight': 'its weight doubled on both directors (ipvsadm -e)',
    'disagree': "the backup's path to it cut: only the backup's health check takes it out",
}


def _tables(run):
    """The directors that keep a table while they stand by (the warm backup too)."""
    return list(DIRECTORS) if run.stack.backup_table_warm else [PRIMARY]


def _wait_in(run, server, directors, present):
    address = run.config.real_endpoint(server)
    what = 'put %s back' % server if present else 'take %s out' % server
    return run.wait('the health checks of %s to %s' % (', '.join(directors), what),
                    lambda r: all((address in r.reals(d, run.service)) == present
                                  for d in directors))


def _take_out(run, server, directors):
    """The server out of the service on purpose: the full table is the others'."""
    run.out_of_service.add(server)
    return _wait_in(run, server, directors, False)


class ChangeServer:
    """One of CHANGES to `server` (for 'add': its second half, the start)."""

    def __init__(self, change, server):
        self.change, self.server = change, server

    def __call__(self, run):
        node, t = run.network[self.server], time.time()
        run.measured.server_change = rec = {'change': self.change, 'server': self.server,
                                            'at': t}
        if self.change == 'remove':
            node.stop_web()
            done = _take_out(run, self.server, _tables(run))
        elif self.change == 'disagree':
            run.network.cut(DIRECTORS[1], self.server)
            done = _take_out(run, self.server, [DIRECTORS[1]])
        elif self.change == 'add':
            node.start_web()
            run.out_of_service.discard(self.server)
            done = _wait_in(run, self.server, _tables(run), True)
        else:
            rec['weight'] = 2 * run.config.weight_of(self.server)
            for d in _tables(run):
                run.network[d].set_weight(run.config, self.server, rec['weight'])
            done = time.time()
        if done:
            rec['done_s'] = round(done - t, 3)
            stage('%s: %s (%s) in %.2fs' % (self.server, self.change, CHANGES[self.change],
                                            done - t))


class UndoChange:
    """The service as configured again: the server back in it (or with its weight)."""

    def __init__(self, change, server):
        self.change, self.server = change, server

    def __call__(self, run):
        if self.change == 'remove':
            run.network[self.server].start_web()
        elif self.change == 'disagree':
            run.network.heal()
        elif self.change == 'weight':
            for d in DIRECTORS:         # (a director switched off has no table to set)
                table, _ = run.network[d].server_table(run.config)
                if table[self.server]['weight'] is not None:
                    run.network[d].set_weight(run.config, self.server,
                                              run.config.weight_of(self.server))
        run.out_of_service.discard(self.server)


class TakeOut:
    """Before the sessions ('add'): the server's web server stopped, out of the tables."""

    def __init__(self, server):
        self.server = server

    def __call__(self, run):
        run.network[self.server].stop_web()
        _take_out(run, self.server, _tables(run))
