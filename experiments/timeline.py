"""Failover timelines from the recorded events (director monitors) and probes.

Every time is in seconds relative to the fault; None means not observed.
A request counts at the time it was sent: an outage ends with the last request
that failed, or with the completion of the first one that succeeded.
Events are dicts as written to events.jsonl: {'t', 'node', 'kind', ...};
probes as in probe.csv: {'t' (sent), 'ok', 'server', 'latency_s', 'stage'}.
"""
import re


def _rel(t, t0):
    return None if t is None else round(t - t0, 3)


def _first(events, t0, node, pred):
    for e in events:
        if e['t'] >= t0 and e.get('node') == node and pred(e):
            return e['t']
    return None


def _table_at(events, t, node, service):
    """The node's real servers for service just before time t (its last ipvs event)."""
    reals = []
    for e in events:
        if e['t'] >= t:
            break
        if e.get('node') == node and e.get('kind') == 'ipvs':
            reals = e['table'].get(service, [])
    return set(reals)


def _first_ok(probes, t0):
    done = [p['t'] + p['latency_s'] for p in probes if p['ok'] and p['t'] >= t0]
    return min(done) if done else None


def director_failover(events, probes, t_fault, backup, service, reals, detected_pattern,
                      t_end=None):
    """Primary switched off at t_fault: when did the backup notice, take the VIP,
    complete the IPVS table, and when did the client get its first answer?
    last_failure_s tells whether requests still failed after that one (up to t_end)."""
    want = set(reals)
    detected = _first(events, t_fault, backup, lambda e: e.get('kind') == 'log'
                      and detected_pattern and re.search(detected_pattern, e['line']))
    vip = _first(events, t_fault, backup, lambda e: e.get('kind') == 'vip' and e['held'])
    # a warm backup (keepalived, hot standby) has its table before the fault
    before = _table_at(events, t_fault, backup, service)
    table = t_fault if before == want else _first(
        events, t_fault, backup, lambda e: e.get('kind') == 'ipvs'
        and set(e['table'].get(service, [])) == want)
    first_real = t_fault if before else _first(
        events, t_fault, backup, lambda e: e.get('kind') == 'ipvs' and e['table'].get(service))
    first_ok = _first_ok(probes, t_fault)
    window = [p for p in probes if t_fault <= p['t'] < (t_end or float('inf'))]
    failed = [p for p in window if not p['ok']]
    last_fail = max((p['t'] for p in failed), default=None)
    return {'detected_s': _rel(detected, t_fault), 'vip_taken_s': _rel(vip, t_fault),
            'first_real_server_s': _rel(first_real, t_fault),
            'table_ready_s': _rel(table, t_fault), 'first_ok_s': _rel(first_ok, t_fault),
            'outage_s': _rel(first_ok, t_fault), 'failed_requests': len(failed),
            'last_failure_s': _rel(last_fail, t_fault)}


def failback(events, probes, t_on, primary, backup, service, reals, nice_failback):
    """Primary switched on at t_on: when did the service settle where it belongs?"""
    owner = backup if nice_failback else primary
    want = set(reals)
    vip = _first(events, t_on, owner, lambda e: e.get('kind') == 'vip' and e['held'])
    table = _first(events, t_on, owner, lambda e: e.get('kind') == 'ipvs'
                   and set(e['table'].get(service, [])) == want)
    released = None if nice_failback else _first(
        events, t_on, backup, lambda e: e.get('kind') == 'vip' and not e['held'])
    window = [p for p in probes if p['t'] >= t_on]
    failed = [p['t'] for p in window if not p['ok']]
    return {'owner': owner, 'vip_taken_s': _rel(vip, t_on), 'table_ready_s': _rel(table, t_on),
            'backup_released_s': _rel(released, t_on),
            'failed_requests': len(failed),
            'first_failure_s': _rel(min(failed), t_on) if failed else None,
            'last_failure_s': _rel(max(failed), t_on) if failed else None,
            # the hand-back is an outage of its own: from the first failed request to the last
            'outage_s': round(max(failed) - min(failed), 3) if failed else 0.0}


