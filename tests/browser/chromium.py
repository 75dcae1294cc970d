"""How the browser tests start Debian's Chromium, and the size of the demo country they visit."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("CROSSROADS_TEST_CHROMIUM", "/usr/bin/chromium")
# As the machine's notes advise: no background traffic from a browser on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PERSONS = 60  # persons in the demo country the tests start
