"""`crossroads witness`: the witness's HTTP API, run by a party other than the hub's operator.

    POST /witness/v1/tree-heads   {"head": <signed tree head>, "proof_from": m, "consistency_path": [...]}
    GET  /witness/v1/tree-heads/latest
    GET  /witness/.well-known/jwks.json   the witness's public keys, to check its cosignatures
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..adapters.keys import HubKeys
from ..adapters.witness_ledger import FileWitnessLedger
from ..domain.errors import Refusal
from ..services.witness import Witness


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    head: dict = Field(description="The hub's signed tree head, as GET /v1/audit/tree-head serves it.")
    proof_from: int = Field(0, ge=0, description="The tree size the consistency proof starts from: the last this witness countersigned.")
    consistency_path: list[str] = Field(default_factory=list, description="The hub's consistency proof, hashes in base64.")


def create_witness_app(data_dir: Path, hub_jwks: dict) -> FastAPI:
    keys = HubKeys.load_or_create(data_dir / "keys")
    witness = Witness(FileWitnessLedger(data_dir / "ledger"), hub_jwks, keys)
    app = FastAPI(title="Crossroads witness", openapi_url="/witness/openapi.json", docs_url=None, redoc_url=None)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        body: dict = exc.to_dict()
        witnessed = witness_latest_size() if exc.code == "stale_tree_head" else None
        if witnessed is not None:
            body["witnessed_size"] = witnessed
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"code": "malformed_request", "message": "the body is not a tree head submission."}, status_code=400)

    def witness_latest_size() -> int | None:
        try:
            return int(witness.latest()["tree_size"])
        except Refusal:
            return None

    @app.post("/witness/v1/tree-heads")
    async def submit(submission: Submission) -> dict:
        return witness.submit(submission.head, submission.proof_from, submission.consistency_path)

    @app.get("/witness/v1/tree-heads/latest")
    async def latest() -> dict:
        return witness.latest()

    @app.get("/witness/.well-known/jwks.json")
    async def jwks() -> dict:
        return keys.jwks()

    return app
