"""The Ansible side of a deployment onto real machines: site.yml (one play, its roles:
common for every machine, director for both directors, started last) and
templates/node.sh.j2 (each machine's services, started and stopped the way the testbed
does). No HA stack is named here: each declares its boot, stop and patches as data
(topo/ha), which the roles and the node script loop over. experiments/deploy.py writes each machine's
variables (topo/backends/machines/deployment.py) and runs the playbook; the daemons' configs come from
the testbed's own templates (topo/ha/templates, topo/network/templates)."""
