"""Port Edge: the edge agent linking a port's gate lanes and forklift PDAs to its platform.

The runtime lives here. It never imports `pda_app`, `simulators` or `firmware_stubs`.
"""

__version__ = "0.1.0"
