"""The domain: plain data and pure rules. Nothing here imports web, database or I/O code."""
