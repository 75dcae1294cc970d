"""The container's health check: the hub answers 200 on /ready (its store reachable), else the
check fails. Standard library only (the slim base image has no curl); exit 0 healthy, 1 not."""

import os
import sys
import urllib.error
import urllib.request

port = os.environ.get("CROSSROADS_PORT", "8000")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=4) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except (urllib.error.URLError, OSError) as failure:
    print(f"not ready: {failure}", file=sys.stderr)
    sys.exit(1)
