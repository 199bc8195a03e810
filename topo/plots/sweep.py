"""failover_sweep.png from a sweep's data (summary.json, sweep.csv): client-observed
outage against the detection setting, one line per HA configuration (median, with
the spread of the repetitions); with runs under a condition that is no failure
(loss, CPU starvation), beside it the share of boots in which the backup took the
VIP from a laicoz that never failed."""
import json
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = ['tab:red', 'tab:orange', 'tab:blue', 'tab:green', 'tab:purple', 'tab:brown']
MARKERS = ['o', 's', '^', 'D', 'v', 'P']


def plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    rows = pd.read_csv(out / 'sweep.csv')
    layouts = summary['parameters'].get('layouts', {})
    stressed = summary.get('false_takeovers') or []
    if stressed:
        fig, (ax, fx) = plt.subplots(1, 2, figsize=(16, 6), gridspec_kw={'width_ratios': [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(10, 6))
    for i, (config, group) in enumerate(rows.groupby('configuration', sort=False)):
        color, marker = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
        layout = layouts.get(config, {})
        label = '%s: %s' % (config, layout['description']) if layout else config
        stats = group.groupby('setting_s')['outage_s'].agg(['median', 'min', 'max']).dropna()
        ax.errorbar(stats.index, stats['median'],
                    yerr=[stats['median'] - stats['min'], stats['max'] - stats['median']],
                    color=color, marker=marker, capsize=4, label=label)
        ax.scatter(group['setting_s'], group['outage_s'], color=color, s=10, alpha=0.4)
    top = max(rows['setting_s'].max(), 1)
    ax.plot([0, top], [0, 3 * top], color='gray', ls=':', lw=1, label='3 x setting')
    axes = sorted({v['axis_label'] for v in layouts.values()}) or ['detection setting (s)']
    ax.set_xlabel('failure-detection setting: ' + ' or '.join(axes))
    ax.set_ylabel('client-observed outage (s)')
    par = summary['parameters']
    ax.set_title('Director failover time by HA configuration (%s kernel, %d failovers per '
                 'boot, %d boot%s per point)' % (summary.get('kernel_mode', '?'), par['repeats'],
                                                 par.get('trials', 1),
                                                 's' if par.get('trials', 1) > 1 else ''))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    if stressed:
        false_takeovers(fx, summary, stressed)
    fig.tight_layout()
    fig.savefig(out / 'failover_sweep.png', dpi=110)
    plt.close(fig)
    return ['failover_sweep.png']


def false_takeovers(ax, summary, stressed):
    from topo.analysis.report import false_takeovers as counts
    points = counts(stressed)
    lines = list(dict.fromkeys((c, cond) for (c, _, cond), _, _ in points))
    configs = list(dict.fromkeys(c for c, _ in lines))
    styles = ['-', '--', ':', '-.']
    conds = list(dict.fromkeys(cond for _, cond in lines))
    for config, condition in lines:
        i = configs.index(config)
        mine = sorted((v, n, of) for (c, v, cond), n, of in points
                      if (c, cond) == (config, condition))
        ax.plot([v for v, _, _ in mine], [n / of for _, n, of in mine],
                color=COLORS[i % len(COLORS)], marker=MARKERS[i % len(MARKERS)],
                ls=styles[conds.index(condition) % len(styles)],
                label='%s, %s' % (config, condition))
        for v, n, of in mine:
            ax.annotate('%d/%d' % (n, of), (v, n / of), textcoords='offset points',
                        xytext=(4, 4), fontsize=8)
    ax.set_title('False takeovers: laicoz held %g s under a condition that is no failure'
                 % summary['parameters']['hold_s'])
    ax.set_xlabel('failure-detection setting (s)')
    ax.set_ylabel('boots in which the backup took the VIP (share)')
    ax.set_xlim(left=0)
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
