"""The console reports, one per experiment, from a results folder's summary.json alone
(what the run measured and its checks' verdicts; nothing is judged here)."""
import json
from pathlib import Path

from topo.analysis.figures import FIGURES


def load(out):
    return json.loads((Path(out) / 'summary.json').read_text())


def verdict(s, out, what):
    if s.get('degraded'):
        print('\nDEGRADED: this run cannot vouch for its numbers: %s'
              % '; '.join(s['fidelity']['reasons']))
    print('\n%s (%s kernel): %s; results in %s' % ('PASS' if s.get('passed') else 'FAIL',
                                                   mode_label(s), what, out))


def mode_label(s):
    """The kernel mode a timing comes from, with the UML kernel and how it runs processes
    ('uml 7.2.7 seccomp'): timings compare only within one."""
    uml = s.get('uml_kernel')
    return '%s %s %s' % (s.get('kernel_mode'), uml['release'], uml['syscalls']) if uml \
        else s.get('kernel_mode')


def _ms(seconds):
    return '-' if seconds is None else '%.1f' % (seconds * 1e3)


def fidelity(s):
    """The machine's speed while measuring and the emulated network's own drops."""
    fid = s.get('fidelity')
    if fid and fid.get('calibration') and fid['during']['process_start_s']['n']:
        cal, during = fid['calibration'], fid['during']
        print('\nfidelity: a process start %.1f ms calibrated, %.1f ms while measuring '
              '(median of %d probes); timers late %.1f ms at the 95th percentile; load %s%s'
              % (cal['process_start_s']['median'] * 1e3,
                 during['process_start_s']['median'] * 1e3, during['process_start_s']['n'],
                 during['timer_late_s']['p95'] * 1e3, during['load1']['median'],
                 ' -> DEGRADED' if fid['degraded'] else ''))
    for name, m in sorted(((fid or {}).get('machines') or {}).items()):
        cal, during = m['calibration'], m['during']
        print('  %s: a process start %s ms calibrated, %s ms while measuring (median of '
              '%d), slowest %s ms, its wait late by up to %s ms%s' % (
                  name, _ms(cal and cal['process_start_s']['median']),
                  _ms(during['process_start_s']['median']), during['process_start_s']['n'],
                  _ms(during['process_start_s']['max']), _ms(during['wait_late_s']['max']),
                  ' -> SLOW' if m['degraded'] else ''))
    if fid and fid.get('network_drops') is not None:
        print('emulated network: %s' % ('dropped by itself: ' + ', '.join(
            '%s %d' % kv for kv in sorted(fid['network_drops'].items()))
            if fid['network_drops'] else 'no packet dropped by itself'))
        extra = [('shaped links\' queues (the hardware profile\'s, by design)',
                  fid.get('shaped_link_drops')),
                 ('frames to a cable a fault set down', fid.get('fault_cable_drops')),
                 ('kernel log, not losses of the network', fid.get('kernel_log_other'))]
        for what, counts in extra:
            if counts:
                print('  %s: %s' % (what, ', '.join('%s %d' % kv for kv in sorted(counts.items()))))


def entry_text(trace):
    """timeline.client_entry's trace in a line: 'REACHABLE laicoz 0.0, DELAY 21.3, ...'
    (the holder named where it changes)."""
    parts, last = [], None
    for t, state, who in trace:
        parts.append('%s%s %s' % (state or 'none', '' if who == last else ' ' + str(who or '-'),
                                  t))
        last = who
    return ', '.join(parts) or None


