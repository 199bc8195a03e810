#!/usr/bin/env python3
"""Remake a run's plots from its data alone (summary.json, probe.csv, events.jsonl,
CSVs): whichever experiment wrote the results folder.

  python3 experiments/plot.py results/latest
"""
import argparse
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import plots  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('results', help='results folder of an experiment')
    a = p.parse_args(argv)
    try:
        written = plots.plot(a.results)
    except (OSError, ValueError, KeyError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    print('plots written: %s' % (', '.join(str(Path(a.results) / w) for w in written)
                                 or 'none (this experiment has no plots)'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
