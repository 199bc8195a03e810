"""Plots of a failover run, from its data alone (summary.json, probe.csv):

  failover_latency.png      each probe request over time: which server answered
                            (or that it failed) and its latency, with the faults,
                            recoveries and failover steps marked
  request_distribution.png  answers per real server in each stage
"""
import json
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from topo.analysis.report import mode_label

MARKS = {'laico2_off': ('laico2 off', 'tab:red'), 'laico2_on': ('laico2 on', 'tab:green'),
         'laicoz_off': ('laicoz off', 'darkred'), 'laicoz_on': ('laicoz on', 'darkgreen')}
STEPS = {'detected_s': ('peer declared dead', ':'), 'fenced_s': ('peer fenced', (0, (1, 3))),
         'vip_taken_s': ('VIP taken', '--'),
         'table_ready_s': ('table complete', '-.')}


def plot(out):
    out = Path(out)
    summary = json.loads((out / 'summary.json').read_text())
    probes = pd.read_csv(out / 'probe.csv')
    title = '%s stack, %s kernel' % (summary.get('stack', '?'), mode_label(summary))
    latency_plot(probes, summary, title, out / 'failover_latency.png')
    distribution_plot(summary, title, out / 'request_distribution.png')
    return ['failover_latency.png', 'request_distribution.png']


def latency_plot(probes, summary, title, path):
    marks = summary.get('marks', {})
    t0 = probes['t'].min() if len(probes) else 0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 7), sharex=True,
                                   gridspec_kw={'height_ratios': [2, 1]})
    servers = sorted(s for s in probes.loc[probes['ok'], 'server'].dropna().unique())
    rows = servers + ['failed']
    y = probes.apply(lambda p: rows.index(p['server']) if p['ok'] else len(servers), axis=1) \
        if len(probes) else []
    colors = ['tab:blue' if ok else 'tab:red' for ok in probes['ok']]
    ax1.scatter(probes['t'] - t0, y, c=colors, s=6, marker='|')
    ax1.set_yticks(range(len(rows)))
    ax1.set_yticklabels(rows)
    ax1.set_ylabel('answered by')
    ax1.set_title('Probe requests through the VIP (%s)' % title)
    ax2.scatter(probes['t'] - t0, probes['latency_s'] * 1000, c=colors, s=4)
    ax2.set_yscale('log')
    ax2.set_ylabel('latency (ms)')
    ax2.set_xlabel('time since the prober started (s)')
    for key, (label, color) in MARKS.items():
        if key in marks:
            for ax in (ax1, ax2):
                ax.axvline(marks[key] - t0, color=color, lw=1.5,
                           label=label if ax is ax1 else None)
    # the other stages (a maintenance's drains and upgrades, a resize), named at the top
    drawn = {label for label, _ in MARKS.values()} | {'steady'}
    for key, t in marks.items():
        name = key[len('stage:'):]
        if key.startswith('stage:') and name not in drawn:
            for ax in (ax1, ax2):
                ax.axvline(t - t0, color='gray', ls=':', lw=1)
            ax1.text(t - t0, 1.0, ' ' + name, rotation=90, va='top', ha='left', fontsize=7,
                     color='dimgray', transform=ax1.get_xaxis_transform())
    fo = summary.get('failover') or {}
    if 'laicoz_off' in marks:
        for key, (label, style) in STEPS.items():
            if fo.get(key) is not None:
                ax1.axvline(marks['laicoz_off'] + fo[key] - t0, color='gray', ls=style, lw=1,
                            label=label)
        if fo.get('outage_s') is not None:
            ax1.axvspan(marks['laicoz_off'] - t0, marks['laicoz_off'] + fo['outage_s'] - t0,
                        color='red', alpha=0.08, label='outage %.1f s' % fo['outage_s'])
    # below the axes: inside, it would hide the 'failed' row
    fig.legend(*ax1.get_legend_handles_labels(), loc='lower center', fontsize=8, ncol=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def distribution_plot(summary, title, path):
    stages = summary.get('answers_per_stage', {})
    servers = summary.get('parameters', {}).get('real_servers', [])
    names = list(stages)
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / (len(servers) + 1)
    for i, server in enumerate(servers + ['failed']):
        counts = [stages[s].get(server, 0) for s in names]
        bars = ax.bar([x + i * width for x in range(len(names))], counts, width,
                      label=server, color='tab:red' if server == 'failed' else None)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks([x + width * len(servers) / 2 for x in range(len(names))])
    ax.set_xticklabels(names)
    ax.set_ylabel('requests')
    ax.set_xlabel('stage')
    ax.set_title('Requests answered per real server, per stage (%s)' % title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