def run(s, out):
    """One run: the paper's figures (if any), each measured timeline, the invariants,
    and what each checker found."""
    figs = s.get('figures') or {}
    if figs:
        print('\n%-7s %-8s %-45s %-8s' % ('figure', 'host', 'expected', 'result'))
        for f in sorted(FIGURES):
            d = figs.get(str(f))
            if d is None:
                print('%-7s %-8s %-45s %-8s' % (f, '-', '(not reached)', 'FAIL'))
                continue
            print('%-7s %-8s %-45s %-8s' % (f, d['host'], d['expected_text'][:45],
                                            'PASS' if d['passed'] else 'FAIL'))
            for problem in d['problems']:
                print('        %s' % problem)
    split = s.get('split_after_takeover')
    if split:
        print('\nafter the takeover (laicoy, full table): answers %s, %d failed -> %s'
              % (split['answers'], split['failed'], 'even, PASS' if split['even']
                 else 'NOT even, FAIL'))
    for key, title in (('failover', 'director failover (laicoz off)'),
                       ('failback', 'failback (laicoz on)'),
                       ('real_server_removal', 'real server removal (laico2 off)')):
        d = s.get(key)
        if d:
            print('\n%s, %s mode:' % (title, mode_label(s)))
            for k, v in d.items():
                if k == 'client_entry':
                    v = entry_text(v)
                print('  %-26s %s' % (k, '-' if v is None else v))
    if s.get('scenario') == 'fault':
        for d in s.get('fault_timelines', []):
            print('\n%s of %s, %s mode (s after the fault):' % (d['fault'], d['target'],
                                                               s['kernel_mode']))
            for k in ('noticed_s', 'owner_change_s', 'table_complete_s', 'service_back_s',
                      'failed_requests', 'dual_owner_s', 'recovered_after_clear_s'):
                print('  %-26s %s' % (k, '-' if d[k] is None else d[k]))
    m = s.get('maintenance')
    if m:
        print('\n%-8s %8s %10s %12s %10s %8s' % ('server', 'drain s', 'removed s', 'back s',
                                                'out s', 'failed'))
        for r in m['servers']:
            print('%-8s %8s %10s %12s %10s %8s' % tuple('-' if r[k] is None else r[k] for k in (
                'server', 'drain_s', 'removed_after_stop_s', 'back_after_start_s',
                'out_of_service_s', 'failed_probes')))
    for r in (s.get('growth') or {}).get('resizes', []):
        print('\n%d -> %d real servers (%s): table after %s s,%s %d of %d probes failed' % (
            r['from'], r['servers'], '+' + ','.join(r['added']) if r['added']
            else '-' + ','.join(r['removed']), r['table_s'],
            ' every new one answering after %s s,' % r['all_new_answered_s'] if r['added']
            else '', r['failed_probes'], r['probes']))
    q = s.get('requests')
    if q:
        print('failed requests: %d (prober %d of %d, load %s of %s answered)'
              % (q['failed_requests'], q['failed_probes'], q['probes'], q['load_failed'],
                 q['load_answered']))
    inv = s.get('invariants')
    if inv:
        print('\ninvariants: dual owner %.2fs, no owner %.2fs, owner without table %.2fs, '
              'false takeovers %d, client ARP flips %d'
              % (inv['dual_owner_s'], inv['no_owner_s'], inv['owner_without_table_s'],
                 len(inv['false_takeovers']), len(inv['arp_flips'])))
        if 'gateway_split_s' in inv:
            print('NAT: the gateway away from the VIP %.2fs' % inv['gateway_split_s'])
        for address, split in sorted((inv.get('companions_split_s') or {}).items()):
            print('dual stack: %s away from the VIP %.2fs' % (address, split))
    fidelity(s)
    for checker, problems in (s.get('checks') or {}).items():
        for problem in problems:
            print('%s: %s' % ('INVARIANT BROKEN' if checker == 'invariants'
                              else 'FAILED (%s)' % checker, problem))
    scenario = s.get('scenario')
    if scenario == 'paper':
        what = '%d/%d figure checks passed' % (sum(f['passed'] for f in figs.values()),
                                               len(FIGURES))
    elif scenario == 'fault':
        what = 'the cluster came back' if s.get('passed') else \
            'the cluster did not come back or an invariant broke (above)'
    elif s.get('failover_repeats') is not None or scenario in ('failovers',):
        what = '%d failovers measured' % len(s.get('failover_repeats') or [])
    else:
        what = scenario or s.get('experiment')
    verdict(s, out, what)


def faults(s, out):
    fencing = any(c.get('fenced') for c in s['faults'])
    print('\n%-12s %-11s %-8s %5s %8s %8s %8s %8s %8s %8s  %-7s%s' % (
        'layout', 'fault', 'target', 'trial', 'noticed', 'owner', 'back', 'failed', 'dual',
        'whole', 'final', '  fenced' if fencing else ''))
    for c in s['faults']:
        print(('%-12s %-11s %-8s %5s %8s %8s %8s %8s %8s %8s  %-7s' % tuple(
            '-' if c.get(k) is None else c.get(k) for k in (
                'layout', 'fault', 'target', 'trial', 'noticed_s', 'owner_change_s',
                'service_back_s', 'failed_requests', 'dual_owner_s', 'recovered_after_clear_s',
                'final_owner')) + ('  %s' % (c.get('fenced') or '-') if fencing else '')).rstrip())
    spreads(s, ('noticed_s', 'owner_change_s', 'service_back_s', 'failed_requests',
                'dual_owner_s', 'recovered_after_clear_s'))
    verdict(s, out, 'every cell came back' if s.get('passed') else
            'some cells did not recover or broke an invariant')


