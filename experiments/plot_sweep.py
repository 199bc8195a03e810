#!/usr/bin/env python3
"""failover_sweep.png from a sweep's data (summary.json, sweep.csv): client-observed
outage against the detection setting, one line per HA configuration (median, with
the spread of the repetitions).

  python3 experiments/plot_sweep.py results/latest
"""
import json
import sys
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

STYLE = {'heartbeat': ('tab:red', 'o'), 'hot-standby': ('tab:orange', 's'),
         'keepalived': ('tab:blue', '^')}
LABEL = {'heartbeat': 'heartbeat + ldirectord in the group (paper)',
         'hot-standby': 'heartbeat hot standby (VIP only)',
         'keepalived': 'keepalived (VRRP + checker)'}


def plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    rows = pd.read_csv(out / 'sweep.csv')
    fig, ax = plt.subplots(figsize=(10, 6))
    for config, group in rows.groupby('configuration'):
        color, marker = STYLE.get(config, ('gray', 'x'))
        stats = group.groupby('setting_s')['outage_s'].agg(['median', 'min', 'max']).dropna()
        ax.errorbar(stats.index, stats['median'],
                    yerr=[stats['median'] - stats['min'], stats['max'] - stats['median']],
                    color=color, marker=marker, capsize=4, label=LABEL.get(config, config))
        ax.scatter(group['setting_s'], group['outage_s'], color=color, s=10, alpha=0.4)
    top = max(rows['setting_s'].max(), 1)
    ax.plot([0, top], [0, 3 * top], color='gray', ls=':', lw=1, label='3 x setting')
    ax.set_xlabel('failure-detection setting: heartbeat deadtime or VRRP advert_int (s)')
    ax.set_ylabel('client-observed outage (s)')
    ax.set_title('Director failover time by HA configuration (%s kernel, %d repetitions)'
                 % (summary.get('kernel_mode', '?'), summary['parameters']['repeats']))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / 'failover_sweep.png', dpi=110)
    plt.close(fig)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    plot(sys.argv[1])
    print('plot written to %s' % (Path(sys.argv[1]) / 'failover_sweep.png'))
