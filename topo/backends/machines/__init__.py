"""Real machines: the cluster on the machines of an inventory, each its own kernel,
reached over SSH from this machine (the control node); nothing of Mininet is imported.
Registered as the node backend 'machines' (an experiment's --target INVENTORY).

  inventory.py     the machines: an Ansible YAML inventory, its roles, each machine's
                   addresses and the commands a fault needs (power, cable), checked
  deployment.py    what each machine gets (packages, configs, their variables) for the
                   playbook in deploy/, computed by the daemons' own classes
  paths.py         where the testbed's files live on a machine (backend and playbook)
  preflight.py     what a run checks before anything starts: what machines cannot do,
                   SSH to every one, the deployed stack against the one asked for
  connection.py    one multiplexed SSH connection per machine, its clock offset
  nodes.py         the node primitives over SSH, with the roles on top
  cluster.py       the network (MachineNetwork): reset, boot, power, partition, the
                   machines' speed agents
  selfheal.py      a fault set in a machine undoes itself by a deadline, so a fault that
                   cuts the control node's session still heals
  uml_machines.py  machines of their own on this host (experiments/machines.py): one UML
                   kernel each, own disk, SSH, a hub-like bridge; their inventory
"""
from topo.backends.machines import cluster  # noqa: F401 (registers the backend)
