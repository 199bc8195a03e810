"""What every run watches, so that no measurement it cannot vouch for passes:
who owns the VIP over time, and where the client sends VIP traffic.

A director owns the VIP when it holds the address and its links are up (a
switched-off or unplugged director serves nobody, whatever its kernel says).
From the recorded events (events.jsonl: monitors' `vip`, the testbed's `link`,
the client's `arp`):

  dual_owner_s, dual_owner        two owners at once (split brain), with the intervals
  no_owner_s, no_owner            nobody owns it, after it was first owned
  false_takeovers                 the VIP on another director than the primary before
                                  any fault: what a measurement of a failover must not hide
  owner_without_table_s           the single owner holds the VIP but no real server
  arp_flips                       the client's ARP entry for the VIP moving between MACs
  gateway_split_s, gateway_split  NAT: the real servers' gateway not where the VIP is
  companions_split_s, companions_split   dual stack: {address: the time (intervals) it
                                  was not where the VIP is} for the other family's VIP
                                  (or next hop) and gateway (monitor --also)
  companions_elsewhere            {address: intervals it was on a director that did not
                                  hold the VIP} (a split, not a lag)
"""


def segments(events, directors, t_end):
    """[(t0, t1, owners, tables)] between the state changes of the directors; tables:
    {director: the real servers (ip:port) its IPVS table holds}."""
    state = {d: {'vip': False, 'link': True, 'table': frozenset()} for d in directors}
    segments, t_prev = [], None
    for e in sorted((e for e in events if e.get('node') in state and e['t'] <= t_end
                     and e.get('kind') in ('vip', 'link', 'ipvs')), key=lambda e: e['t']):
        if t_prev is not None and e['t'] > t_prev:
            segments.append((t_prev, e['t'], _owners(state), _tables(state)))
        st = state[e['node']]
        if e['kind'] == 'vip':
            st['vip'] = e['held']
        elif e['kind'] == 'link':
            st['link'] = e['up']
        else:
            st['table'] = frozenset(r for reals in e['table'].values() for r in reals)
        t_prev = e['t']
    if t_prev is not None and t_end > t_prev:
        segments.append((t_prev, t_end, _owners(state), _tables(state)))
    return segments


def _owners(state):
    return tuple(d for d, s in state.items() if s['vip'] and s['link'])


def _tables(state):
    return {d: s['table'] for d, s in state.items()}


def _intervals(segments, pred):
    """Merged [t0, t1] where pred(segment) holds."""
    out = []
    for t0, t1, owners, tables in segments:
        if not pred(owners, tables):
            continue
        if out and abs(out[-1][1] - t0) < 1e-9:
            out[-1][1] = t1
        else:
            out.append([t0, t1])
    return out


def _total(intervals):
    return round(sum(t1 - t0 for t0, t1 in intervals), 3)


def vip_ownership(events, directors, primary, t_end, first_fault=None, macs=None, t0=None):
    """The invariants of a run; times relative to t0 (default: the first owner)."""
    segs = segments(events, directors, t_end)
    owned = [s for s in segs if s[2]]
    first_owned = owned[0][0] if owned else None
    origin = t0 if t0 is not None else (first_owned or 0.0)
    rel = lambda ivs: [[round(a - origin, 3), round(b - origin, 3)] for a, b in ivs]
    dual = _intervals(segs, lambda owners, _: len(owners) > 1)
    none = _intervals([s for s in segs if first_owned is not None and s[0] >= first_owned],
                      lambda owners, _: not owners)
    bare = _intervals(segs, lambda owners, tables: len(owners) == 1
                      and not tables[owners[0]])
    before = first_fault if first_fault is not None else t_end
    false = []
    for t_start, _, owners, _ in segs:
        for d in owners:
            if d != primary and t_start < before and not any(f['node'] == d for f in false):
                false.append({'node': d, 't': round(t_start - origin, 3)})
    flips, last = [], None
    for e in sorted((e for e in events if e.get('kind') == 'arp' and e.get('mac')),
                    key=lambda e: e['t']):
        if last is not None and e['mac'] != last:
            flips.append({'t': round(e['t'] - origin, 3), 'mac': e['mac'],
                          'director': (macs or {}).get(e['mac'])})
        last = e['mac']
    out = {'dual_owner_s': _total(dual), 'dual_owner': rel(dual),
           'no_owner_s': _total(none), 'no_owner': rel(none),
           'false_takeovers': false,
           'owner_without_table_s': _total(bare),
           'arp_flips': flips, 'first_owner_at': None if first_owned is None
           else round(first_owned - origin, 3), 'origin': origin}
    if any(e.get('kind') == 'gateway' for e in events):
        split = gateway_split(events, directors, t_end, first_owned)
        out.update(gateway_split_s=_total(split), gateway_split=rel(split))
    companions = sorted({e['address'] for e in events if e.get('kind') == 'also'})
    if companions:
        split = {a: moved_apart(events, directors, t_end,
                                lambda e, a=a: e['kind'] == 'also' and e['address'] == a,
                                first_owned) for a in companions}
        elsewhere = {a: moved_apart(events, directors, t_end,
                                    lambda e, a=a: e['kind'] == 'also' and e['address'] == a,
                                    first_owned, elsewhere=True) for a in companions}
        out.update(companions_split_s={a: _total(s) for a, s in split.items()},
                   companions_split={a: rel(s) for a, s in split.items()},
                   companions_elsewhere={a: rel(s) for a, s in elsewhere.items()})
    return out


def gateway_split(events, directors, t_end, since=None):
    """NAT: the intervals (from since on) where the directors holding the real servers'
    gateway are not those holding the VIP: the answers go back through a director
    the requests did not come through (or through none)."""
    return moved_apart(events, directors, t_end, lambda e: e['kind'] == 'gateway', since)


def moved_apart(events, directors, t_end, companion, since=None, elsewhere=False):
    """The intervals (from since on) where the directors holding an address that moves
    with the VIP (companion(event): the event is that address's) are not those holding
    the VIP; elsewhere=True: where a director holds it that does not hold the VIP."""
    state = {d: {'vip': False, 'other': False, 'link': True} for d in directors}
    split, t_prev, apart = [], None, False
    for e in sorted((e for e in events if e.get('node') in state and e['t'] <= t_end
                     and e.get('kind') in ('vip', 'link', 'gateway', 'also')),
                    key=lambda e: e['t']):
        if e['kind'] in ('gateway', 'also') and not companion(e):
            continue
        if apart and t_prev is not None and e['t'] > t_prev:
            split.append((t_prev, e['t']))
        st = state[e['node']]
        if e['kind'] == 'link':
            st['link'] = e['up']
        else:
            st['vip' if e['kind'] == 'vip' else 'other'] = e['held']
        holders = lambda k: {d for d, s in state.items() if s[k] and s['link']}
        apart = bool(holders('other') - holders('vip')) if elsewhere \
            else holders('vip') != holders('other')
        t_prev = e['t']
    if apart and t_prev is not None and t_end > t_prev:
        split.append((t_prev, t_end))
    if since is not None:
        split = [(max(a, since), b) for a, b in split if b > since]
    merged = []
    for a, b in split:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def owner_at(events, directors, t):
    """The owners just before time t."""
    segs = segments([e for e in events if e['t'] < t], directors, t)
    return list(segs[-1][2]) if segs else []
