"""Speech recognition behind one interface, `Transcriber` (see base.py)."""
