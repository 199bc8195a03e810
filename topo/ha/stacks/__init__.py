"""One module per HA stack, each holding one HAStack subclass marked @register
(see topo/ha/__init__.py); they are found and loaded by name."""
