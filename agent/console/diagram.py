"""The lane's state diagram as SVG, drawn from the transition table (agent.gate.diagram.edges),
so the console shows the same machine docs/gate.md does. Each state is a `<g id="st-NAME">`;
the page marks the current one with a class.

Layout: the states in table order along a line, TROUBLE below the middle; forward edges arc
above the line, backward ones below. Never drawn by hand: a new state or rule shows up here.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from agent.gate.diagram import edges
from agent.gate.events import State

W, H, BOX_W, BOX_H = 1340, 250, 118, 34


def _positions() -> dict[State, tuple[float, float]]:
    line = [s for s in State if s is not State.TROUBLE]
    step = (W - BOX_W - 20) / (len(line) - 1)
    pos = {s: (10 + BOX_W / 2 + i * step, 95.0) for i, s in enumerate(line)}
    pos[State.TROUBLE] = (W / 2, 215.0)
    return pos


@lru_cache(maxsize=1)
def svg() -> str:
    pos = _positions()
    order = {s: i for i, s in enumerate(State)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="lane-diagram" role="img" '
             f'aria-label="lane state diagram">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>']
    for (src, dst), labels in sorted(edges().items(), key=lambda e: (order[e[0][0]], order[e[0][1]])):
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        if State.TROUBLE in (src, dst):
            if src is State.TROUBLE:  # spread the ends along TROUBLE's box
                x1 += (x2 - x1) * BOX_W / W
            else:
                x2 += (x1 - x2) * BOX_W / W
            y1 += BOX_H / 2 if src is not State.TROUBLE else -BOX_H / 2
            y2 += BOX_H / 2 if dst is not State.TROUBLE else -BOX_H / 2
            bend = (x1 + x2) / 2 + (25 if order[src] < order[dst] else -25), (y1 + y2) / 2
        else:
            forward = order[src] < order[dst]
            y1 = y2 = y1 - BOX_H / 2 if forward else y1 + BOX_H / 2
            lift = 18 + 9 * abs(order[dst] - order[src])
            bend = (x1 + x2) / 2, y1 - lift if forward else y1 + lift
        title = escape(f"{src.value} → {dst.value}: {' / '.join(labels)}")
        parts.append(f'<path class="edge" d="M{x1:.0f},{y1:.0f} Q{bend[0]:.0f},{bend[1]:.0f} {x2:.0f},{y2:.0f}" '
                     f'marker-end="url(#arrow)"><title>{title}</title></path>')
    for state, (x, y) in pos.items():
        parts.append(f'<g id="st-{state.value}" class="state"><rect x="{x - BOX_W / 2:.0f}" y="{y - BOX_H / 2:.0f}" '
                     f'width="{BOX_W}" height="{BOX_H}" rx="8"/><text x="{x:.0f}" y="{y + 5:.0f}">{state.value}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