def real_server_removal(events, probes, t_fault, t_on, primary, service, address,
                        removed_pattern=None):
    """A real server switched off at t_fault (and on at t_on): when did the active
    director drop it (its log line: removed_pattern, {address} = ip:port, {ip}, {port}),
    how long did clients see errors, when was it back?"""
    ip, _, port = address.rpartition(':')
    pattern = removed_pattern and removed_pattern.format(address=re.escape(address),
                                                         ip=re.escape(ip), port=port)
    logged = pattern and _first(events, t_fault, primary, lambda e: e.get('kind') == 'log'
                                and re.search(pattern, e['line']))
    removed = _first(events, t_fault, primary, lambda e: e.get('kind') == 'ipvs'
                     and address not in e['table'].get(service, [address]))
    window = [p for p in probes if t_fault <= p['t'] < (t_on or float('inf'))]
    failed = [p for p in window if not p['ok']]
    last_fail = max((p['t'] for p in failed), default=None)
    readded = None
    if t_on is not None:
        readded = _first(events, t_on, primary, lambda e: e.get('kind') == 'ipvs'
                         and address in e['table'].get(service, []))
    return {'detected_s': _rel(logged or removed, t_fault), 'vip_taken_s': None,
            'table_ready_s': _rel(removed, t_fault), 'first_ok_s': _rel(_first_ok(probes, t_fault), t_fault),
            'outage_s': _rel(last_fail, t_fault) if failed else 0.0,
            'failed_requests': len(failed),
            'readded_after_power_on_s': _rel(readded, t_on) if t_on else None}


def split_after(probes, t_from, t_to, servers):
    """Answers per server of the requests sent in [t_from, t_to): after a takeover,
    round robin over the full table should split them evenly."""
    window = [p for p in probes if t_from <= p['t'] < t_to]
    answers = {s: sum(1 for p in window if p['ok'] and p['server'] == s) for s in servers}
    failed = sum(1 for p in window if not p['ok'])
    spread = max(answers.values()) - min(answers.values()) if answers else 0
    # rr gives each new connection to the next server: shares differ by a request or two
    return {'answers': answers, 'failed': failed, 'spread': spread,
            'even': bool(window) and failed == 0 and spread <= 2}


def answers_by_stage(probes):
    """{stage: {server: answers, 'failed': n}} from the prober's requests."""
    out = {}
    for p in probes:
        stage = out.setdefault(p['stage'] or 'unlabelled', {})
        key = p['server'] if p['ok'] else 'failed'
        stage[key] = stage.get(key, 0) + 1
    return out


def analyse(events, probes, faults, stack, config, requests_15=None):
    """The summary fields of a run of the paper's stages (or of failovers only):
    each fault on a real server and on the primary director decomposed."""
    from topo.network.config import BACKUP, PRIMARY
    service = '%s:%d' % (config.vip, config.port)
    reals = ['%s:%d' % (config.addresses[s], config.port) for s in config.real_servers]
    nice = stack.settings.nice_failback
    out = {}
    on_servers = [f for f in faults if f['target'] in config.real_servers]
    if on_servers:
        f = on_servers[0]
        address = '%s:%d' % (config.addresses[f['target']], config.port)
        out['real_server_removal'] = real_server_removal(
            events, probes, f['injected'], f['cleared'], PRIMARY, service, address,
            stack.removed_pattern)
    cycles = [f for f in faults if f['target'] == PRIMARY]
    failovers = [director_failover(events, probes, c['injected'], BACKUP, service, reals,
                                   stack.detected_pattern, t_end=c['cleared']) for c in cycles]
    failbacks = [failback(events, probes, c['cleared'], PRIMARY, BACKUP, service, reals, nice)
                 for c in cycles if c['cleared']]
    if failovers:
        out.update(failover=failovers[0], failover_repeats=failovers)
        c, fo = cycles[0], failovers[0]
        # from when the service is whole again: table complete and answering
        if None not in (fo['table_ready_s'], fo['first_ok_s']) and c['cleared'] \
                and config.scheduler == 'rr':
            since = c['injected'] + max(fo['table_ready_s'], fo['first_ok_s'])
            out['split_after_takeover'] = split_after(probes, since, c['cleared'],
                                                      config.real_servers)
    if failbacks:
        out.update(failback=failbacks[0], failback_repeats=failbacks)
    stages = answers_by_stage(probes)
    if requests_15 is not None:
        stages = dict({'15 requests': requests_15}, **stages)
    out['answers_per_stage'] = stages
    return out
