"""The hub's request signatures, as a provider verifies them: a JWS with detached payload over the
exact body (RFC 7515 Appendix F), whose protected header carries the hub's own parameters.

It lives in the provider kit, which institutions install on their own (docs/provider-kit.md), and
the hub's keys (adapters/keys.py) sign with the same registry, so both sides agree on one format.
"""

from __future__ import annotations

import warnings

from joserfc import jws
from joserfc.jwk import KeySet

from ..domain.unique_keys import check_jws

# RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519", which joserfc does not
# register yet; "EdDSA" over an Ed25519 key is the same signature, and what clients accept today.
ALGORITHMS = ["EdDSA", "ES256"]
warnings.filterwarnings("ignore", message="EdDSA is deprecated")
# Request signatures carry our own protected header parameters (request id, audience, time).
SIGNATURE_REGISTRY = jws.JWSRegistry(algorithms=ALGORITHMS, strict_check_header=False)


def verify_detached(signature: str, payload: bytes, key_set: KeySet) -> dict:
    """Verify a hub request signature; return its protected header. Raises JoseError, or
    ValueError (DuplicateKey among them) for a header that is not JSON naming each key once."""
    check_jws(signature)
    obj = jws.deserialize_compact(signature, key_set, payload=payload, registry=SIGNATURE_REGISTRY)
    return dict(obj.protected)
