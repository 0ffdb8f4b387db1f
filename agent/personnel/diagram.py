"""Render the personnel lane's table as a Mermaid state diagram and the turnstile's default
register map, for docs/personnel.md. Generated, never drawn by hand: tests/personnel fail
when the doc does not hold the current renderings. Regenerate in place with
`python -m agent.personnel.diagram docs/personnel.md`.

Never: read anything but the table and the config defaults.
"""

from __future__ import annotations

from agent.config.devices import TurnstileMap
from agent.doc_blocks import rewrite_blocks
from agent.personnel.events import State
from agent.personnel.table import TABLE

BEGIN, END = "<!-- person-lane-diagram:begin -->", "<!-- person-lane-diagram:end -->"
MAP_BEGIN, MAP_END = "<!-- turnstile-map:begin -->", "<!-- turnstile-map:end -->"
_KINDS = {"unlock": "coil", "buzzer": "coil", "counter": "input register"}


def mermaid() -> str:
    edges: dict[tuple[State, State], list[str]] = {}
    for (state, kind), rule in TABLE.items():
        for target in rule.targets:
            if target is not state:
                labels = edges.setdefault((state, target), [])
                label = rule.label_for(target, kind)
                if label not in labels:
                    labels.append(label)
    order = list(State).index
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> IDLE"]
    for (src, dst), labels in sorted(edges.items(), key=lambda e: (order(e[0][0]), order(e[0][1]))):
        lines.append(f"    {src.value} --> {dst.value} : {' / '.join(labels)}")
    lines.append("```")
    return "\n".join(lines)


def register_map() -> str:
    lines = ["| signal | kind | address (0-based) | meaning |", "|---|---|---|---|"]
    for name, info in TurnstileMap.model_fields.items():
        kind = _KINDS.get(name, "input")
        lines.append(f"| `{name}` | {kind} | {info.default} | {(info.description or '').split(': ', 1)[-1]} |")
    return "\n".join(lines)


def blocks() -> dict[tuple[str, str], str]:
    return {(BEGIN, END): mermaid(), (MAP_BEGIN, MAP_END): register_map()}


def update(path: str) -> None:
    rewrite_blocks(path, ((begin, end, f"{begin}\n{fresh}\n{end}") for (begin, end), fresh in blocks().items()))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        update(sys.argv[1])
    else:
        print(mermaid())
        print()
        print(register_map())
