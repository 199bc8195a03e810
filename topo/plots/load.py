"""Plots of a load run, from its data (summary.json, load.csv, load_failover.csv):
load_latency.png and load_throughput.png (ramp: VIP and direct per concurrency),
load_scaling.png (--scale), load_failover.png (--failover), load_conn_sync.png."""
import json
from pathlib import Path
from topo.analysis.report import mode_label


def plot(results):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    out = Path(results)
    s = json.loads((out / 'summary.json').read_text())
    par = s['parameters']
    title = '%s kernel%s%s' % (mode_label(s), ', hardware %s' % par['hardware']['name']
                               if par.get('hardware') else '',
                               ', page %s' % par['page'] if par.get('page') else '')
    written = []
    if s.get('levels'):
        written += ramp_plots(plt, s['levels'], title, out)
    if s.get('scale'):
        written.append(scaling_plot(plt, s, title, out))
    if s.get('failover_under_load'):
        written.append(failover_plot(plt, s, title, out))
    if s.get('conn_sync'):
        written.append(conn_sync_plot(plt, s, title, out))
    return written


PATTERN_NAMES = {'keepalive': 'keep-alive (h2load)', 'close': 'a connection per request'}


def _by_target(levels, pattern):
    out = {}
    for lv in levels:
        if lv.get('pattern', 'keepalive') == pattern:
            out.setdefault(lv['target'], []).append(lv)
    return {k: sorted(v, key=lambda lv: lv['concurrency']) for k, v in out.items()}


def ramp_plots(plt, levels, title, out):
    patterns = [p for p in PATTERN_NAMES if any(lv.get('pattern', 'keepalive') == p
                                                for lv in levels)]
    fig, axes = plt.subplots(1, len(patterns), figsize=(7 * len(patterns), 4.5), squeeze=False)
    for ax, pattern in zip(axes[0], patterns):
        by = _by_target(levels, pattern)
        for target, style in (('vip', '-'), ('direct', '--')):
            rows = by.get(target, [])
            for key, color in (('p50_s', 'tab:blue'), ('p90_s', 'tab:orange'),
                               ('p99_s', 'tab:red'), ('connect_p99_s', 'tab:gray')):
                pts = [(lv['concurrency'], lv[key]) for lv in rows if lv.get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts), style, marker='o', color=color,
                            label='%s %s' % (key[:-2].replace('_', ' '), 'via VIP'
                                             if target == 'vip' else 'direct to one server'))
        ax.set_yscale('log')
        _frame(ax, 'request latency (s)', '%s (%s)' % (PATTERN_NAMES[pattern], title))
    _save(plt, fig, out / 'load_latency.png')

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pattern, color in zip(patterns, ('tab:blue', 'tab:green')):
        by = _by_target(levels, pattern)
        for target, style in (('vip', '-'), ('direct', '--')):
            rows = by.get(target, [])
            if not rows:
                continue
            ax.plot([lv['concurrency'] for lv in rows], [lv['rps'] for lv in rows], style,
                    marker='o', color=color, label='%s, %s' % (
                        PATTERN_NAMES[pattern], 'via VIP (IPVS DR, %d real servers)'
                        % rows[0]['servers'] if target == 'vip' else 'direct to one server'))
            for lv in rows:
                if lv['failed']:
                    ax.annotate('%d failed' % lv['failed'], (lv['concurrency'], lv['rps']),
                                fontsize=7, color='tab:red')
    ax.set_ylim(bottom=0)
    _frame(ax, 'answered requests/s (per request: new connections/s)',
           'Throughput (%s)' % title)
    _save(plt, fig, out / 'load_throughput.png')
    return ['load_latency.png', 'load_throughput.png']


