"""The verdict of a failover run and its console report, from its summary alone."""
from experiments.figures import FIGURES


def verdict(s, figures_expected=True):
    """Passed? Every figure checked and passing, requests split evenly after the
    takeover; for failovers only: every failover measured."""
    if not figures_expected:
        repeats = s.get('failover_repeats') or []
        return bool(repeats) and all(f['outage_s'] is not None for f in repeats) \
            and not s.get('failures')
    figs = s['figures']
    split = s.get('split_after_takeover')
    return all(str(f) in figs for f in FIGURES) and all(f['passed'] for f in figs.values()) \
        and (split is None or split['even'])


def console(s, out, figures_expected=True):
    """The table of figures (if any), then each measured timeline."""
    figs = s['figures']
    if figures_expected:
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
    for failure in s.get('failures', []):
        print('\nFAILED: %s' % failure)
    ok = s.get('passed')
    if figures_expected:
        print('\n%s: %d/%d figure checks passed; results in %s'
              % ('PASS' if ok else 'FAIL', sum(f['passed'] for f in figs.values()),
                 len(FIGURES), out))
    else:
        print('\n%s: %d failovers measured; results in %s'
              % ('PASS' if ok else 'FAIL', len(s.get('failover_repeats') or []), out))
