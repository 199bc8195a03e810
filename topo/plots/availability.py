"""availability.png from an availability run's data (summary.json and each cell's):
per layout the share of time the service answered (as nines, measured and
extrapolated to realistic rates; points: trials), and the downtime each kind of
fault cost; each cell's own probes over time (failover_latency.png)."""
import json
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from topo.plots import failover  # noqa: E402
from topo.analysis.report import mode_label


def _median(values):
    v = sorted(values)
    return v[len(v) // 2] if v else None


def plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    if 'scenario' in summary:               # one cell's own run
        return failover.plot(out)
    cells = [c for c in summary['availability'] if c.get('results')]
    written = []
    for c in cells:
        written += [str(Path(c['results']) / w) for w in failover.plot(c['results'])]
    runs = [(c['layout'], json.loads((Path(c['results']) / 'summary.json').read_text())
             .get('availability')) for c in cells]
    runs = [(layout, a) for layout, a in runs if a]
    layouts = list(dict.fromkeys(layout for layout, _ in runs))
    kinds = sorted({k for _, a in runs for k in a['by_kind']})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6 + 2.2 * len(layouts), 4.8))
    for j, (label, get, color) in enumerate((
            ('measured', lambda a: a['nines'], 'tab:blue'),
            ('extrapolated', lambda a: a['extrapolated']['nines'], 'tab:orange'))):
        for i, layout in enumerate(layouts):
            values = [get(a) for name, a in runs if name == layout and get(a) is not None]
            if not values:
                continue
            x = i + (j - 0.5) * 0.38
            ax1.bar(x, _median(values), 0.38, color=color, label=label if i == 0 else None)
            ax1.scatter([x] * len(values), values, color='black', s=10, zorder=3)
            ax1.text(x, max(values), ' %.2f' % _median(values), ha='center', va='bottom',
                     fontsize=8)
    ax1.set_xticks(range(len(layouts)))
    ax1.set_xticklabels(layouts)
    ax1.set_ylabel('nines of availability (-log10 unavailability)')
    par = summary['parameters']
    ax1.set_title('%d faults in %.0f s (seed %s); extrapolated:\nevery node failing once in '
                  '%g days, %g h repair' % (len(par['schedule']), par['duration_s'], par['seed'],
                                            par['real_mtbf_days'], par['real_mttr_hours']),
                  fontsize=9)
    ax1.legend(fontsize=8)
    ax1.grid(axis='y', alpha=0.3)
    width = 0.8 / max(1, len(layouts))
    for j, layout in enumerate(layouts):
        xs, ys = [], []
        for i, kind in enumerate(kinds):
            values = [a['by_kind'][kind]['mean_s'] for name, a in runs
                      if name == layout and kind in a['by_kind']]
            if values:
                xs.append(i + (j - (len(layouts) - 1) / 2) * width)
                ys.append(_median(values))
        ax2.bar(xs, ys, width, label=layout)
    ax2.set_xticks(range(len(kinds)))
    ax2.set_xticklabels([k.replace(' ', '\n', 1) for k in kinds], fontsize=8)
    ax2.set_ylabel('downtime per fault (s, mean; median over trials)')
    ax2.set_title('What each kind of fault cost', fontsize=9)
    ax2.legend(fontsize=8)
    ax2.grid(axis='y', alpha=0.3)
    fig.suptitle('Availability under random faults (%s kernel)'
                 % mode_label(summary))
    fig.tight_layout()
    fig.savefig(out / 'availability.png', dpi=110)
    plt.close(fig)
    return ['availability.png'] + written
