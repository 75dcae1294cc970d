"""JSON responses rendered with orjson (FastAPI's own ORJSONResponse is deprecated).

A subclass of Starlette's JSONResponse, so that FastAPI documents a route's answer with the
model its `responses` name: for any other class it writes `{"type": "string"}`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSONBody(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
