"""The hub's detached request signature (HubKeys.sign_detached): made with libsodium, the same
Ed25519 signature the `cryptography` package makes with the same key, and a JWS the provider
kit verifies."""

from __future__ import annotations

import base64

from joserfc.jwk import KeySet

from crossroads.adapters.keys import HubKeys, verify_detached


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def test_the_signature_is_ed25519s_over_the_jws_signing_input_and_verifies(tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "keys")
    payload = b'{"subject": "85073003328", "purpose": "child-benefit"}'
    jws = keys.sign_detached(payload, {"aud": "https://source.example/v1", "iat": 1_700_000_000})
    head, empty, signature = jws.split(".")
    assert empty == ""
    # Ed25519 is deterministic: the `cryptography` package's signature with the same key is the
    # same bytes.
    expected = keys.signing_key.private_key.sign(head.encode() + b"." + b64url(payload))
    assert signature == b64url(expected).decode()
    header = verify_detached(jws, payload, KeySet.import_key_set(keys.jwks()))
    assert header["kid"] == keys.kid and header["aud"] == "https://source.example/v1"


def test_two_hub_processes_of_one_key_folder_sign_the_same_bytes(tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "keys")
    first = keys.sign_detached(b"{}", {})
    again = HubKeys.load_or_create(tmp_path / "keys")  # as a second worker loads it
    assert again.sign_detached(b"{}", {}) == first
