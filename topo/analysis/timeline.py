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


def _held_before(events, t, node):
    held = False
    for e in events:
        if e['t'] >= t:
            break
        if e.get('node') == node and e.get('kind') == 'vip':
            held = e['held']
    return held


def director_failover(events, probes, t_fault, backup, service, reals, detected_pattern,
                      t_end=None, macs=None):
    """Primary switched off at t_fault: when did the backup notice, take the VIP,
    complete the IPVS table, when did the client's ARP (IPv6: neighbour) entry for it
    point to the backup (client_moved_s; macs: MAC -> director), and when did the
    client get its first answer? last_failure_s tells whether requests still failed
    after that one (up to t_end).

    A backup that held the VIP already at the fault took over falsely before it:
    then there was no failover to measure, and every time is None (never an
    outage of 0.03 s)."""
    want = set(reals)
    if _held_before(events, t_fault, backup):
        window = [p for p in probes if t_fault <= p['t'] < (t_end or float('inf'))]
        return {'false_takeover': True, 'detected_s': None, 'fenced_s': None,
                'vip_taken_s': None, 'client_moved_s': None,
                'first_real_server_s': None, 'table_ready_s': None, 'first_ok_s': None,
                'outage_s': None, 'failed_requests': sum(not p['ok'] for p in window),
                'last_failure_s': None}
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
    # a stack that fences (Pacemaker) makes sure the lost primary is off before it
    # takes the service: one more step between detection and the VIP
    fenced = min((e['t'] for e in events if e.get('kind') == 'fence' and e['t'] >= t_fault
                  and e['node'] != backup), default=None)
    moved = min((e['t'] for e in events if e.get('kind') == 'arp' and e['t'] >= t_fault
                 and (macs or {}).get(e.get('mac')) == backup), default=None)
    return {'false_takeover': False,
            'client_entry': client_entry(events, t_fault, moved, macs),
            'detected_s': _rel(detected, t_fault), 'fenced_s': _rel(fenced, t_fault),
            'vip_taken_s': _rel(vip, t_fault), 'client_moved_s': _rel(moved, t_fault),
            'first_real_server_s': _rel(first_real, t_fault),
            'table_ready_s': _rel(table, t_fault), 'first_ok_s': _rel(first_ok, t_fault),
            'outage_s': _rel(first_ok, t_fault), 'failed_requests': len(failed),
            'last_failure_s': _rel(last_fail, t_fault)}


def client_entry(events, t_from, t_to, macs):
    """The client's ARP (neighbour) entry for the VIP from t_from to t_to (both
    included; to the end if None): [[s after t_from, state, director or MAC], ...].
    Without the new owner's announcement the entry keeps the old MAC through
    REACHABLE, DELAY and PROBE until it FAILS, and only then is resolved again."""
    out = []
    for e in events:
        if e.get('kind') == 'arp' and e['t'] >= t_from and (t_to is None or e['t'] <= t_to):
            out.append([_rel(e['t'], t_from), e.get('state'),
                        (macs or {}).get(e.get('mac'), e.get('mac'))])
    return out


