"""The audit log's tree heads and proofs over HTTP (RFC 9162 shapes, hashes in base64)."""

from __future__ import annotations

import base64

import orjson
from fastapi import Depends, Path, Query

from ...domain.callers import Caller
from ...domain.operators import Permission
from .answer_models import AuditEntry, ConsistencyProof, InclusionProof, TreeHead
from .dependencies import AuditProofsDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .schemas import MAX_INTEGER
from .security import application_or_operator, operator_for

router = HubRouter(route_class=JSONRoute, prefix="/v1/audit", tags=["audit"])
ERRORS = openapi_errors(
    "unauthenticated", "member_busy", "forbidden", "not_found", "malformed_request"
)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@router.get(
    "/tree-head",
    responses=answers(TreeHead, ERRORS),
    summary="The latest signed tree head of the audit log",
)
async def tree_head(
    proofs: AuditProofsDep, caller: Caller = Depends(application_or_operator())
) -> dict:
    head = await proofs.latest_head()
    return {**head.as_dict(), "cosignatures": await proofs.cosignatures(head.tree_size)}


@router.get(
    "/proofs/inclusion",
    responses=answers(InclusionProof, ERRORS),
    summary="Inclusion proof of an entry in a tree of a given size",
)
async def inclusion(
    proofs: AuditProofsDep,
    leaf_index: int = Query(..., ge=0, le=MAX_INTEGER),
    tree_size: int = Query(..., ge=1, le=MAX_INTEGER),
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    leaf, path = await proofs.inclusion(leaf_index, tree_size)
    return {
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "leaf_hash": _b64(leaf),
        "inclusion_path": [_b64(h) for h in path],
    }


@router.get(
    "/proofs/consistency",
    responses=answers(ConsistencyProof, ERRORS),
    summary="Consistency proof between two tree sizes",
)
async def consistency(
    proofs: AuditProofsDep,
    first: int = Query(..., ge=0, le=MAX_INTEGER),
    second: int = Query(..., ge=1, le=MAX_INTEGER),
    caller: Caller = Depends(application_or_operator()),
) -> dict:
    proof = await proofs.consistency(first, second)
    return {"first": first, "second": second, "consistency_path": [_b64(h) for h in proof]}


@router.get(
    "/entries/{leaf_index}",
    responses=answers(AuditEntry, ERRORS),
    dependencies=[Depends(operator_for(Permission.AUDIT))],
    summary="Operator: one audit entry, as hashed into the tree and decoded",
)
async def entry(proofs: AuditProofsDep, leaf_index: int = Path(ge=0, le=MAX_INTEGER)) -> dict:
    raw = await proofs.entry(leaf_index)
    return {"leaf_index": leaf_index, "entry": _b64(raw), "record": orjson.loads(raw)}
