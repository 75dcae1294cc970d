"""Public keys a client registers (an application, a service account): a JWK Set of Ed25519 or
P-256 public keys, never a private part."""

from __future__ import annotations

from typing import Any

from .errors import Refusal

_PUBLIC_KEY_TYPES = {("OKP", "Ed25519"), ("EC", "P-256")}


def check_public_jwks(jwks: Any, field_name: str = "jwks") -> None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise Refusal(
            "malformed_request",
            f"{field_name} must be a JWK Set with at least one key.",
            field_name,
        )
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or (key.get("kty"), key.get("crv")) not in _PUBLIC_KEY_TYPES:
            raise Refusal(
                "malformed_request",
                f"{field_name}.keys[{i}] must be an Ed25519 (OKP) or P-256 (EC) public key.",
                f"{field_name}.keys[{i}]",
            )
        if "d" in key:
            raise Refusal(
                "malformed_request",
                f"{field_name}.keys[{i}] contains a private key; register only the public part.",
                f"{field_name}.keys[{i}]",
            )
