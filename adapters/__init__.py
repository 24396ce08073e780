"""Payment provider adapters: pure protocol code (bytes in, normalised records out)."""
