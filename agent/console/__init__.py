"""The gate booth console: a web page served by the gate node, on the node's own event loop,
where staff watch the lane live and resolve TROUBLE (docs/console.md).

Off unless the config has a `[console]` section; bound to loopback by default. `http` is the
small h11 server, `sessions` the staff logins (PIN hashes, expiry, CSRF, rate limits),
`view` the lane's picture as JSON, `diagram` the state diagram as SVG (from the table),
`app` the routes and the live stream. Every action goes through `agent.gate.staff.StaffDesk`.
"""
