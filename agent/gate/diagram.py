"""Render the lane's transition table as a Mermaid state diagram, and the default I/O
register map as a table, for docs/gate.md.

Both are generated, never drawn by hand: tests/gate/test_diagram.py fails when docs/gate.md
does not contain the current renderings. Regenerate in place with
`python -m agent.gate.diagram docs/gate.md` (replaces the text between the markers), or
without an argument to print both blocks.

Never: read anything but the table and the config defaults.
"""

from __future__ import annotations

from agent.config.devices import GateIoMap
from agent.doc_blocks import rewrite_blocks
from agent.gate.events import State
from agent.gate.table import TABLE

BEGIN = "<!-- lane-diagram:begin -->"
END = "<!-- lane-diagram:end -->"
MAP_BEGIN = "<!-- io-map:begin -->"
MAP_END = "<!-- io-map:end -->"

_SIGNALS = {
    "approach_loop": ("input", "approach loop (truck at the lane): starts a transaction"),
    "safety_loop": ("input", "safety loop under the barrier: blocks closing (a loop fault reads as occupied)"),
    "exit_loop": ("input", "exit loop past the barrier: passage; closing waits for it to clear + hold-off"),
    "open_limit": ("input", "barrier fully up: the only condition for green"),
    "closed_limit": ("input", "barrier fully down"),
    "photocell": ("input", "photocell across the lane: broken beam blocks closing"),
    "estop": ("input", "emergency stop circuit: active = safe state, no motion"),
    "barrier_open": ("coil", "drive the barrier up"),
    "barrier_close": ("coil", "drive the barrier down (only when the guard allows)"),
    "light_red": ("coil", "red lamp (default on)"),
    "light_green": ("coil", "green lamp (only with the open limit made)"),
}


def edges() -> dict[tuple[State, State], list[str]]:
    out: dict[tuple[State, State], list[str]] = {}
    for (state, kind), rule in TABLE.items():
        if state is None:  # the table's ANY row: no arrow of its own
            continue
        for target in rule.targets:
            if target is state:
                continue
            label = rule.label_for(target, kind)
            labels = out.setdefault((state, target), [])
            if label not in labels:
                labels.append(label)
    return out


def mermaid() -> str:
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> IDLE"]
    for (src, dst), labels in sorted(edges().items(), key=lambda item: (_order(item[0][0]), _order(item[0][1]))):
        lines.append(f"    {src.value} --> {dst.value} : {' / '.join(labels)}")
    lines.append("```")
    return "\n".join(lines)


def block() -> str:
    return f"{BEGIN}\n{mermaid()}\n{END}"


def register_map() -> str:
    defaults = GateIoMap()
    lines = ["| signal | kind | address (0-based) | meaning |", "|---|---|---|---|"]
    for name, (kind, meaning) in _SIGNALS.items():
        lines.append(f"| `{name}` | {kind} | {getattr(defaults, name)} | {meaning} |")
    lines.append(f"\nphotocell_active_low = {str(defaults.photocell_active_low).lower()} (input ON = beam intact); "
                 f"estop_active_low = {str(defaults.estop_active_low).lower()} (input ON = circuit healthy).")
    return f"{MAP_BEGIN}\n" + "\n".join(lines) + f"\n{MAP_END}"


def _order(state: State) -> int:
    return list(State).index(state)


def update(path: str) -> None:
    """Rewrite the generated blocks of a Markdown file in place (between their markers)."""
    rewrite_blocks(path, ((BEGIN, END, block()), (MAP_BEGIN, MAP_END, register_map())))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        update(sys.argv[1])
    else:
        print(block())
        print()
        print(register_map())
