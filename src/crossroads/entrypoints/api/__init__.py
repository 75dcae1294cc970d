"""The hub's HTTP API (FastAPI)."""
