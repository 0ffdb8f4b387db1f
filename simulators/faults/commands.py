"""A misbehaving platform: commands a node must refuse, each on a documented channel.

`bad_commands` sends one node the cases an integrator meets (docs/platform-integration.md,
"Sending a command"): broken JSON, a body that does not fit, a command the node does not
have, one that expired, one for another node, a reply_to outside the node's subtree, and a
command the node's handler refuses - sent twice with the same id, so its stored answer goes
out again (the same bytes). None of them may change anything at the node: the harmless
command is one its handler refuses (a lane that is not this one, a task this PDA never had).

Every answer comes back on the node's `res/` subtree; the capture test validates them all.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from agent.contract.envelope import new_id, utc_now
from agent.contract.topics import Kind, Topic

#: (command name, a body that the node's handler refuses without acting) per node role
HARMLESS = {
    "gate": ("lane_mode", {"lane": "no-such-lane", "mode": "auto"}),
    "pda": ("task_cancel", {"task_id": "T-NO-SUCH-TASK", "reason": "cancelled", "note": "fault injection"}),
}
#: more commands of the role, each refused by its handler (another lane's), so every answer
#: channel of the role carries a refusal
ALSO = {
    "gate": [("barrier_open", {"lane": "no-such-lane", "reason": "fault injection", "operator": "nobody"}),
             ("reread", {"lane": "no-such-lane"})],
    "pda": [],
}


def command_bytes(site: str, node: str, name: str, body: dict, *, cid: str | None = None, to_node: str | None = None,
                  expires_in_s: float = 30.0, reply_to: str | None = None) -> bytes:
    """A command's payload as a platform would write it (and as a misbehaving one might)."""
    now = utc_now()
    return json.dumps({
        "id": cid or new_id(), "node": to_node or node, "ts": now.isoformat(), "type": name, "v": 1, "body": body,
        "reply_to": reply_to or str(Topic(site, node, Kind.RES, name)), "correlation_id": new_id(),
        "expires_at": (now + timedelta(seconds=expires_in_s)).isoformat(),
    }).encode()


async def bad_commands(publish, site: str, node: str, role: str, *, pause_s: float = 0.1,
                       duplicate_after_s: float = 1.5) -> list[str]:
    """Send the cases through `publish(node, command_name, payload)`; returns what was sent."""
    name, body = HARMLESS[role]
    sent: list[tuple[str, str, bytes]] = [
        ("broken JSON", name, b"{not json"),
        ("wrong body", name, command_bytes(site, node, name, {"surprise": 1})),
        ("unknown command", "self_destruct", command_bytes(site, node, "self_destruct", {})),
        ("expired", name, command_bytes(site, node, name, body, expires_in_s=-5)),
        ("another node's", name, command_bytes(site, node, name, body, to_node="someone-else")),
        ("reply_to outside the node", name,
         command_bytes(site, node, name, body, reply_to=str(Topic(site, "someone-else", Kind.RES, name)))),
    ]
    sent += [("refused by the handler", other, command_bytes(site, node, other, other_body))
             for other, other_body in ALSO[role]]
    twice = command_bytes(site, node, name, body, cid=new_id())
    sent.append(("refused by the handler", name, twice))
    for _what, command, payload in sent:
        publish(node, command, payload)
        await asyncio.sleep(pause_s)
    await asyncio.sleep(duplicate_after_s)  # the first answer is acknowledged and gone from the outbox
    publish(node, name, twice)
    return [what for what, _, _ in sent] + ["the same command again"]
