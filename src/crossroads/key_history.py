"""The hub's key history, followed from a trusted start: which signing keys to believe.

The hub publishes every key it ever used, with a *key transition statement* for each but the
first: a JWS (compact, EdDSA) by the key that was signing when the new one was made, whose payload
names the new key (`{"typ": "crossroads-key-transition", "kid", "jwk", "endorsed_by", "iat"}`).
It is served at `/.well-known/crossroads/key-history` as
`{"keys": [{"kid", "jwk", "state", "endorsement"}...]}`, oldest first (docs/audit.md).

Whoever trusts one key of the hub (a JWKS obtained out of band) can then trust each later key
whose statement verifies with a key already trusted, and no other: a key the hub merely lists,
or one endorsed by a key nobody trusted, stays untrusted. Like verifier.py, this module needs
only the standard library and `cryptography`, so that a witness or an auditor can copy the two
files and check the hub without its code.
"""

from __future__ import annotations

import base64
import json
from typing import Any

TRANSITION_TYPE = "crossroads-key-transition"
PUBLIC_MEMBERS = ("kty", "crv", "x", "kid", "use", "alg")


class KeyHistoryError(ValueError):
    """A statement that does not endorse what it claims; the message says what did not hold."""


def public_part(jwk: dict[str, Any]) -> dict[str, Any]:
    """The members of an Ed25519 JWK that identify it (no private part, nothing the hub adds)."""
    return {name: jwk[name] for name in PUBLIC_MEMBERS if name in jwk}


def signing_kid(compact: str) -> str | None:
    """The `kid` in the protected header of a compact JWS (attached or detached payload), or
    None when there is none or the text is no JWS. Nothing is verified."""
    try:
        header = _loads(_b64url_decode(compact.split(".")[0]))
    except (ValueError, RecursionError, AttributeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def verify_transition(statement: str, trusted: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The payload of a key transition statement signed by one of `trusted` (kid -> JWK);
    KeyHistoryError otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        protected, payload, signature = statement.split(".")
        header = _loads(_b64url_decode(protected))
        claims = _loads(_b64url_decode(payload))
    except (ValueError, RecursionError, AttributeError) as exc:
        raise KeyHistoryError(f"not a compact JWS ({exc.__class__.__name__})") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise KeyHistoryError("the header and the payload must be JSON objects")
    if header.get("alg") != "EdDSA" or header.get("typ") != TRANSITION_TYPE:
        raise KeyHistoryError("not an EdDSA key transition statement")
    endorser = trusted.get(header.get("kid", ""))
    if endorser is None or endorser.get("crv") != "Ed25519":
        raise KeyHistoryError(f"signed by {header.get('kid')!r}, a key not trusted")
    try:
        Ed25519PublicKey.from_public_bytes(_b64url_decode(endorser["x"])).verify(
            _b64url_decode(signature), f"{protected}.{payload}".encode()
        )
    except (InvalidSignature, ValueError, KeyError):
        raise KeyHistoryError("the statement's signature does not verify") from None
    if claims.get("typ") != TRANSITION_TYPE or claims.get("endorsed_by") != header["kid"]:
        raise KeyHistoryError("the payload is not a transition from its signing key")
    if not isinstance(claims.get("jwk"), dict) or claims["jwk"].get("kid") != claims.get("kid"):
        raise KeyHistoryError("the payload names no key")
    return claims


def follow_key_history(trusted_jwks: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    """The JWKS of `trusted_jwks` plus every key of `history` endorsed, directly or through a
    chain of endorsements, by a key trusted: each as its statement names it (not as the history
    lists it). Entries that do not verify are left out, never trusted."""
    trusted = {k["kid"]: public_part(k) for k in trusted_jwks.get("keys", []) if "kid" in k}
    entries = [e for e in history.get("keys", []) if isinstance(e, dict)]
    learned = True
    while learned:  # a statement may come before its endorser in a history out of order
        learned = False
        for entry in entries:
            statement = entry.get("endorsement")
            if entry.get("kid") in trusted or not isinstance(statement, str):
                continue
            try:
                claims = verify_transition(statement, trusted)
            except KeyHistoryError:
                continue
            if claims["kid"] == entry.get("kid"):
                trusted[claims["kid"]] = public_part(claims["jwk"])
                learned = True
    return {"keys": list(trusted.values())}


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _loads(data: bytes | str) -> Any:
    """JSON whose objects name each key once (RFC 7493 §2.3); ValueError otherwise. Python's
    `json` keeps the last of two equal keys, other parsers the first: what is verified is read
    one way only. (The hub reads with crossroads/domain/unique_keys.py; this file stays on its
    own, so it checks in the plain way: its JSON is a header of a few hundred bytes.)"""
    return json.loads(data, object_pairs_hook=_named_once)


def _named_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a JSON object names a key twice")
    return found
