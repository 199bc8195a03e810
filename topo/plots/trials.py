"""trials.png from repeated trials (summary.json's spreads): for a few headline
metrics, every trial used (passed, not degraded) of every cell as a point, the median as a tick and the
interquartile range as a band, so that no number stands alone."""
import json
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from topo.analysis.report import mode_label

# the headline metrics, in the order they are shown (the first four measured)
METRICS = ('outage_s', 'noticed_s', 'service_back_s', 'detected_s', 'table_ready_s',
           'dual_owner_s', 'recovered_after_clear_s', 'failback_outage_s', 'median_outage_s')
LABELS = {'outage_s': 'client-observed outage (s)', 'noticed_s': 'fault noticed (s)',
          'service_back_s': 'service back (s)', 'detected_s': 'peer declared dead (s)',
          'table_ready_s': 'table complete (s)', 'dual_owner_s': 'two VIP owners (s)',
          'recovered_after_clear_s': 'whole again after the clear (s)',
          'failback_outage_s': 'failback outage (s)',
          'median_outage_s': "a boot's median outage (s)", 'vip_taken_s': 'VIP on laicoy (s)'}


def plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    title = ('%s, %s kernel: each trial used a point (passed, not degraded), median black, '
             'IQR shaded (used/trials)' % (summary.get('experiment'),
                                           mode_label(summary)))
    return ['trials.png'] if strip(summary['spreads'], title, out / 'trials.png') else []


def strip(spreads, title, path, metrics=None):
    """The strip chart of {cell: spread} (topo.stats.spreads) into path; False when
    nothing was measured."""
    cells = list(spreads)
    measured = [m for d in spreads.values() for m, v in d['metrics'].items() if v['measured']]
    # the headline metrics, or else the experiment's first four (a ramp's throughputs)
    metrics = [m for m in metrics or METRICS if m in measured][:4] or \
        list(dict.fromkeys(measured))[:4]
    if not metrics:
        return False
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics) + 2,
                                                       0.45 * len(cells) + 2.2),
                             sharey=True, squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for i, cell in enumerate(cells):
            d = spreads[cell]['metrics'].get(m)
            values = [v for v in (d or {}).get('values', []) if v is not None]
            if not values:
                continue
            ax.plot([d['q1'], d['q3']], [i, i], color='tab:blue', lw=7, alpha=0.25,
                    solid_capstyle='butt')
            ax.scatter(values, [i + 0.12 * ((k % 3) - 1) for k in range(len(values))],
                       s=14, color='tab:blue', zorder=3)
            ax.plot([d['median']] * 2, [i - 0.3, i + 0.3], color='black', lw=2)
        ax.set_title(LABELS.get(m, m), fontsize=9)
        ax.set_xlim(left=0)
        ax.grid(axis='x', alpha=0.3)
    axes[0][0].set_yticks(range(len(cells)))
    axes[0][0].set_yticklabels(['%s (%d/%d)' % (c, spreads[c].get('used', spreads[c]['passed']),
                                                spreads[c]['trials']) for c in cells], fontsize=8)
    axes[0][0].set_ylim(len(cells) - 0.5, -0.5)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
