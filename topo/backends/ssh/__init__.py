"""The SSH backend: the cluster on machines of an inventory (topo/inventory.py), each
reached over one multiplexed SSH connection from this, the control node; nothing of
Mininet is imported.

  cluster.py     the network (SSHNetwork, registered 'ssh'): connect, reset, power, partition
  nodes.py       the machines: the node primitives over SSH, with the roles on top
  connection.py  one ControlMaster per machine, its commands, its clock offset
"""
from topo.backends.ssh import cluster  # noqa: F401 (registers the backend)
