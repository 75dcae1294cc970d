"""Use cases, written against the ports in `ports/`."""
