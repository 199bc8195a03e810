#!/usr/bin/env python3
"""Compare the trials of runs (each made with --trials): per metric, each run's
median [IQR] over its trials used, and how often one run's trials were below
another's (every pair of trials), so that a comparison says what the trials support.

  python3 experiments/compare.py results/keepalived results/hot-standby results/heartbeat
  python3 experiments/compare.py results/a results/b --metrics outage_s,detected_s
"""
import argparse
import json
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo.stats import compare  # noqa: E402

METRICS = 'outage_s,detected_s,vip_taken_s,table_ready_s,failed_requests'


def runs(folders):
    """[(label, spread of each metric, kernel mode)] of every cell of every folder."""
    out = []
    for folder in folders:
        s = json.loads((Path(folder) / 'summary.json').read_text())
        if not s.get('spreads'):
            raise ValueError('%s has no trials to compare (run it with --trials N)' % folder)
        for cell, d in s['spreads'].items():
            label = cell if len(s['spreads']) > 1 or len(folders) == 1 else Path(folder).name
            out.append(('%s (%d/%d)' % (label, d['used'], d['trials']), d['metrics'],
                        s.get('kernel_mode')))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('results', nargs='+', help='results folders of runs made with --trials')
    p.add_argument('--metrics', default=METRICS, help='metrics to compare, comma-separated')
    a = p.parse_args(argv)
    try:
        cells = runs(a.results)
    except (OSError, ValueError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    print('kernel mode: %s; (trials used/trials)' % ', '.join(sorted({c[2] or '?' for c in cells})))
    for m in [m for m in a.metrics.split(',') if m]:
        measured = [c for c in cells if c[1].get(m, {}).get('measured')]
        if not measured:
            continue
        print('\n%s' % m)
        for label, metrics, _ in measured:
            d = metrics[m]
            print('  %-34s median %-8s [IQR %s-%s]  range %s-%s' % (
                label, d['median'], d['q1'], d['q3'], d['min'], d['max']))
        for i, (la, ma, _) in enumerate(measured):
            for lb, mb, _ in measured[i + 1:]:
                c = compare(ma[m]['values'], mb[m]['values'])
                if 2 * c['below'] < c['pairs']:         # say it from the lower one
                    (la, ma), (lb, mb) = (lb, mb), (la, ma)
                    c = compare(ma[m]['values'], mb[m]['values'])
                print('  %s below %s in %d of %d pairs of trials%s' % (
                    la, lb, c['below'], c['pairs'], ': every trial' if c['all_below'] else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