def _frame(ax, ylabel, title):
    """A ramp plot's common frame: clients on a log axis, grid, legend."""
    ax.set_xscale('log')
    ax.set_xlabel('simultaneous clients')
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7)


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scaling_plot(plt, s, title, out):
    rows = sorted(s['scale'], key=lambda r: r['servers'])
    n = [r['servers'] for r in rows]
    rps = [r['rps'] for r in rows]
    one = next(r['rps'] for r in rows if r['servers'] == 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(n, rps, marker='o', label='measured through the VIP')
    ax.plot(n, [k * one for k in n], ':', color='grey', label='perfect scale-out (N x one server)')
    for r in rows:
        ax.annotate('%.2f' % s['scaling_efficiency'][str(r['servers'])], (r['servers'], r['rps']),
                    textcoords='offset points', xytext=(4, -12), fontsize=8)
    ax.set_xlabel('real servers')
    ax.set_ylabel('answered requests per second')
    ax.set_ylim(bottom=0)
    ax.set_title('Scale-out, efficiency annotated (%s)' % title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / 'load_scaling.png', dpi=120)
    plt.close(fig)
    return 'load_scaling.png'


def failover_plot(plt, s, title, out):
    import csv
    cells = s['failover_under_load']
    rows = list(csv.DictReader(open(out / 'load_failover.csv')))
    fig, axes = plt.subplots(len(cells), 1, figsize=(8, 2.8 * len(cells)), sharex=True,
                             squeeze=False)
    for ax, cell in zip(axes[:, 0], cells):
        t0 = cell['power_off'] or 0
        mine = [r for r in rows if r['layout'] == cell['layout']]
        t = [float(r['t']) - t0 for r in mine]
        ax.plot(t, [int(r['ok']) for r in mine], color='tab:blue', label='answered / s')
        ax.plot(t, [int(r['failed']) for r in mine], color='tab:red',
                label='failed attempts / s (each client retries at once)')
        ax2 = ax.twinx()
        ax2.plot(t, [float(r['p99_s']) if r['p99_s'] else float('nan') for r in mine], ':',
                 color='tab:grey', label='p99 latency')
        ax2.set_ylabel('p99 (s)', fontsize=8)
        for at, label in ((cell['power_off'], 'laicoz off'), (cell['power_on'], 'laicoz on')):
            if at:
                ax.axvline(at - t0, color='black', lw=0.8)
                ax.annotate(' ' + label, (at - t0, ax.get_ylim()[1] * 0.95), fontsize=8,
                            va='top')
        ax.set_title('%s: %d clients; %d failed attempts at the power-off, %d at the power-on'
                     % (cell['layout'], cell['clients'], cell['failed_at_power_off'],
                        cell['failed_at_power_on']), fontsize=9)
        ax.set_ylabel('requests / s')
        ax.legend(loc='upper right', fontsize=7)
    axes[-1, 0].set_xlabel('seconds since laicoz was switched off')
    fig.suptitle('Failover under load (%s)' % title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out / 'load_failover.png', dpi=120)
    plt.close(fig)
    return 'load_failover.png'


def conn_sync_plot(plt, s, title, out):
    """Per way, the sessions that carried on across the fault, stacked by the real server
    each was on (a run that recorded it), else one bar coloured by way."""
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * sum(map(len, s['conn_sync'].values()))), 4.4))
    cells = [(layout, way, c) for layout, r in s['conn_sync'].items() for way, c in r.items()]
    labels = ['%s\n%s' % (layout.replace('-', '\n', 1), way) for layout, way, _ in cells]
    totals = [c['total'] for _, _, c in cells]
    xs = range(len(cells))
    servers = sorted({srv for _, _, c in cells for srv in c.get('by_server') or {}
                      if srv is not None})
    if servers:
        bottom = [0] * len(cells)
        palette = plt.get_cmap('tab10').colors
        for i, srv in enumerate(servers):
            got = [((c.get('by_server') or {}).get(srv) or {}).get('carried', 0)
                   for _, _, c in cells]
            ax.bar(xs, got, bottom=bottom, color=palette[i % 10], label='on %s' % srv)
            bottom = [b + g for b, g in zip(bottom, got)]
        ax.legend(fontsize=8, loc='upper left', ncol=len(servers))
    else:
        colors = {'none': 'tab:red', 'sloppy': 'tab:orange', 'sync': 'tab:green',
                  'sh': 'tab:cyan', 'mh': 'tab:blue', 'mh+sync': 'tab:purple'}
        ax.bar(xs, [c['survived'] for _, _, c in cells],
               color=[colors.get(way, 'tab:grey') for _, way, _ in cells])
    for x, (_, _, c) in zip(xs, cells):
        ax.annotate('%d / %d' % (c['survived'], c['total']), (x, c['survived']), ha='center',
                    va='bottom', fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel('established sessions that carried on')
    ax.set_ylim(0, max(totals + [1]) * 1.25)
    params = s.get('parameters', {})
    change = params.get('change')
    ax.set_title('Sessions across laicoz\'s %s%s: none, sloppy TCP alone, the sync daemon '
                 '(sync), hashing + sloppy TCP (sh, mh)\n(%s)'
                 % (params.get('fault') or 'power-off',
                    ', after %s of %s' % (change, params.get('change_server')) if change else '',
                    title), fontsize=9)
    fig.tight_layout()
    fig.savefig(out / 'load_conn_sync.png', dpi=120)
    plt.close(fig)
    return 'load_conn_sync.png'
