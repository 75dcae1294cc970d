"""`crossroads witness`: the witness's HTTP API, run by a party other than the hub's operator.

POST /witness/v1/tree-heads   {"head": <signed tree head>, "proof_from": m,
                               "consistency_path": [...]}
GET  /witness/v1/tree-heads/latest[?at_most=N]
GET  /witness/.well-known/jwks.json   the witness's public keys, to check its cosignatures
POST /witness/v1/restore-declarations {"head": ..., "entry": ..., "inclusion_path": [...]}
GET  /witness/v1/restore-declarations  every restore declaration taken (services/witness_restore.py)
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ..adapters.key_history_source import HttpKeyHistory
from ..adapters.keys import HubKeys
from ..adapters.witness_ledger import FileWitnessLedger
from ..domain.errors import Refusal, framework_refusal
from ..services.hub_key_trust import HubKeyTrust
from ..services.witness import Witness
from ..services.witness_restore import WitnessRestores
from ..verifier import MAX_COUNT, verify_tree_head
from .api.app import BodyLimit
from .api.errors import refusal_from_errors, request_id
from .api.json_input import JSONRoute

log = logging.getLogger("crossroads.witness")
# A submission is a head (~300 bytes) and at most 64 hashes: anything near this is not one.
MAX_BODY_BYTES = 64 * 1024
BODY_SECONDS = 10.0  # such a body arrives at once; one that trickles holds a connection for nothing


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    head: dict = Field(
        description="The hub's signed tree head, as GET /v1/audit/tree-head serves it."
    )
    proof_from: int = Field(
        0,
        ge=0,
        le=MAX_COUNT,
        description=(
            "The tree size the consistency proof starts from: the last this witness countersigned."
        ),
    )
    consistency_path: list[str] = Field(
        default_factory=list,
        max_length=64,
        description=(
            "The hub's consistency proof, hashes in base64 (at most 64: a tree of 2**63 entries"
            " is 63 deep)."
        ),
    )


class RestoreDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    head: dict = Field(
        description="The hub's signed tree head whose last entry is the declaration."
    )
    entry: str = Field(max_length=8192, description="The declaration entry, canonical, in base64.")
    inclusion_path: list[str] = Field(
        default_factory=list, max_length=64, description="Its inclusion proof, hashes in base64."
    )
    proof_from: int = Field(
        0,
        ge=0,
        le=MAX_COUNT,
        description=(
            "The largest size this witness countersigned that the restored log still holds "
            "(GET /witness/v1/tree-heads/latest?at_most=N), 0 when none."
        ),
    )
    consistency_path: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="The consistency proof from proof_from to the head, hashes in base64.",
    )


def create_witness_app(
    data_dir: Path,
    hub_jwks: dict,
    hub_url: str | None = None,
    trusted_head: dict | None = None,
) -> FastAPI:
    """The witness's API. Its errors are in the hub's format (docs/errors.md): JSON `{code,
    message, field?, request_id}` with `X-Road-Error`; it reads JSON as the hub does
    (`read_json`). It trusts `hub_jwks` and, given the `hub_url`, the keys the hub's key history
    endorses from them. A `trusted_head` seeds an empty ledger (Witness.start_from)."""
    keys = HubKeys.load_or_create(data_dir / "keys")  # the witness's own key, not the hub's
    history = HttpKeyHistory(hub_url) if hub_url else None
    trust = HubKeyTrust(hub_jwks, history)
    ledger = FileWitnessLedger(data_dir / "ledger")
    witness = Witness(ledger, trust, keys)
    if trusted_head is not None:
        witness.start_from(trusted_head)
    restores = WitnessRestores(
        ledger, lambda head: verify_tree_head(head, trust.jwks_for(head.get("signature"))), keys
    )
    app = FastAPI(
        title="Crossroads witness",
        openapi_url="/witness/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.router.route_class = JSONRoute
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, seconds=BODY_SECONDS)

    def refused(request: Request, refusal: Refusal, **extra: object) -> JSONResponse:
        rid = request_id(request)
        return JSONResponse(
            {**refusal.to_dict(), **extra, "request_id": rid},
            status_code=refusal.status,
            headers={"X-Road-Error": refusal.code, "X-Request-Id": rid},
        )

    @app.exception_handler(Refusal)
    async def on_refusal(request: Request, exc: Refusal) -> JSONResponse:
        witnessed = witness_latest_size() if exc.code == "stale_tree_head" else None
        return refused(
            request, exc, **({"witnessed_size": witnessed} if witnessed is not None else {})
        )

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        return refused(request, refusal_from_errors(exc.errors()))

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, Refusal):  # raised while the body was read (read_json)
            return refused(request, exc.__cause__)
        return refused(request, framework_refusal(exc.status_code, exc.detail))

    @app.exception_handler(Exception)
    async def on_fault(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error", exc_info=exc, extra={"request_id": request_id(request)})
        return refused(
            request,
            Refusal(
                "internal_error", "an internal error occurred; it is logged under this request id."
            ),
        )

    def witness_latest_size() -> int | None:
        try:
            return int(witness.latest()["tree_size"])
        except Refusal:
            return None

    @app.post("/witness/v1/tree-heads")
    async def submit(submission: Submission) -> dict:
        return witness.submit(submission.head, submission.proof_from, submission.consistency_path)

    @app.get("/witness/v1/tree-heads/latest")
    async def latest(
        at_most: int | None = Query(
            None, ge=0, lt=2**63, description="A tree size: the largest head of at most it."
        ),
    ) -> dict:
        """The latest head countersigned; with `at_most`, the largest of at most that many
        entries in the current history (a restore declaration proves consistency from it)."""
        if at_most is None:
            return witness.latest()
        head = ledger.countersigned_at_most(at_most)
        if head is None:
            raise Refusal("not_found", f"no head of at most {at_most} entries countersigned.")
        return head

    @app.post("/witness/v1/restore-declarations")
    async def declare_restore(declaration: RestoreDeclaration) -> dict:
        return restores.declare(
            declaration.head,
            declaration.entry,
            declaration.inclusion_path,
            declaration.proof_from,
            declaration.consistency_path,
        )

    @app.get("/witness/v1/restore-declarations")
    async def restore_declarations() -> list:
        return restores.declarations()

    @app.get("/witness/.well-known/jwks.json")
    async def jwks() -> dict:
        return keys.jwks()

    return app