def _spread_text(m):
    if m['median'] is None:
        return 'not measured'
    ci = ('95%% CI %s-%s' % tuple(m['ci95'])) if m['ci95'] else 'no 95% CI below 6 trials'
    return '%s [IQR %s-%s] range %s-%s (%d trials; %s)' % (
        m['median'], m['q1'], m['q3'], m['min'], m['max'], m['measured'], ci)


def spreads(s, metrics=None):
    """Each cell's metrics over its passed trials: median [IQR], range, the CI."""
    for cell, d in (s.get('spreads') or {}).items():
        print('\n%s, %s mode: %d of %d trials passed, %d degraded; median [IQR] over the %d '
              'used:' % (cell, s.get('kernel_mode'), d['passed'], d['trials'],
                         d.get('degraded', 0), d.get('used', d['passed'])))
        for k in metrics or d['metrics']:
            if k in d['metrics']:
                print('  %-24s %s' % (k, _spread_text(d['metrics'][k])))


def trials(s, out, metrics=None):
    """Repeated trials of one scenario (--trials): the spreads of metrics (default:
    all), then the verdict."""
    spreads(s, metrics)
    verdict(s, out, '%d trials, one boot each' % len(s.get('trials') or []))


def maintenance(s, out):
    grow = s['parameters'].get('grow')
    last = 'new ones answer s' if grow else 'longest out s'
    print('\n%-12s %-8s %5s %8s %12s %12s %18s' % ('layout', 'way', 'trial', 'failed',
                                                  'prober', 'load failed', last))
    key = 'new_answered_%s_to_%s_s' % (s['parameters'].get('start_servers'), grow) if grow \
        else 'longest_out_of_service_s'
    for c in s['maintenance']:
        print('%-12s %-8s %5s %8s %12s %12s %18s' % (
            c['layout'], c['way'], c.get('trial', '-'), c['failed_requests'],
            '%s/%s' % (c['failed_probes'], c['probes']), c['load_failed'], c.get(key)))
    spreads(s, ('failed_requests', key))
    verdict(s, out, ('grown and shrunk without a failed request' if grow else
                     'every server upgraded, the drained ones without a failed request')
            if s.get('passed') else 'a cell failed (above)')


def availability(s, out):
    """Per layout (and trial): the share of time answered, its nines, the downtime,
    the extrapolation; then each layout's downtime per kind of fault."""
    par = s['parameters']
    print('\n%d faults over %.0fs (seed %s); extrapolated: each node failing once in %g days, '
          '%g h to repair' % (len(par['schedule']), par['duration_s'], par['seed'],
                              par['real_mtbf_days'], par['real_mttr_hours']))
    print('%-12s %5s %12s %6s %11s %13s %8s %14s' % (
        'layout', 'trial', 'availability', 'nines', 'downtime s', 'failed/probes',
        'x nines', 'x min/year'))
    kinds = {}
    for c in s['availability']:
        a = load(c['results']).get('availability') or {}
        e = a.get('extrapolated') or {}
        print('%-12s %5s %12s %6s %11s %13s %8s %14s' % (
            c['layout'], c.get('trial', '-'), a.get('by_time'), a.get('nines'),
            a.get('downtime_s'), '%s/%s' % (a.get('requests', 0) - a.get('answered', 0),
                                            a.get('requests')),
            e.get('nines'), e.get('downtime_min_per_year')))
        for k, v in (a.get('by_kind') or {}).items():
            kinds.setdefault(c['layout'], {}).setdefault(k, []).append(v['mean_s'])
    print('\ndowntime per fault (s, mean over the faults of that kind; trials: each)')
    for layout, ks in kinds.items():
        print('  %-12s %s' % (layout, '; '.join('%s %s' % (k, '/'.join(str(x) for x in v))
                                               for k, v in sorted(ks.items()))))
    spreads(s, ('availability', 'downtime_s', 'nines', 'extrapolated_availability',
                'extrapolated_downtime_min_per_year'))
    verdict(s, out, 'every layout replayed the schedule and came back whole'
            if s.get('passed') else 'a layout failed (above)')


