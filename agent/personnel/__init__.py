"""Restricted-area gates: people through turnstiles (issue 16). See docs/personnel.md."""
