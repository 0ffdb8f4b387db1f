"""Fleet load: many simulated nodes (lanes and PDAs) on one machine against a real broker.

    from simulators.fleet import FleetConfig, run_fleet
    report = run_fleet(FleetConfig(lanes=500, pdas=500, duration_s=60, restart_at_s=30))

Each worker process drives its share of nodes from one epoll loop (loop.py); a platform probe
times node -> platform and platform -> node (probe.py); the coordinator restarts the broker if
asked and writes the report (runner.py). `portedge sim fleet` is the command line for it.
"""

from simulators.fleet.runner import FleetConfig, run_fleet

__all__ = ["FleetConfig", "run_fleet"]
