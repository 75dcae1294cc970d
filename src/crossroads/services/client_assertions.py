"""What a client assertion claims before it is verified: which client's keys to check it with,
and, for the audit record of a refused token request, who the request said it was."""

from __future__ import annotations

import base64
import json
from typing import Any

from ..domain import unique_keys
from ..domain.audit import untrusted_text
from ..domain.errors import Refusal


def unverified_claims(assertion: str) -> dict[str, Any]:
    """The claims of a compact JWT, before any check. Which application's keys verify an
    assertion is named inside the assertion itself (RFC 7523 §3), so the claims are read once
    before verification, and trusted only after it."""
    try:
        payload = assertion.split(".")[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        # Read as joserfc reads it (the standard library's json, which takes a lone surrogate:
        # a refused assertion's claimed `iss` is still recorded, made safe), each key once.
        # UTF-8 only, as unique_keys counts it (json.loads would also take UTF-16 bytes).
        claims = json.loads(raw.decode("utf-8"))
        unique_keys.check(raw, claims)
    except unique_keys.DuplicateKey as exc:
        raise Refusal(
            "invalid_client", f"the client assertion's claims: {exc}.", "client_assertion"
        ) from None
    except (IndexError, ValueError, RecursionError):
        raise Refusal(
            "invalid_client", "client_assertion is not a compact JWT.", "client_assertion"
        ) from None
    if not isinstance(claims, dict):
        raise Refusal(
            "invalid_client", "client_assertion is not a compact JWT.", "client_assertion"
        )
    return claims


def claimed_client(form: dict[str, str]) -> dict[str, Any]:
    """Who a refused token request says it is, unverified and bounded, for the audit record."""
    claimed = {}
    if "client_id" in form:
        claimed["client_id"] = untrusted_text(form["client_id"])
    try:
        claims = unverified_claims(form.get("client_assertion") or "")
    except Refusal:
        return claimed
    for name in ("iss", "sub"):
        if name in claims:
            claimed[name] = untrusted_text(claims[name])
    return claimed
