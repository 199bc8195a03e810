"""The matrix runner: cells (a layout, a scenario, what the cell varies) run one
after the other, one cluster boot each, with progress and the time left; every
cell keeps its own results folder, the experiment's summary.json lists one
entry per cell and a CSV gets the cells' rows as they come.

    cells = [Cell('heartbeat-cable-pull', stack, scenarios.fault(...), {'fault': ...})]
    Matrix(plan, out).run('faults', row, 'fault_matrix.csv', FIELDS)

With trials > 1 every cell runs that many times, one boot each (the boot is part of
the variance), entries carry 'cell' and 'trial', and summary.json['spreads'] has each
cell's metrics over its passed trials (topo.stats.spreads), rewritten after each.

Used by the fault matrix, the sweep, failover under load, connection sync and the
trials of failover.py.
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
        return dict(self.labels, name=self.name, layout=self.stack.layout,
                    stack=self.stack.parameters(), **self.scenario.describe())


class Matrix:
    def __init__(self, plan, out, folder='cells', trials=1):
        self.plan, self.out, self.folder = plan, out, folder
        self.trials = trials
        self.summary = Summary(out / 'summary.json', header(plan))

    def run(self, key, row, csv_name=None, fields=None, after=None):
        """Every cell of the plan in turn; row(cell, result, cell_out) gives the cell's
        entry in summary.json[key] (with 'passed') and its CSV rows; after(cell_out)
        runs once a cell is done (its plots). The entries, in order."""
        entries = self.summary.data.setdefault(key, [])
        runs = [(c, r) for c in self.plan.cells for r in range(self.trials)]
        if self.trials > 1 and fields:
            fields = ['cell', 'trial'] + [k for k in fields if k not in ('cell', 'trial')]
        f = open(self.out / csv_name, 'w', newline='') if csv_name else None
        writer = csv.DictWriter(f, fields, extrasaction='ignore') if f else None
        if writer:
            writer.writeheader()
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
                    self.summary.data['spreads'] = spreads(
                        entries, keep_degraded=self.plan.keep_degraded)
                self.summary.write()
                for r in rows:
                    writer.writerow(r)
                if f:
                    f.flush()
                if after:
                    after(cell_out)
        finally:
            if f:
                f.close()
        self.summary.finish(passed=bool(entries) and all(e['passed'] for e in entries))
        return entries
