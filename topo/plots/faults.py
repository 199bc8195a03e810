"""Plots of the fault experiments, from their data alone (summary.json,
events.jsonl, probe.csv):

  fault_timeline.png   one fault: who owns the VIP (a band per director: held,
                       held while unplugged or switched off), the probes' answers
                       below, the fault and its clear marked
  fault_matrix.png     every fault x layout: the client's longest outage and the
                       seconds with two VIP owners (split brain)"""
import json
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from topo.analysis.report import mode_label

DIRECTORS = ('laicoz', 'laicoy')
# every fault's decomposition (topo/analysis/timeline.py: decompose), marked on its timeline
STEPS = (('noticed_s', 'noticed', ':'), ('owner_change_s', 'owner change', '--'),
         ('table_complete_s', 'table complete', '-.'),
         ('service_back_s', 'service back', (0, (1, 4))))


def _bands(events, node, t_end):
    """[(t0, t1, held, link_up)] of one director."""
    state, t_prev, out = {'vip': False, 'link': True}, None, []
    for e in events:
        if e.get('node') != node or e.get('kind') not in ('vip', 'link'):
            continue
        if t_prev is not None:
            out.append((t_prev, e['t'], state['vip'], state['link']))
        if e['kind'] == 'vip':
            state['vip'] = e['held']
        else:
            state['link'] = e['up']
        t_prev = e['t']
    if t_prev is not None:
        out.append((t_prev, t_end, state['vip'], state['link']))
    return out


def timeline_plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    cell = (summary.get('fault_timelines') or [{}])[0]     # the fault, decomposed
    fault = (summary.get('faults') or [{}])[0]
    events = [json.loads(line) for line in (out / 'events.jsonl').read_text().splitlines()]
    events.sort(key=lambda e: e['t'])
    probes = pd.read_csv(out / 'probe.csv')
    t0 = fault.get('injected') or (probes['t'].min() if len(probes) else 0)
    t_end = summary.get('t_end') or max(e['t'] for e in events)     # not the teardown
    events = [e for e in events if e['t'] <= t_end]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 6), sharex=True,
                                   gridspec_kw={'height_ratios': [1, 1]})
    for y, node in enumerate(DIRECTORS):
        for a, b, held, up in _bands(events, node, t_end):
            if held:
                ax1.broken_barh([(a - t0, b - a)], (y - 0.35, 0.7),
                                color='tab:green' if up else 'lightgray')
    dual = cell.get('dual_owner') or []
    for a, b in dual:
        ax1.axvspan(a, b, color='red', alpha=0.15)
    ax1.set_yticks(range(len(DIRECTORS)))
    ax1.set_yticklabels(['%s holds VIP' % d for d in DIRECTORS])
    ax1.set_ylim(-0.6, len(DIRECTORS) - 0.4)
    ax1.set_title('%s on %s, %s (%s kernel): green = owns the VIP, gray = holds it with its '
                  'links down, red = two owners' % (cell.get('fault', '?'), cell.get('target', '?'),
                                                    summary.get('layout'),
                                                    mode_label(summary)), fontsize=9)
    for key, label, style in STEPS:
        if cell.get(key):
            ax1.axvline(cell[key], color='black', ls=style, lw=1, label=label)
    if len(probes):
        ok = probes['ok'].astype(str) == 'True'
        ax2.scatter(probes['t'] - t0, ok.astype(int), c=['tab:blue' if v else 'tab:red'
                                                         for v in ok], s=6, marker='|')
    ax2.set_yticks([0, 1])
    ax2.set_yticklabels(['failed', 'answered'])
    ax2.set_ylim(-0.5, 1.5)
    ax2.set_ylabel('client probes')
    ax2.set_xlabel('time since the fault was injected (s)')
    for ax in (ax1, ax2):
        ax.axvline(0, color='darkred', lw=1.5, label='fault' if ax is ax1 else None)
        if fault.get('cleared'):
            ax.axvline(fault['cleared'] - t0, color='darkgreen', lw=1.5,
                       label='cleared' if ax is ax1 else None)
        if fault.get('recovered'):
            ax.axvline(fault['recovered'] - t0, color='gray', ls='--', lw=1,
                       label='back to figure 5' if ax is ax1 else None)
    fig.legend(*ax1.get_legend_handles_labels(), loc='lower center', ncol=7, frameon=False,
               fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(out / 'fault_timeline.png', dpi=110)
    plt.close(fig)


def matrix_plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    cells = pd.DataFrame(summary['faults'])
    trials = 'trial' in cells and cells['trial'].max() > 1
    if trials:          # each cell's median over its passed trials (all of them: trials.png)
        passed = cells[cells['passed'].astype(bool)]
        cells = passed.groupby(['layout', 'fault'], sort=False).median(
            numeric_only=True).reset_index()
    faults = list(dict.fromkeys(cells['fault']))
    layouts = list(dict.fromkeys(cells['layout']))
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.6 * len(faults) + 2.5), sharey=True)
    width = 0.8 / len(layouts)
    for ax, key, title in ((axes[0], 'outage_s', "client's longest outage (s), failed requests"),
                           (axes[1], 'dual_owner_s', 'two VIP owners (s)')):
        for i, layout in enumerate(layouts):
            rows = cells[cells['layout'] == layout].set_index('fault').reindex(faults)
            ys = [f + (i - (len(layouts) - 1) / 2) * width for f in range(len(faults))]
            values = rows[key].fillna(0).astype(float)
            ax.barh(ys, values, height=width, label=layout)
            failed = rows['failed_requests'].fillna(0).astype(int)
            for y, v, n in zip(ys, values, failed):
                ax.text(v, y, ' %.1f' % v + (' (%d failed)' % n if key == 'outage_s' else ''),
                        va='center', fontsize=7)
        ax.set_title(title)
        ax.grid(axis='x', alpha=0.3)
    axes[0].set_yticks(range(len(faults)))
    axes[0].set_yticklabels(faults)
    axes[0].invert_yaxis()
    axes[1].legend(loc='lower right', fontsize=8)
    fig.suptitle('Faults against HA layouts (%s kernel%s)' % (
        mode_label(summary), ', medians of the passed trials' if trials else ''))
    fig.tight_layout()
    fig.savefig(out / 'fault_matrix.png', dpi=110)
    plt.close(fig)


def plot(out):
    """A fault run: each cell's timeline (and a copy of a lone cell's here), the matrix."""
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    if summary.get('experiment') == 'fault':        # one cell's own folder
        timeline_plot(out)
        return ['fault_timeline.png']
    cells = summary.get('faults', [])
    for cell in cells:
        timeline_plot(cell['results'])
    if len(cells) == 1:
        import shutil
        shutil.copy2(Path(cells[0]['results']) / 'fault_timeline.png', out)
        return ['fault_timeline.png']
    matrix_plot(out)
    return ['fault_matrix.png'] + ['%s/fault_timeline.png' % c['results'] for c in cells]
