#!/usr/bin/env python3
"""Compare the trials of runs (each made with --trials): per metric, each run's
median [IQR] over its trials used, and how often one run's trials were below
another's (every pair of trials), so that a comparison says what the trials support.

  python3 experiments/compare.py results/keepalived results/hot-standby results/heartbeat
  python3 experiments/compare.py results/a results/b --metrics outage_s,detected_s
  python3 experiments/compare.py results/a results/b --plot compare.png
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
    """[(label, the cell's spreads, kernel mode)] of every cell of every folder."""
    out = []
    for folder in folders:
        s = json.loads((Path(folder) / 'summary.json').read_text())
        if not s.get('spreads'):
            raise ValueError('%s has no trials to compare (run it with --trials N)' % folder)
        for cell, d in s['spreads'].items():
            out.append(('%s:%s' % (Path(folder).name, cell), d, s.get('kernel_mode')))
    cells = [label.split(':', 1)[1] for label, _, _ in out]
    if len(set(cells)) == len(cells):       # the cells' own names say which is which
        out = [(c, d, k) for c, (_, d, k) in zip(cells, out)]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('results', nargs='+', help='results folders of runs made with --trials')
    p.add_argument('--metrics', default=METRICS, help='metrics to compare, comma-separated')
    p.add_argument('--plot', metavar='FILE', help='also a strip chart of the trials (PNG)')
    a = p.parse_args(argv)
    try:
        cells = runs(a.results)
    except (OSError, ValueError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    modes = ', '.join(sorted({c[2] or '?' for c in cells}))
    print('kernel mode: %s; (trials used/trials)' % modes)
    metrics = [m for m in a.metrics.split(',') if m]
    cells = [('%s (%d/%d)' % (label, d['used'], d['trials']), d['metrics'], d)
             for label, d, _ in cells]
    for m in metrics:
        measured = [c for c in cells if c[1].get(m, {}).get('measured')]
        if not measured:
            continue
        print('\n%s' % m)
        for label, values, _ in measured:
            d = values[m]
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
    if a.plot:
        from topo.plots.trials import strip
        strip({label.split(' (')[0]: d for label, _, d in cells},
              'Trials compared (%s kernel): each trial a point, median black, IQR shaded'
              % modes, a.plot, metrics)
        print('plot: %s' % a.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
