"""What the cluster is, whatever runs it: its parameters (config), the machines'
roles (roles: director, real server, client), kernel IPVS through ipvsadm (ipvs),
the real servers' nginx (webserver) and the paper's 2003 hardware (hardware). The
node backends (topo/backends/) make machines of it."""
