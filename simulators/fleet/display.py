"""What a person watching a fleet run sees: a live panel while it runs, a table at the end.
Rendering only (rich renderables from plain dicts); it must never compute a figure itself.
"""

from __future__ import annotations

from rich.table import Table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def live_table(view: dict) -> Table:
    t = Table(title=f"portedge sim fleet — {view['elapsed_s']:.0f}/{view['duration_s']:.0f} s", show_header=False,
              min_width=60)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("nodes connected", f"{view['connected']} / {view['nodes']}")
    t.add_row("broker", view["broker"])
    t.add_row("msgs/s at platform (5 s)", f"{view['msgs_per_s']:.0f}")
    t.add_row("published / received", f"{view['published']} / {view['received']}")
    n2p, p2n = view["node_to_platform"], view["platform_to_node"]
    t.add_row("node→platform p50 / p99 ms", f"{_ms(n2p['p50'])} / {_ms(n2p['p99'])}")
    t.add_row("platform→node p50 / p99 ms", f"{_ms(p2n['p50'])} / {_ms(p2n['p99'])}")
    t.add_row("commands sent / pending", f"{view['commands_sent']} / {view['commands_pending']}")
    t.add_row("reconnects", str(view["reconnects"]))
    if view.get("storm_s") is not None:
        t.add_row("reconnect storm", f"{view['storm_s']:.2f} s")
    return t


def report_table(report: dict) -> Table:
    t = Table(title="fleet report", show_header=True)
    t.add_column("figure", style="bold")
    t.add_column("value", justify="right")
    nodes = report["nodes"]
    t.add_row("nodes (lanes + PDAs) / processes",
              f"{nodes['total']} ({nodes['lanes']} + {nodes['pdas']}) / {report['processes']}")
    t.add_row("connected at end", str(report["connected_at_end"]))
    m = report["messages"]
    t.add_row("published / received at platform", f"{m['published']} / {m['received_by_platform']}")
    t.add_row("msgs/s (node→platform)", f"{m['per_s']:.1f}")
    for path, figs in report["latency_ms"].items():
        t.add_row(f"{path} p50 / p99 / max ms", f"{_ms(figs['p50'])} / {_ms(figs['p99'])} / {_ms(figs['max'])}")
    c = report["commands"]
    t.add_row("commands sent / answered / unanswered", f"{c['sent']} / {c['answered']} / {c['unanswered']}")
    p = report["per_node"]
    t.add_row("RSS per node (total / marginal) kB", f"{p['rss_kb']:.1f} / {p['rss_marginal_kb']:.1f}")
    t.add_row("CPU per node ms/s", f"{p['cpu_ms_per_s']:.3f}")
    b = report["broker"]
    if b.get("rss_kb") is not None:
        t.add_row("broker RSS kB (per node)", f"{b['rss_kb']} ({b['rss_kb_per_node']:.2f})")
    r = report["reconnect"]
    if r["restart_at_s"] is not None:
        storm = "not all back" if r["storm_s"] is None else f"{r['storm_s']:.2f} s"
        t.add_row("reconnect storm after restart", storm)
    t.add_row("seq gaps at platform", str(report["seq"]["missing"]))
    t.add_row("load average (start → end)", f"{report['load']['start'][0]:.2f} → {report['load']['end'][0]:.2f}")
    return t
