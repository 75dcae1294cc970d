"""The ASGI entry for `uvicorn crossroads.entrypoints.api.asgi:app`: settings from the environment."""

from ...config import Settings
from ..logs import configure
from .app import create_app

settings = Settings()
configure(settings.log_level)
app = create_app(settings)