def sweep(s, out):
    print('\n%-12s %-11s %9s %5s %10s %s' % ('config', 'setting', 'value (s)', 'trial',
                                              'median (s)', 'outage/setting'))
    for p in s['points']:
        print('%-12s %-11s %9.3g %5s %10s %s' % (p['configuration'], p['setting'],
                                                 p['setting_s'], p.get('trial', '-'),
                                                 p['median_outage_s'], p['outage_per_setting']))
    stressed = s.get('false_takeovers') or []
    if stressed:
        print('\nlaicoz held %g s under a condition that is no failure (a takeover then is '
              'a false one)' % s['parameters']['hold_s'])
        print('%-22s %-11s %9s %-20s %5s %6s %9s %9s %7s' % (
            'config', 'setting', 'value (s)', 'condition', 'trial', 'false', 'taken (s)',
            'dual (s)', 'failed'))
        for p in stressed:
            print('%-22s %-11s %9.3g %-20s %5s %6s %9s %9s %7s%s' % (tuple(_dash(v) for v in (
                p['configuration'], p['setting'], p['setting_s'], p['condition'],
                p.get('trial'), 'yes' if p['false_takeover'] else 'no',
                p.get('owner_change_s'), p.get('dual_owner_s'), p.get('failed_requests')))
                + ('' if p.get('recovered_after_clear_s') is not None
                   else '  (not whole again within the wait)',)))
        for (config, value, condition), n, of in false_takeovers(stressed):
            print('%s at %g s, %s: false takeovers in %d of %d boots'
                  % (config, value, condition, n, of))
    spreads(s, ('median_outage_s',))
    verdict(s, out, 'every failover measured' if s.get('passed') else
            'some failovers were not measured, or a run under a condition did not recover')


def false_takeovers(stressed):
    """[((configuration, setting_s, condition), boots with a false takeover, boots)] over
    the runs under a condition that vouch for what they measured and were not degraded (a
    machine that stalled can alone make a backup take over). A run that measured its
    condition but did not recover within the wait counts: its false takeover is the
    worst kind."""
    out = {}
    for p in stressed:
        if p.get('vouched', p.get('passed')) and not p.get('degraded'):
            n = out.setdefault((p['configuration'], p['setting_s'], p['condition']), [0, 0])
            n[0] += bool(p['false_takeover'])
            n[1] += 1
    return [(k, n, of) for k, (n, of) in out.items()]


def _dash(v):
    return '-' if v is None else v


