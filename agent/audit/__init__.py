"""The gate's tamper-evident audit log: who opened a barrier, and why.

`chain` seals and checks entries (sans-I/O); `log` appends them to a JSON-lines file on a
writer thread (group commit, fsync before the caller is told); `watch` turns what the lane
records into entries. `portedge audit verify|export` reads a log (agent/cli/audit.py).
"""

from agent.audit.chain import GENESIS, Entry, Verdict, seal, verify_lines
from agent.audit.log import AuditLog

__all__ = ["GENESIS", "Entry", "Verdict", "seal", "verify_lines", "AuditLog"]
