"""Programs the testbed runs inside the nodes (monitor, web server, HTTP
clients, sniffer), and the recorder that reads what they say. Their JSON
lines follow one schema: topo/agents/events.py."""
