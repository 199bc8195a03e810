"""The network: the cluster's parameters (config), its Mininet topology and
lifecycle (cluster), the node roles (nodes), Open vSwitch and the hub's
controller (ovs, controller) and kernel IPVS through ipvsadm (ipvs)."""
