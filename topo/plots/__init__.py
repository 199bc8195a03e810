"""Plots, made from a results folder's data alone (summary.json, probe.csv,
events.jsonl, CSVs), never from a running cluster: one module per experiment,
each with plot(results folder) -> the files it wrote.

    python3 experiments/plot.py results/latest      # remakes a run's plots
"""
import importlib
import json
from pathlib import Path

# summary.json's experiment -> the module that plots it
PLOTS = {'failover': 'failover', 'faults': 'faults', 'fault': 'faults', 'sweep': 'sweep',
         'load': 'load', 'schedulers': 'schedulers', 'maintenance': 'maintenance',
         'growth': 'maintenance', 'availability': 'availability'}


def plot(out):
    """Every plot of the run in `out`; the files written (relative to it). Repeated
    trials add trials.png; the trials of one scenario are each a run with its own plots."""
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    written = []
    if summary.get('spreads'):
        written += importlib.import_module(__name__ + '.trials').plot(out)
    if 'trials' in summary:                 # topo.engine.matrix.trials
        for trial in summary['trials']:
            written += [str(Path(trial['results']) / w) for w in plot(trial['results'])]
        return written
    if summary.get('experiment') in PLOTS:
        written += importlib.import_module(
            '%s.%s' % (__name__, PLOTS[summary['experiment']])).plot(out)
    return written


def safely(out, log=print):
    """plot(out) for an experiment at its end: the data stand without the figures, so
    a failed plot is said, not raised. True when it worked."""
    try:
        written = plot(out)
    except Exception as e:
        log('plotting failed: %s: %s' % (type(e).__name__, e))
        return False
    if written:
        log('plots: %s%s' % (', '.join(str(Path(out) / w) for w in written[:3]),
                             ' and %d more' % (len(written) - 3) if len(written) > 3 else ''))
    return True
