"""The Mininet backend: the cluster's machines as Mininet hosts (own network and
mount namespaces) on one Open vSwitch bridge driven by the os-ken hub app
(controllers/hub.py); hardware caps with TCLink and cgroup v2.

  cluster.py     the network and its lifecycle (MininetNetwork, registered 'mininet')
  nodes.py       the hosts: the node primitives, with the roles on top
  ovs.py         private OVS daemons where no system OVS runs (UML, no init system)
  controller.py  the hub app as a Mininet controller, and its cut/heal socket
  cgroups.py     a hardware profile's CPU and memory caps (cgroup v2)
"""
from topo.backends.mininet import cluster  # noqa: F401 (registers the backend)
