"""Real-server maintenance and growth, from a run's data alone: the requests that
failed (the prober's and the load generator's), each server's drain and upgrade in
seconds with the failures while it was out, and each resize of the service: when
the table had its new real servers, when every new one answered."""


def _s(a, b):
    return round(b - a, 3) if None not in (a, b) else None


def requests(result):
    """Every request of the run: the prober's, and the load generator's totals."""
    probes, load = result.history.probes, result.measured.load_done or {}
    failed = load.get('failed') or {}
    load_failed = (sum(failed.values()) if isinstance(failed, dict) else failed or 0) \
        if load else None
    probe_failed = sum(not p['ok'] for p in probes)
    return {'probes': len(probes), 'failed_probes': probe_failed,
            'load_answered': load.get('ok'), 'load_failed': load_failed,
            'failed_requests': probe_failed + (load_failed or 0)}


def analyse(result):
    """A rolling upgrade: each server's times, the failures in its window, in all."""
    probes, servers = result.history.probes, []
    for r in result.measured.server_work:
        start = r.get('drain', r.get('stop'))
        end = r.get('back') or result.history.t_end or float('inf')
        window = [p for p in probes if start <= p['t'] <= end]
        servers.append({'server': r['server'], 'version': r.get('version'),
                        'drain_s': _s(r.get('drain'), r.get('drained')),
                        'removed_after_stop_s': _s(r.get('stop'), r.get('removed')),
                        'back_after_start_s': _s(r.get('started'), r.get('back')),
                        'out_of_service_s': _s(start, r.get('back')),
                        'probes': len(window), 'failed_probes': sum(not p['ok'] for p in window)})
    return {'requests': requests(result), 'maintenance': {'servers': servers}}


def growth(result):
    """Each resize of the service: how long until the active table held the new set,
    until every new server had answered the prober, and the probes that failed from
    the reload until the next one."""
    probes, resizes = result.history.probes, result.measured.resizes
    out = []
    for i, r in enumerate(resizes):
        end = resizes[i + 1]['reload'] if i + 1 < len(resizes) else \
            (result.history.t_end or float('inf'))
        window = [p for p in probes if r['reload'] <= p['t'] <= end]
        answered = [_s(r['reload'], r['answered'].get(s)) for s in r['added']]
        out.append({'servers': r['servers'], 'from': r['from'], 'added': r['added'],
                    'removed': r['removed'], 'table_s': _s(r['reload'], r.get('table')),
                    'all_new_answered_s': max(answered) if answered and None not in answered
                    else None, 'probes': len(window),
                    'failed_probes': sum(not p['ok'] for p in window)})
    return {'requests': requests(result), 'growth': {'resizes': out}}


def numbers(analysis):
    """A run's headline numbers (a trial's or a cell's entry)."""
    out = dict(analysis.get('requests') or {})
    servers = (analysis.get('maintenance') or {}).get('servers') or []
    outs = [s['out_of_service_s'] for s in servers if s['out_of_service_s'] is not None]
    if servers:
        out['longest_out_of_service_s'] = max(outs) if outs else None
    for r in (analysis.get('growth') or {}).get('resizes') or []:
        name = '%d_to_%d' % (r['from'], r['servers'])
        out['table_%s_s' % name] = r['table_s']
        if r['added']:
            out['new_answered_%s_s' % name] = r['all_new_answered_s']
    return out
