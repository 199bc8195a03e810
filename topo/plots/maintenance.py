"""maintenance.png from a rolling upgrade's data (summary.json): the requests that
failed in each layout, drained against naive; and each cell's own probes over time
(failover_latency.png: who answered each request, the stages marked)."""
import json
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from topo.plots import failover  # noqa: E402

COLORS = {'drained': 'tab:green', 'naive': 'tab:red', 'grow': 'tab:blue'}


def plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    if 'scenario' in summary:               # one cell's own run
        return failover.plot(out)
    cells = summary['maintenance']
    written = []
    for c in cells:
        written += [str(Path(c['results']) / w) for w in failover.plot(c['results'])]
    layouts = list(dict.fromkeys(c['layout'] for c in cells))
    ways = list(dict.fromkeys(c['way'] for c in cells))
    fig, ax = plt.subplots(figsize=(2.2 * len(layouts) + 3, 4.5))
    width = 0.8 / len(ways)
    for j, way in enumerate(ways):
        for i, layout in enumerate(layouts):
            values = [c['failed_requests'] for c in cells if c['layout'] == layout
                      and c['way'] == way and c['failed_requests'] is not None]
            if not values:
                continue
            x = i + (j - (len(ways) - 1) / 2) * width
            ax.bar(x, sorted(values)[len(values) // 2], width, color=COLORS.get(way),
                   label=way if i == 0 else None)
            ax.scatter([x] * len(values), values, color='black', s=10, zorder=3)
            ax.text(x, max(values), ' %d' % sorted(values)[len(values) // 2], ha='center',
                    va='bottom', fontsize=8)
    ax.set_xticks(range(len(layouts)))
    ax.set_xticklabels(layouts)
    ax.set_ylabel('failed requests (prober + load), median; points: trials')
    par = summary['parameters']
    load = 'the prober' + (' and %d clients' % par['clients'] if par.get('clients') else '')
    what = ('Growth %d -> %d -> %d real servers' % (par['start_servers'], par['grow'],
                                                  par['start_servers']) if par.get('grow')
            else 'Rolling upgrade of %d real servers' % len(par.get('real_servers', [])))
    ax.set_title('%s under %s (%s kernel)' % (what, load, summary.get('kernel_mode', '?')))
    ax.legend()
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / 'maintenance.png', dpi=110)
    plt.close(fig)
    return ['maintenance.png'] + written
