"""The verdict of a failover run and its console report, from its summary alone."""
from experiments.figures import FIGURES


def invariant_problems(s):
    """What the run's invariants contradict: a takeover before any fault; two owners
    (unless the scenario provokes them) for longer than a clean hand-over takes."""
    inv = s.get('invariants') or {}
    problems = ['%s took the VIP %.2fs after the cluster came up, before any fault: a false '
                'takeover (no failover time is measured from it)' % (f['node'], f['t'])
                for f in inv.get('false_takeovers', [])]
    tolerance = s.get('dual_owner_tolerance_s', 0.0)
    long_dual = [i for i in inv.get('dual_owner', []) if i[1] - i[0] > tolerance]
    if long_dual and not s.get('dual_owner_allowed'):
        problems.append('two directors owned the VIP for %.2fs (%s), longer than a hand-over '
                        'may overlap (%.2fs)' % (sum(b - a for a, b in long_dual), ', '.join(
                            '%.2f-%.2fs' % tuple(i) for i in long_dual), tolerance))
    problems += ['a director failover was not measured: laicoy held the VIP before the fault'
                 for f in s.get('failover_repeats') or [] if f.get('false_takeover')]
    return problems


def verdict(s, expect='figures'):
    """Passed? The invariants hold, and as the scenario expects ('figures': every
    figure checked and passing, requests split evenly after the takeover;
    'failovers': every failover measured; 'recovery': the cluster came back)."""
    if invariant_problems(s):
        return False
    if expect == 'recovery':
        return bool(s.get('faults')) and not s.get('failures')
    if expect == 'failovers':
        repeats = s.get('failover_repeats') or []
        return bool(repeats) and all(f['outage_s'] is not None for f in repeats) \
            and not s.get('failures')
    figs = s['figures']
    split = s.get('split_after_takeover')
    return all(str(f) in figs for f in FIGURES) and all(f['passed'] for f in figs.values()) \
        and (split is None or split['even'])


def console(s, out, expect='figures'):
    """The table of figures (if any), then each measured timeline."""
    figs = s['figures']
    if expect == 'figures':
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
            print('\n%s, %s mode:' % (title, s['kernel_mode']))
            for k, v in d.items():
                print('  %-26s %s' % (k, '-' if v is None else v))
    inv = s.get('invariants')
    if inv:
        print('\ninvariants: dual owner %.2fs, no owner %.2fs, owner without table %.2fs, '
              'false takeovers %d, client ARP flips %d'
              % (inv['dual_owner_s'], inv['no_owner_s'], inv['owner_without_table_s'],
                 len(inv['false_takeovers']), len(inv['arp_flips'])))
    for problem in invariant_problems(s):
        print('INVARIANT BROKEN: %s' % problem)
    for failure in s.get('failures', []):
        print('\nFAILED: %s' % failure)
    ok = s.get('passed')
    if expect == 'recovery':
        print('\n%s: %s; results in %s' % (
            'PASS' if ok else 'FAIL', 'the cluster came back' if ok
            else 'the cluster did not come back or an invariant broke (above)', out))
    elif expect == 'figures':
        print('\n%s: %d/%d figure checks passed; results in %s'
              % ('PASS' if ok else 'FAIL', sum(f['passed'] for f in figs.values()),
                 len(FIGURES), out))
    else:
        print('\n%s: %d failovers measured; results in %s'
              % ('PASS' if ok else 'FAIL', len(s.get('failover_repeats') or []), out))
