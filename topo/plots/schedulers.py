"""Plot a schedulers run: scheduler_distribution.png from its summary.json.

Left: how the short requests spread over the real servers with each
scheduler (bars: measured share; black marks: expected share). Right: the
ActiveConn of each real server while the long-lived connections are held
(hatched: sessions already there before the new ones; black marks: expected).
"""
import json
from pathlib import Path

PNG = 'scheduler_distribution.png'


def plot(results_dir, name=PNG):
    """Write the figure."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    results_dir = Path(results_dir)
    summary = json.loads((results_dir / 'summary.json').read_text())
    scheds = summary.get('schedulers') or {}
    if not scheds:
        raise ValueError('%s/summary.json has no scheduler results' % results_dir)
    names = list(scheds)
    servers = list(next(iter(scheds.values()))['weights'])
    weights = next(iter(scheds.values()))['weights']
    colors = plt.get_cmap('tab10').colors
    width = 0.8 / len(servers)

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    for i, server in enumerate(servers):
        xs = [k + (i - (len(servers) - 1) / 2) * width for k in range(len(names))]
        shares, expected, preload, new, active_exp = [], [], [], [], []
        for s in names:
            r = scheds[s]
            total = sum(r['answers'].values()) or 1
            shares.append(r['answers'].get(server, 0) / total)
            expected.append(r['expected_share'][server])
            pre = r.get('preload', {}).get(server, 0)
            peak = r.get('active_peak', {}).get(server, 0)
            preload.append(min(pre, peak))
            new.append(max(peak - pre, 0))
            active_exp.append(r.get('active_expected', {}).get(server, 0))
        label = '%s (weight %s)' % (server, weights[server])
        bars = left.bar(xs, shares, width * 0.92, color=colors[i % 10], label=label)
        for b, s in zip(bars, names):
            left.annotate(str(scheds[s]['answers'].get(server, 0)),
                          (b.get_x() + b.get_width() / 2, b.get_height()),
                          ha='center', va='bottom', fontsize=8)
        left.scatter(xs, expected, marker='_', s=400, color='black', zorder=3)
        right.bar(xs, preload, width * 0.92, color=colors[i % 10], hatch='//',
                  edgecolor='white', alpha=0.55)
        bars = right.bar(xs, new, width * 0.92, bottom=preload, color=colors[i % 10])
        for b, p, n in zip(bars, preload, new):
            right.annotate(str(p + n), (b.get_x() + b.get_width() / 2, p + n),
                           ha='center', va='bottom', fontsize=8)
        right.scatter(xs, active_exp, marker='_', s=400, color='black', zorder=3)

    first = scheds[names[0]]
    hashed = [s for s in names if 'sources' in scheds[s]]
    left.set_title('Short requests, one connection each%s' % (
        ' (%s: from %d client addresses, %d times each)' % (
            ', '.join(hashed), scheds[hashed[0]]['sources'], scheds[hashed[0]]['passes'])
        if hashed else ''))
    left.set_xlabel('IPVS scheduler')
    left.set_ylabel('share of the requests answered')
    left.set_xticks(range(len(names)))
    left.set_xticklabels(names)
    left.set_ylim(0, max(0.6, max(max(r['expected_share'].values()) for r in scheds.values()) + 0.15))
    handles, _ = left.get_legend_handles_labels()
    handles.append(Line2D([], [], color='black', marker='_', linestyle='None', markersize=14,
                          label='expected share'))
    left.legend(handles=handles, loc='upper left', fontsize=8)

    pre_total = sum(first.get('preload', {}).values())
    pre_on = [s for s, v in first.get('preload', {}).items() if v] or ['-']
    right.set_title('Long-lived connections held: %d new on top of %d already on %s'
                    % (first.get('new', 0), pre_total, ', '.join(pre_on)))
    right.set_xlabel('IPVS scheduler')
    right.set_ylabel('ActiveConn in ipvsadm -L while held')
    right.set_xticks(range(len(names)))
    right.set_xticklabels(names)
    top = max(max(r.get('active_peak', {0: 0}).values()) for r in scheds.values())
    right.set_ylim(0, top * 1.25 + 1)
    right.legend(handles=[
        Patch(facecolor='grey', alpha=0.55, hatch='//', edgecolor='white',
              label='held before the new ones (opened while the others had weight 0)'),
        Patch(facecolor='grey', label='new connections, scheduled'),
        Line2D([], [], color='black', marker='_', linestyle='None', markersize=14,
               label='expected ActiveConn')], loc='upper left', fontsize=8)

    fig.suptitle('IPVS schedulers, weights %s (kernel mode %s%s)'
                 % (', '.join('%s=%s' % kv for kv in weights.items()), summary.get('kernel_mode'),
                    '' if summary.get('complete')
                    else ', run incomplete'))
    fig.tight_layout()
    path = results_dir / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [name]
