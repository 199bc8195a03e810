"""Real-server maintenance, from a run's data alone: each server's drain and upgrade
in seconds, and the requests that failed while it was out (the prober's, by their
time) and in all (the prober's and the load generator's)."""


def _s(a, b):
    return round(b - a, 3) if None not in (a, b) else None


def analyse(result):
    probes, load = result.history.probes, result.measured.load_done or {}
    servers = []
    for r in result.measured.maintenance:
        start = r.get('drain', r.get('stop'))
        end = r.get('back') or result.history.t_end or float('inf')
        window = [p for p in probes if start <= p['t'] <= end]
        servers.append({'server': r['server'], 'version': r.get('version'),
                        'drain_s': _s(r.get('drain'), r.get('drained')),
                        'removed_after_stop_s': _s(r.get('stop'), r.get('removed')),
                        'back_after_start_s': _s(r.get('started'), r.get('back')),
                        'out_of_service_s': _s(start, r.get('back')),
                        'probes': len(window), 'failed_probes': sum(not p['ok'] for p in window)})
    failed = load.get('failed') or {}
    load_failed = sum(failed.values()) if isinstance(failed, dict) else (failed or 0)
    probe_failed = sum(not p['ok'] for p in probes)
    return {'maintenance': {
        'servers': servers, 'probes': len(probes), 'failed_probes': probe_failed,
        'load_answered': load.get('ok'), 'load_failed': load_failed if load else None,
        'failed_requests': probe_failed + (load_failed if load else 0)}}


def numbers(analysis):
    """A run's headline numbers (a trial's or a cell's entry)."""
    m = analysis.get('maintenance') or {}
    out = {k: m.get(k) for k in ('failed_requests', 'failed_probes', 'probes', 'load_failed',
                                 'load_answered')}
    servers = m.get('servers') or []
    outs = [s['out_of_service_s'] for s in servers if s['out_of_service_s'] is not None]
    out['longest_out_of_service_s'] = max(outs) if outs else None
    return out
