"""Plot a schedulers run: scheduler_distribution.png from its summary.json.

Left: how the short requests spread over the real servers with each
scheduler (bars: measured share; black marks: expected share). Middle (rr, wrr,
lc, wlc): the ActiveConn of each real server while the long-lived connections are
held (hatched: sessions already there before the new ones; black marks: expected).
Right (sh, mh): how many client addresses each server answered, against the weights.
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
    hashed = [s for s in names if 'sources' in scheds[s]]       # sh, mh
    held = [s for s in names if s not in hashed]
    servers = list(next(iter(scheds.values()))['weights'])
    weights = next(iter(scheds.values()))['weights']
    colors = plt.get_cmap('tab10').colors
    width = 0.8 / len(servers)
    panels = 1 + bool(held) + bool(hashed)
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.2), squeeze=False)
    left, rest = axes[0][0], list(axes[0][1:])
    right = rest.pop(0) if held else None
    third = rest.pop(0) if hashed else None

    def xs_of(i, count):
        return [k + (i - (len(servers) - 1) / 2) * width for k in range(count)]

    for i, server in enumerate(servers):
        shares = [scheds[s]['answers'].get(server, 0) / (sum(scheds[s]['answers'].values()) or 1)
                  for s in names]
        xs = xs_of(i, len(names))
        bars = left.bar(xs, shares, width * 0.92, color=colors[i % 10],
                        label='%s (weight %s)' % (server, weights[server]))
        for b, s in zip(bars, names):
            left.annotate(str(scheds[s]['answers'].get(server, 0)),
                          (b.get_x() + b.get_width() / 2, b.get_height()),
                          ha='center', va='bottom', fontsize=8)
        left.scatter(xs, [scheds[s]['expected_share'][server] for s in names], marker='_',
                     s=400, color='black', zorder=3)
        if held:
            xs = xs_of(i, len(held))
            pre = [min(scheds[s].get('preload', {}).get(server, 0),
                       scheds[s].get('active_peak', {}).get(server, 0)) for s in held]
            new = [max(scheds[s].get('active_peak', {}).get(server, 0)
                       - scheds[s].get('preload', {}).get(server, 0), 0) for s in held]
            right.bar(xs, pre, width * 0.92, color=colors[i % 10], hatch='//',
                      edgecolor='white', alpha=0.55)
            bars = right.bar(xs, new, width * 0.92, bottom=pre, color=colors[i % 10])
            for b, p_, n in zip(bars, pre, new):
                right.annotate(str(p_ + n), (b.get_x() + b.get_width() / 2, p_ + n),
                               ha='center', va='bottom', fontsize=8)
            right.scatter(xs, [scheds[s].get('active_expected', {}).get(server, 0)
                               for s in held], marker='_', s=400, color='black', zorder=3)
        if hashed:
            xs = xs_of(i, len(hashed))
            got = [scheds[s]['sources_per_server'].get(server, 0) for s in hashed]
            bars = third.bar(xs, got, width * 0.92, color=colors[i % 10])
            for b, v in zip(bars, got):
                third.annotate(str(v), (b.get_x() + b.get_width() / 2, v), ha='center',
                               va='bottom', fontsize=8)
            third.errorbar(xs, [scheds[s]['expected_sources'][server] for s in hashed],
                           yerr=[scheds[s]['sources_tolerance'][server] for s in hashed],
                           fmt='_', markersize=14, color='black', capsize=3, zorder=3)

    left.set_title('Short requests, one connection each', fontsize=10)
    left.set_xlabel('IPVS scheduler')
    left.set_ylabel('share of the requests answered')
    left.set_xticks(range(len(names)))
    left.set_xticklabels(names)
    left.set_ylim(0, max(0.6, max(max(r['expected_share'].values()) for r in scheds.values()) + 0.15))
    handles, _ = left.get_legend_handles_labels()
    handles.append(Line2D([], [], color='black', marker='_', linestyle='None', markersize=14,
                          label='expected share'))
    left.legend(handles=handles, loc='upper left', fontsize=8)

    if held:
        first = scheds[held[0]]
        pre_total = sum(first.get('preload', {}).values())
        pre_on = [s for s, v in first.get('preload', {}).items() if v] or ['-']
        right.set_title('Long-lived connections held: %d new on top of %d already on %s'
                        % (first.get('new', 0), pre_total, ', '.join(pre_on)), fontsize=10)
        right.set_xlabel('IPVS scheduler')
        right.set_ylabel('ActiveConn in ipvsadm -L while held')
        right.set_xticks(range(len(held)))
        right.set_xticklabels(held)
        top = max(max(scheds[s].get('active_peak', {0: 0}).values()) for s in held)
        right.set_ylim(0, top * 1.25 + 1)
        right.legend(handles=[
            Patch(facecolor='grey', alpha=0.55, hatch='//', edgecolor='white',
                  label='held before the new ones (opened while the others had weight 0)'),
            Patch(facecolor='grey', label='new connections, scheduled'),
            Line2D([], [], color='black', marker='_', linestyle='None', markersize=14,
                   label='expected ActiveConn')], loc='upper left', fontsize=8)
    if hashed:
        r0 = scheds[hashed[0]]
        third.set_title('Hashing: %d client addresses, each asked %d times' % (
            r0['sources'], r0['passes']), fontsize=10)
        third.set_xlabel('IPVS scheduler (each address kept its server: %s)' % ', '.join(
            '%s %d/%d' % (s, scheds[s]['sticky_sources'], scheds[s]['sources'])
            for s in hashed))
        third.set_ylabel('client addresses answered by the server')
        third.set_xticks(range(len(hashed)))
        third.set_xticklabels(hashed)
        top = max(max(scheds[s]['sources_per_server'].values()) for s in hashed)
        third.set_ylim(0, top * 1.3 + 1)
        third.legend(handles=[Line2D([], [], color='black', marker='_', linestyle='None',
                                    markersize=14, label='expected by weight, and how far a '
                                    'random draw may stray (4 sigma)')],
                     loc='upper left', fontsize=8)

    fig.suptitle('IPVS schedulers, weights %s (kernel mode %s%s)'
                 % (', '.join('%s=%s' % kv for kv in weights.items()), summary.get('kernel_mode'),
                    '' if summary.get('complete')
                    else ', run incomplete'))
    fig.tight_layout()
    path = results_dir / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [name]
