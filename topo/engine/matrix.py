"""The matrix runner: cells (a layout, a scenario, what the cell varies) run one
after the other, one cluster boot each, with progress and the time left; every
cell keeps its own results folder, the experiment's summary.json lists one
entry per cell and a CSV gets the cells' rows as they come.

    cells = [Cell('heartbeat-cable-pull', stack, scenarios.fault(...), {'fault': ...})]
    Matrix(plan, out).run('faults', row, 'fault_matrix.csv', FIELDS)

With trials > 1 every cell runs that many times, one boot each (the boot is part of
the variance), entries carry 'cell' and 'trial', and summary.json['spreads'] has each
cell's metrics over its passed, not degraded trials (topo.stats.spreads), rewritten
after each.

Used by the fault matrix, the sweep, failover under load, connection sync and the
maintenance matrix; trials() repeats the one scenario of the other experiments.
"""
import csv
import time
from dataclasses import dataclass, field

from topo.engine.results import Summary, header
from topo.engine.run import Run, stage
from topo.stats import spreads


@dataclass
class Cell:
    name: str               # its folder under the results folder's cells/
    stack: object           # the HA stack, with the cell's settings
    scenario: object        # topo.engine.scenarios.Scenario
    labels: dict = field(default_factory=dict)      # what the cell varies
    experiment: str = None  # what its own summary.json calls it

    def describe(self, plan):
        mine, plans = self.stack.config.as_dict(), plan.config.as_dict()
        changed = {k: v for k, v in mine.items() if plans.get(k) != v}
        return dict(self.labels, name=self.name, layout=self.stack.layout,
                    stack=self.stack.parameters(), **self.scenario.describe(),
                    **({'cluster': changed} if changed else {}))


class Matrix:
    def __init__(self, plan, out, folder='cells', trials=1):
        self.plan, self.out, self.folder = plan, out, folder
        self.trials = trials
        self.summary = Summary(out / 'summary.json', header(plan))
        self.keys = []

    def run(self, key, row, csv_name=None, fields=None, after=None, cells=None, last=True):
        """Every cell (of the plan by default) in turn; row(cell, result, cell_out) gives
        the cell's entry in summary.json[key] (with 'passed') and its CSV rows (fields:
        the CSV's columns, by default the first row's); after(cell_out) runs once a
        cell is done (its report). last: no other run of this matrix follows (the
        summary is then complete, passed only if every entry of every run passed).
        The entries, in order."""
        cells = self.plan.cells if cells is None else cells
        entries = self.summary.data.setdefault(key, [])
        self.keys.append(key)
        runs = [(c, r) for c in cells for r in range(self.trials)]
        labels = set().union(*(c.labels for c in cells))
        f = open(self.out / csv_name, 'w', newline='') if csv_name else None
        writer = None
        started = time.monotonic()
        try:
            for n, (cell, rep) in enumerate(runs):
                if n:
                    left = (time.monotonic() - started) / n * (len(runs) - n)
                    stage('== about %d min %02d s left' % divmod(int(left), 60))
                stage('== %s %d/%d: %s' % (self.folder[:-1], n + 1, len(runs), cell.name))
                name = cell.name if self.trials == 1 else '%s-%d' % (cell.name, rep + 1)
                cell_out = self.out / self.folder / name
                cell_out.mkdir(parents=True)
                result = Run(self.plan, cell_out, stack=cell.stack,
                             experiment=cell.experiment).run(cell.scenario)
                entry, rows = row(cell, result, cell_out)
                entry['degraded'] = result.degraded
                if self.trials > 1:
                    entry.update(cell=cell.name, trial=rep + 1)
                    rows = [dict(r, cell=cell.name, trial=rep + 1) for r in rows]
                entries.append(entry)
                if self.trials > 1:
                    self.summary.data.setdefault('spreads', {}).update(spreads(
                        entries, keep_degraded=self.plan.keep_degraded, skip=labels))
                self.summary.write()
                if f and rows and writer is None:
                    columns = list(fields or rows[0])
                    if self.trials > 1:
                        columns = ['cell', 'trial'] + [k for k in columns
                                                       if k not in ('cell', 'trial')]
                    writer = csv.DictWriter(f, columns, extrasaction='ignore')
                    writer.writeheader()
                for r in rows:
                    writer.writerow(r)
                if f:
                    f.flush()
                if after:
                    after(cell_out)
        finally:
            if f:
                f.close()
        if last:
            every = [e for k in self.keys for e in self.summary.data[k]]
            self.summary.finish(passed=bool(every) and all(e['passed'] for e in every))
        return entries


def trials(plan, out, numbers, after=None):
    """The plan's scenario plan.trials times, one boot each, for the experiments that
    run one scenario (failover.py, schedulers.py, load.py's ramp and scale): each
    trial a run with its own folder under trials/, numbers(result) its entry in
    summary.json['trials'] and its row in trials.csv. The summary, as written."""
    name = plan.stack.layout if plan.stack else plan.experiment
    cell = Cell(name, plan.stack, plan.scenario, experiment=plan.experiment)

    def row(cell, result, cell_out):
        entry = dict(numbers(result), passed=result.passed, results=str(cell_out))
        return entry, [entry]
    matrix = Matrix(plan, out, 'trials', plan.trials)
    matrix.run('trials', row, 'trials.csv', after=after, cells=[cell])
    return matrix.summary.data


def cells(plan, out, key, numbers, csv_name, report):
    """The plan's cells (x its trials), each reported as it ends (its own run's report),
    for the experiments whose cells' entries are their labels and numbers(analysis)
    (maintenance.py, availability.py); then report(summary, out). The exit status."""
    from topo.analysis import report as reports

    def row(cell, result, cell_out):
        entry = dict(cell.labels, **numbers(result.analysis))
        entry.update(passed=result.passed, results=str(cell_out))
        return entry, [entry]
    Matrix(plan, out, trials=plan.trials).run(
        key, row, csv_name, after=lambda cell_out: reports.run(reports.load(cell_out), cell_out))
    s = reports.load(out)
    report(s, out)
    return 0 if s['passed'] else 1
