"""Distribution helpers that are not part of the public surface (multi-worker session set-up)."""