def load_lab(s, out):
    if s.get('levels'):
        print('\n%-9s %-12s %8s %9s %7s %7s %9s %8s %8s %8s %10s %6s %7s' % (
            'pattern', 'target', 'clients', 'requests', 'ok', 'failed', 'req/s', 'p50 s',
            'p99 s', 'max s', 'connect99', 'SYNre', 'cpu ms'))
        for lv in s['levels']:
            print('%-9s %-12s %8d %9d %7d %7d %9.0f %8s %8s %8s %10s %6s %7s' % (
                lv.get('pattern', 'keepalive'), lv['target'], lv['concurrency'], lv['requests'],
                lv['ok'], lv['failed'], lv['rps'], lv['p50_s'], lv['p99_s'], lv['max_s'],
                _dash(lv.get('connect_p99_s')), _dash(lv.get('syn_retrans')),
                _dash(lv.get('cpu_per_request_ms'))))
            if lv['errors']:
                print('%18s failed: %s' % ('', ', '.join('%s %d' % kv
                                                         for kv in sorted(lv['errors'].items()))))
        print('(connect99: the 99th percentile of a connect, s; SYNre: SYNs the client sent '
              'again; cpu ms: the machine\'s CPU per request)')
        for g in s.get('goals', []):
            what = ('VIP/direct throughput %s (goal >= 0.9: %s), p99 ratio %s (goal <= 1.2: %s)'
                    % (g['throughput_ratio'], _met(g['throughput_ok']), g['p99_ratio'],
                       _met(g['p99_ok'])) if g.get('pattern', 'keepalive') == 'keepalive' else
                    'VIP/direct new connections/s %s (goal >= 0.9: %s)'
                    % (g['throughput_ratio'], _met(g['throughput_ok'])))
            print('%5d clients, %-9s: %s, failed %d vip / %d direct (goal 0: %s)' % (
                g['concurrency'], g.get('pattern', 'keepalive'), what, g['vip_failed'],
                g['direct_failed'], _met(g['zero_failed'])))
            if 'two_directors_ratio' in g:
                print('%26s two directors / one: %s here (one CPU runs every node); IPVS '
                      'scheduled %s: where a director\'s CPU is the limit, two carry %s x '
                      'one (goal >= 1.8: %s)' % (
                          '', g['two_directors_ratio'], g['director_shares'],
                          g['capacity_ratio'], _met(g['capacity_ok'])))
    for r in s.get('scale') or []:
        print('%d real server(s): %.0f req/s, efficiency %s' % (
            r['servers'], r['rps'], s.get('scaling_efficiency', {}).get(str(r['servers']))))
    for c in s.get('failover_under_load', []):
        print('%-12s %s answered, failed %d at the power-off and %d at the power-on (outage '
              '%s s)' % (c['layout'], c['answered'], c['failed_at_power_off'],
                         c['failed_at_power_on'], c['outage_s']))
    for layout, r in s.get('conn_sync', {}).items():
        for way, c in r.items():
            print('%s, %-7s: %d of %d sessions carried on, %s broken (failed requests %s; '
                  '%s %s entries)'
                  % (layout, way, c['survived'], c['total'], c['broken'],
                     c.get('failed_requests') or 'none',
                     'laicoy served' if 'by_director' in c else 'the backup had',
                     sum(c['backup_entries_before'].values())))
            sent = c.get('primary_sent')
            if sent:
                print('    laicoz sent %s UDP datagrams/s, %s multicast packets/s, %s multicast '
                      'bytes/s while the sessions ran' % (
                          sent.get('udp_datagrams_per_s'), sent.get('mcast_packets_per_s'),
                          sent.get('mcast_octets_per_s')))
            if c.get('change'):
                print('    %s of %s: %s' % (c['change']['change'], c['change']['server'],
                                            _tally(c['by_server'])))
            if 'by_director' in c:
                print('    active/active: the router\'s ECMP route sent to laicoy instead '
                      'of laicoz %s s after the fault; through each director: %s'
                      % (c['ecmp_moved_s'], _tally(c['by_director'])))
    hw = s.get('hardware')
    if hw:
        print('hardware %s: link %s Mbit/s measured; CPU director %s, real server %s'
              % (hw['profile']['name'], hw['link_mbit_measured'], hw['director_cpu_measured'],
                 hw['server_cpu_measured']))
    for f in s.get('failures', []):
        print('FAILED: %s' % f)
    spreads(s)
    fidelity(s)
    verdict(s, out, s['parameters'].get('mode', 'load'))


def _tally(rows):
    """Sessions carried and broken per group (topo/analysis/load.py by_server)."""
    return '; '.join('%s %d/%d carried%s' % (group, row['carried'], row['sessions'], ''.join(
        ', broken %s %s' % (k[len('broken_'):].replace('_', ' '), v)
        for k, v in row.items() if k.startswith('broken') and v))
        for group, row in rows.items())


def _met(v):
    return 'met' if v else 'NOT met'


def schedulers(s, out):
    for sched, r in (s.get('schedulers') or {}).items():
        if 'sources' in r:          # a hashing scheduler: client addresses per server
            print('%-4s client addresses per server %s (expected %s), %d of %d kept their '
                  'server: %s' % (sched, r['sources_per_server'],
                                  {k: round(v, 1) for k, v in r['expected_sources'].items()},
                                  r['sticky_sources'], r['sources'], 'PASS' if r['passed']
                                  else 'FAIL %s' % [k for k, v in r['checks'].items() if not v]))
            continue
        print('%-4s short %s (expected %s), held ActiveConn %s (expected %s): %s' % (
            sched, r['answers'], {k: round(v, 2) for k, v in r['expected_answers'].items()},
            r['active_peak'], {k: round(v, 2) for k, v in r['active_expected'].items()},
            'PASS' if r['passed'] else 'FAIL %s' % [k for k, v in r['checks'].items() if not v]))
    verdict(s, out, ', '.join(s['parameters'].get('settings', {}).get('schedulers', [])))
