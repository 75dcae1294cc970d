"""OAuth 2.0 token endpoint (client credentials + private_key_jwt), JWKS and server metadata."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

from fastapi import Request

from ...domain.errors import Refusal
from .answer_models import KeySet, ServerMetadata
from .dependencies import SettingsDep, SignerDep, TokensDep
from .errors import openapi_errors, request_id
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .responses import JSONBody
from .schemas import TokenOut

router = HubRouter(route_class=JSONRoute, tags=["authentication"])


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    responses=openapi_errors(
        "invalid_request",
        "invalid_client",
        "unsupported_grant_type",
        "unsupported_media_type",
        "payload_too_large",
    ),
    summary="Exchange a signed client assertion (RFC 7523) for an access token",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "client_assertion_type", "client_assertion"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_id": {"type": "string"},
                            "client_assertion_type": {"type": "string"},
                            "client_assertion": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def token(request: Request, tokens: TokensDep) -> JSONBody:
    if (
        request.headers.get("content-type", "").split(";")[0].strip()
        != "application/x-www-form-urlencoded"
    ):
        raise Refusal(
            "unsupported_media_type",
            "the token request is a form: application/x-www-form-urlencoded.",
        )
    raw = (await request.body()).decode("utf-8", errors="replace")
    pairs = parse_qsl(raw, keep_blank_values=True)
    form = dict(pairs)
    if len(form) != len(pairs):
        # RFC 6749 §3.2: no parameter twice. The hub would read the last, a proxy the first.
        counted = Counter(name for name, _ in pairs)
        repeated = next(name for name, count in counted.items() if count > 1)
        raise Refusal(
            "invalid_request",
            f"the token request names {repeated[:40]!r} more than once (RFC 6749 §3.2).",
            repeated[:40],
        )
    answer = await tokens.issue(form, request_id(request))
    return JSONBody(answer, headers={"Cache-Control": "no-store"})


@router.get(
    "/.well-known/jwks.json", summary="The hub's public keys", responses=answers(KeySet, {})
)
async def jwks(signer: SignerDep) -> dict:
    """Every key the hub ever signed with: next, current, previous and retired ones."""
    return signer.jwks()


@router.get(
    "/.well-known/crossroads/key-history",
    summary="The hub's keys in order, each endorsed by the one before (docs/audit.md)",
    responses=answers(KeySet, {}),
)
async def key_history(signer: SignerDep) -> dict:
    return signer.key_history()


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="OAuth 2.0 server metadata (RFC 8414)",
    responses=answers(ServerMetadata, {}),
)
async def metadata(settings: SettingsDep) -> dict:
    issuer = settings.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256"],
    }
