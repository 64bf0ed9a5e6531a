"""A turn's id as a client chooses it: what the turn routes take in their path and their body.

A module of its own, so that a route taking a turn's id does not import the turn's models with it."""

TURN_ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
