"""The gate lane workflow: a pure lane state machine (events, table, lane), barrier safety
(barrier), offline permits (permits), the crash journal (journal), the async runner that does
the lane's actions, operator commands, and the station that composes them. See docs/gate.md."""
