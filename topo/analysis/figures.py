"""The paper's ipvsadm figures 5-14: what each must show, and the check.

Checks compare the parsed `ipvsadm -L -n` table, order-free: the virtual
service, scheduler, the set of real servers, forwarding and weights, and the
connection counts where the paper's state fixes them (figure 5: all 0;
figure 6: InActConn 5 each after 15 requests). Where the VIP sits is checked
too, from the director monitors.
"""
from topo.network.config import BACKUP, FORWARDING, PRIMARY

# number -> (director, what the paper shows there)
FIGURES = {
    5: (PRIMARY, 'cluster up, before any request'),
    6: (PRIMARY, 'after 15 HTTP requests from the client'),
    8: (PRIMARY, 'laico2 switched off'),
    9: (PRIMARY, 'laico2 switched on again'),
    10: (BACKUP, 'backup while the primary is healthy'),
    12: (BACKUP, 'laicoz switched off: the backup took over'),
    13: (PRIMARY, 'laicoz switched on again'),
    14: (BACKUP, 'laicoz switched on again'),
}


def expectation(fig, config, backup_warm=False, nice_failback=False, requests=15):
    """What figure `fig` must show: servers ([] = no virtual service), counts, VIP.
    requests: how many the client sent before figure 6 (the paper: 15)."""
    everyone = list(config.real_servers)
    full = {'servers': everyone, 'counts': None, 'vip': True}
    standby = ({'servers': everyone, 'counts': None, 'vip': False} if backup_warm
               else {'servers': [], 'counts': None, 'vip': False})
    if fig == 5:
        return dict(full, counts='zero')
    if fig == 6:
        requests = 15 if requests is None else requests
        return dict(full, counts={'inactive': requests // len(everyone)}
                    if requests % len(everyone) == 0 else None)
    if fig == 8:
        return dict(full, servers=[s for s in everyone if s != 'laico2'])
    if fig in (9, 12):
        return full
    if fig == 10:
        return standby
    if fig == 13:
        return standby if nice_failback else full
    if fig == 14:
        return full if nice_failback else standby
    raise KeyError(fig)


def describe(expect, config):
    """One line for the console table."""
    if not expect['servers']:
        text = 'no virtual service'
    else:
        text = '%s %s' % (config.scheduler, ','.join(expect['servers']))
        if expect['counts'] == 'zero':
            text += ' 0/0'
        elif isinstance(expect['counts'], dict):
            text += ' InAct %d each' % expect['counts']['inactive']
    if expect['vip'] is not None:
        text += ', VIP ' + ('held' if expect['vip'] else 'not held')
    return text


def observe(table, vip_held, config):
    """The parsed table in the figure's terms: servers by name, counts, weights."""
    names = {view.real_endpoint(s): s for view in config.families() for s in config.real_servers}
    services = []
    for svc in table:
        services.append({
            'service': svc['address'], 'scheduler': svc['scheduler'],
            'servers': sorted(names.get(r['address'], r['address']) for r in svc['real_servers']),
            'real_servers': {names.get(r['address'], r['address']):
                             {k: r[k] for k in ('forward', 'weight', 'active', 'inactive')}
                             for r in svc['real_servers']}})
    return {'services': services, 'vip_held': vip_held}


def _check_service(obs, expect, config, tunnels, counted):
    """The problems of one virtual service of the figure's table (counted: its
    counters are the figure's)."""
    problems = []
    if obs['scheduler'] != config.scheduler:
        problems.append('scheduler %s, expected %s' % (obs['scheduler'], config.scheduler))
    if sorted(obs['servers']) != sorted(expect['servers']):
        problems.append('real servers %s, expected %s'
                        % (','.join(obs['servers']) or 'none', ','.join(expect['servers'])))
    for name, r in obs['real_servers'].items():
        shown = FORWARDING[config.forwarding].shown
        if r['forward'] != shown:
            problems.append('%s forwarded by %s, expected %s' % (name, r['forward'], shown))
        # (the rules name a real server by its address in the service's family)
        address = (config.addresses6 if config.ipv6 else config.addresses).get(name, name)
        if tunnels is not None and tunnels.get(address) != config.tun_type:
            problems.append('%s tunnelled by %s, expected %s' % (
                name, tunnels.get(address), config.tun_type))
        if name in config.real_servers and r['weight'] != config.weight_of(name):
            problems.append('%s weight %d, expected %d'
                            % (name, r['weight'], config.weight_of(name)))
        if not counted:
            continue
        if expect['counts'] == 'zero' and (r['active'] or r['inactive']):
            problems.append('%s ActiveConn/InActConn %d/%d, expected 0/0'
                            % (name, r['active'], r['inactive']))
        elif isinstance(expect['counts'], dict) and \
                (r['inactive'] != expect['counts']['inactive'] or r['active']):
            problems.append('%s ActiveConn/InActConn %d/%d, expected 0/%d'
                            % (name, r['active'], r['inactive'], expect['counts']['inactive']))
    return problems


def check(expect, table, vip_held, config, tunnels=None):
    """(passed, problems): table is `ipvs.parse()` of `ipvsadm -L -n`; tunnels, when
    given, each real server's tunnel type (`ipvs.tunnel_types()` of `ipvsadm -S -n`:
    `-L` shows every type as `Tunnel`)."""
    problems = []
    # dual stack: a virtual service per VIP, each with the same servers; the figure's
    # requests went to the first (--vip), so only its counts are the paper's
    views = {view.service: view for view in config.families()}
    if not expect['servers']:
        if table:
            problems.append('expected no virtual service, found %s'
                            % ', '.join(s['address'] for s in table))
    elif sorted(s['address'] for s in table) != sorted(views):
        problems.append('expected %s %s, found %s' % (
            'one virtual service' if len(views) == 1 else 'the virtual services',
            ', '.join(views), ', '.join(s['address'] for s in table) or 'none'))
    else:
        for svc, obs in zip(table, observe(table, vip_held, config)['services']):
            view = views[svc['address']]
            problems += _check_service(obs, expect, view, tunnels, counted=view is config)
    if expect['vip'] is not None and vip_held is not None and vip_held != expect['vip']:
        problems.append('VIP %s, expected %s' % ('held' if vip_held else 'not held',
                                                 'held' if expect['vip'] else 'not held'))
    return not problems, problems
