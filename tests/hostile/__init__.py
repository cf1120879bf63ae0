"""Hostile-manifest corpus and a watchdog harness proving the CLI never breaks on bad input."""
