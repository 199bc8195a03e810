"""The Ansible side of a deployment onto real machines: site.yml (one play, its roles:
common for every machine, director for both directors, heartbeat for the paper's
stack, started last) and templates/node.sh.j2 (each machine's services, started and
stopped the way the testbed does). experiments/deploy.py writes each machine's
variables (topo/deployment.py) and runs the playbook; the daemons' configs come from
the testbed's own templates (topo/ha/templates, topo/network/templates)."""
