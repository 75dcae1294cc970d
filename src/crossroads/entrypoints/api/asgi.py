"""The ASGI entry for `uvicorn crossroads.entrypoints.api.asgi:app`: settings from the environment.

Each worker process of `crossroads serve` imports this module, so it also sets the bounds of
that process's HTTP protocol (entrypoints/bounded_http.py) from the same settings, and turns its
tracing on when the settings ask (OpenTelemetry's exporter runs a thread: one per process).
"""

import logging

from ...adapters import tracing
from ...config import Settings, refuse_demo_mode
from ..bounded_http import BoundedHttpToolsProtocol
from ..logs import configure
from .app import create_app

settings = Settings()
refuse_demo_mode(settings)
configure(settings.log_level)
for misspelt in Settings.unknown_variables():
    logging.getLogger("crossroads.config").warning(misspelt)
BoundedHttpToolsProtocol.configure(settings)
if settings.tracing:
    tracing.install()
app = create_app(settings)