def failback(events, probes, t_on, primary, backup, service, reals, nice_failback,
             macs=None):
    """Primary switched on at t_on: when did the service settle where it belongs, and
    when did the client's entry for the VIP point there (client_moved_s)?"""
    owner = backup if nice_failback else primary
    want = set(reals)
    vip = _first(events, t_on, owner, lambda e: e.get('kind') == 'vip' and e['held'])
    table = _first(events, t_on, owner, lambda e: e.get('kind') == 'ipvs'
                   and set(e['table'].get(service, [])) == want)
    released = None if nice_failback else _first(
        events, t_on, backup, lambda e: e.get('kind') == 'vip' and not e['held'])
    window = [p for p in probes if p['t'] >= t_on]
    failed = [p['t'] for p in window if not p['ok']]
    moved = None if nice_failback else min(
        (e['t'] for e in events if e.get('kind') == 'arp' and e['t'] >= t_on
         and (macs or {}).get(e.get('mac')) == owner), default=None)
    return {'owner': owner, 'vip_taken_s': _rel(vip, t_on), 'table_ready_s': _rel(table, t_on),
            'client_moved_s': _rel(moved, t_on),
            'client_entry': [] if nice_failback else client_entry(events, t_on, moved, macs),
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


# a given-up request's last SYN reaches the new owner within this after the prober's
# record of giving up (the hub's and the director's time, under a stall)
GHOST_MARGIN_S = 0.1


def split_after(probes, t_from, t_to, servers):
    """Answers per server of the requests answered in [t_from, t_to) (failed ones: sent
    then): after a takeover, round robin over the full table should split them evenly.
    By answer, not by sending: a request sent to the dead director before the takeover
    and answered after it (its SYN sent again, to the new owner) took a turn of the new
    owner's round robin in the window (the likely cause of a spread of 3 with 0 failed
    in one CI run, a hot-standby run with a stall).

    The window opens once the last request that failed before it has been given up: a
    request sent into the outage has its SYN sent again after 1 s, just as the prober's
    1 s timeout ends it, and when the prober is late (a stall) that SYN reaches the new
    owner, takes a turn of its round robin and is never answered (a spread of 3, 16/13/15
    with 0 failed, in a keepalived NAT run with a stall; a SYN_RECV entry the client
    resets). Where the prober gave up is its record's end, and the SYN left before it."""
    gave_up = [p['t'] + p['latency_s'] + GHOST_MARGIN_S for p in probes
               if not p['ok'] and p['t'] < t_from and p.get('latency_s') is not None]
    t_from = max([t_from] + gave_up)
    window = [p for p in probes
              if t_from <= p['t'] + (p['latency_s'] if p['ok'] else 0) < t_to]
    answers = {s: sum(1 for p in window if p['ok'] and p['server'] == s) for s in servers}
    failed = sum(1 for p in window if not p['ok'])
    spread = max(answers.values()) - min(answers.values()) if answers else 0
    # rr gives each new connection to the next server: shares differ by a request or two
    # every answer from a known server: a request answered by someone else is not even
    return {'answers': answers, 'failed': failed, 'spread': spread,
            'even': bool(window) and failed == 0 and sum(answers.values()) == len(window)
            and spread <= 2}


def answers_by_stage(probes):
    """{stage: {server: answers, 'failed': n}} from the prober's requests."""
    out = {}
    for p in probes:
        stage = out.setdefault(p['stage'] or 'unlabelled', {})
        key = p['server'] if p['ok'] else 'failed'
        stage[key] = stage.get(key, 0) + 1
    return out


def analyse(history, stack, config, bursts=(), macs=None, period=0.05):
    """The analysis of a run with an HA stack, from its history alone: the invariants;
    every fault decomposed the same way (fault_timelines); the paper's power-offs as
    the paper's steps (a real server's removal, each director failover and failback);
    the answers per stage."""
    from topo.analysis import invariants
    from topo.network.config import BACKUP, DIRECTORS, PRIMARY
    events, probes, faults, t_end = history.events, history.probes, history.faults, history.t_end
    service = config.service
    reals = [config.real_endpoint(s) for s in config.real_servers]
    nice = stack.settings.nice_failback
    ends = [e['t'] for e in events] + [p['t'] for p in probes]
    t_end = t_end or (max(ends) if ends else 0.0)
    out = {'invariants': invariants.vip_ownership(
        events, DIRECTORS, PRIMARY, t_end,
        first_fault=min((f.injected for f in faults), default=None), macs=macs)}
    out['fault_timelines'] = [decompose(events, probes, f, stack, config, t_end, period)
                              for f in faults]
    power_offs = [f for f in faults if f.fault == 'power-off']
    on_servers = [f for f in power_offs if f.target in config.real_servers]
    if on_servers:
        f = on_servers[0]
        address = config.real_endpoint(f.target)
        out['real_server_removal'] = real_server_removal(
            events, probes, f.injected, f.cleared, PRIMARY, service, address,
            stack.removed_pattern)
    from topo import faults as registry
    cycles = [f for f in faults if f.target == PRIMARY and registry.get(f.fault).director_lost]
    failovers = [director_failover(events, probes, c.injected, BACKUP, service, reals,
                                   stack.detected_pattern, t_end=c.cleared, macs=macs)
                 for c in cycles]
    failbacks = [failback(events, probes, c.cleared, PRIMARY, BACKUP, service, reals, nice,
                          macs=macs) for c in cycles if c.cleared]
    if failovers:
        out.update(failover=failovers[0], failover_repeats=failovers)
        c, fo = cycles[0], failovers[0]
        # from when the service is whole again: table complete and answering
        if None not in (fo['table_ready_s'], fo['first_ok_s']) and c.cleared \
                and config.scheduler == 'rr':
            since = c.injected + max(fo['table_ready_s'], fo['first_ok_s'])
            out['split_after_takeover'] = split_after(probes, since, c.cleared,
                                                      config.real_servers)
    if failbacks:
        out.update(failback=failbacks[0], failback_repeats=failbacks)
    stages = {'%d requests' % b.count: b.answers for b in bursts}
    stages.update(answers_by_stage(probes))
    out['answers_per_stage'] = stages
    return out


def failed_stretches(probes, period):
    """Failed probes merged into stretches [t_first, t_last + period]."""
    out = []
    for p in sorted((p for p in probes if not p['ok']), key=lambda p: p['t']):
        if out and p['t'] - out[-1][1] <= 1.5 * period:
            out[-1][1] = p['t'] + period
        else:
            out.append([p['t'], p['t'] + period])
    return out


def decompose(events, probes, fault, stack, config, t_end, period):
    """Any fault, decomposed the same way, in seconds after its injection:

      noticed_s         the stack logged it (a peer declared dead, a real server removed)
                        while the fault was in place
      owner_change_s    a director that did not own the VIP before the fault owns it
      table_complete_s  the service's table is as it should be: the new owner's complete,
                        or (a real server's fault) the server out of the active table
      service_back_s    the client answered again for good while the fault is in place:
                        the first answer after the last request that failed before the
                        clear (0: none failed; past cleared_s: back only after the clear)

    then what the client saw (failed requests, longest outage, impaired stretch), how
    many owned the VIP (two: split brain; none), and when the cluster was whole again
    after the clear, and who served then."""
    from topo.analysis import invariants
    from topo.network.config import DIRECTORS, PRIMARY
    t0, t_clear, t_back = fault.injected, fault.cleared, fault.recovered
    target = fault.target
    service = config.service
    on_server = target in config.real_servers
    peers = list(DIRECTORS) if on_server else [d for d in DIRECTORS if d != target]
    if on_server:
        ip, port = config.service_address(target), config.port
        address = config.real_endpoint(target)
        patterns = [stack.removed_pattern.format(address=re.escape(address), ip=re.escape(ip),
                                                 port=port)]
    else:
        patterns = [stack.detected_pattern]
    # noticed while the fault was in place (a peer declared dead after the clear is
    # the aftermath, e.g. a restart after a partition, not the detection)
    noticed = min((t for t in (_first(events, t0, d, lambda e: e.get('kind') == 'log' and any(
        p and re.search(p, e['line']) for p in patterns)) for d in peers)
        if t and (t_clear is None or t <= t_clear)), default=None)
    segments = invariants.segments([e for e in events if e['t'] <= t_end], DIRECTORS, t_end)
    before = set(invariants.owner_at(events, DIRECTORS, t0))
    change = next((seg for seg in segments if seg[1] > t0 and set(seg[2]) - before), None)
    owner_change = max(change[0], t0) if change else None
    if on_server:
        table = _first(events, t0, PRIMARY, lambda e: e.get('kind') == 'ipvs'
                       and address not in e['table'].get(service, [address]))
    elif change:
        full = [config.real_endpoint(s) for s in config.real_servers]
        new = (set(change[2]) - before).pop()
        table = next((max(a, owner_change) for a, b, owners, tables in segments
                      if b > owner_change and new in owners and
                      set(tables[new]) == set(full)), None)
    else:
        table = None
    window = [p for p in probes if t0 <= p['t'] <= t_end]
    stretches = failed_stretches(window, period)
    failed = [p['t'] for p in window if not p['ok']]
    # back while the fault is in place (what the clear then costs: recovered_after_clear_s);
    # a service that only came back after the clear says so by a time past cleared_s
    during = [t for t in failed if t_clear is None or t < t_clear]
    back = 0.0 if not during else _rel(_first_ok(window, max(during) + 1e-6), t0)
    inv = invariants.vip_ownership([e for e in events if e['t'] <= t_end], DIRECTORS,
                                   PRIMARY, t_end, first_fault=t0, t0=t0)
    after = [iv for iv in inv['dual_owner'] if iv[1] > 0]
    owners = invariants.owner_at(events, DIRECTORS, t_end)
    # what the stack's fencing did (topo/ha/fencing.py): who, how, when after the fault
    fenced = ['%s %s at %.2fs' % (e['node'], e['action'], e['t'] - t0) for e in events
              if e.get('kind') == 'fence' and t0 <= e['t'] <= t_end]
    return {'fault': fault.fault, 'target': target,
            'noticed_s': _rel(noticed, t0), 'owner_change_s': _rel(owner_change, t0),
            'table_complete_s': _rel(table, t0), 'service_back_s': back,
            'first_failure_s': _rel(stretches[0][0], t0) if stretches else None,
            'outage_s': round(max((b - a for a, b in stretches), default=0.0), 3),
            'failing_s': round(sum(b - a for a, b in stretches), 3),
            # from the first failed request to the last: how long the service was impaired,
            # also when only some requests failed (a hung real server fails one in three)
            'impaired_s': round(stretches[-1][1] - stretches[0][0], 3) if stretches else 0.0,
            'failed_requests': len(failed), 'requests': len(window),
            'dual_owner_s': round(sum(b - max(a, 0) for a, b in after), 3),
            'dual_owner': after,
            'no_owner_s': round(sum(b - max(a, 0) for a, b in inv['no_owner'] if b > 0), 3),
            'arp_flips': len([f for f in inv['arp_flips'] if f['t'] >= 0]),
            'cleared_s': _rel(t_clear, t0),
            'recovered_after_clear_s': _rel(t_back, t_clear) if t_clear else None,
            'final_owner': '+'.join(owners) or None, 'fenced': '; '.join(fenced) or None}


def failover_numbers(analysis):
    """One run's numbers as a trial reports them: the first director failover's (its
    outage_s the headline), the failback's and the real server removal's prefixed, and
    the invariants' seconds with two owners and with none (and, with NAT, with the
    gateway away from the VIP)."""
    from topo.stats import numeric
    out = numeric(analysis.get('failover') or {})
    for key, prefix in (('failback', 'failback_'), ('real_server_removal', 'removal_')):
        out.update({prefix + k: v for k, v in numeric(analysis.get(key) or {}).items()})
    inv = analysis.get('invariants') or {}
    out.update({k: inv[k] for k in ('dual_owner_s', 'no_owner_s', 'gateway_split_s')
                if k in inv})
    return out
