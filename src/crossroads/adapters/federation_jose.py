"""Federation documents and hub-to-hub signatures with joserfc: a document is a compact JWS
(EdDSA, `typ` crossroads-federation) by the hub's current key; a hub-to-hub request carries the
same detached signature the hub puts on what it sends its providers (adapters/keys.py)."""

from __future__ import annotations

from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..domain import unique_keys
from ..domain.errors import Refusal
from ..domain.federation import DOCUMENT_TYPE
from ..providerkit.signatures import SIGNATURE_REGISTRY, verify_detached
from ..services.ports import FederationJose
from .keys import HubKeys


class JoseFederation(FederationJose):
    def __init__(self, keys: HubKeys) -> None:
        self._keys = keys
        self._key_sets: dict[str, KeySet] = {}

    def sign_document(self, claims: dict[str, Any]) -> str:
        header = {"alg": "EdDSA", "kid": self._keys.kid, "typ": DOCUMENT_TYPE}
        return jws.serialize_compact(
            header, orjson.dumps(claims), self._keys.signing_key, registry=SIGNATURE_REGISTRY
        )

    def verify_document(self, compact: str, jwks: dict[str, Any]) -> dict[str, Any]:
        try:
            unique_keys.check_jws(compact)  # joserfc reads the header keeping a repeated key's last
            found = jws.deserialize_compact(
                compact, self._key_set(jwks), registry=SIGNATURE_REGISTRY
            )
            claims = orjson.loads(found.payload)  # checked with the header
        except unique_keys.DuplicateKey as exc:
            raise Refusal("peer_untrusted", f"the peer's federation document: {exc}.") from None
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Refusal(
                "peer_untrusted",
                "the peer's federation document does not verify with a key believed for it "
                f"({exc.__class__.__name__}).",
            ) from None
        if found.protected.get("typ") != DOCUMENT_TYPE or not isinstance(claims, dict):
            raise Refusal("peer_untrusted", "the peer's document is not a federation document.")
        return claims

    def verify_request(self, signature: str, body: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
        try:
            return verify_detached(signature, body, self._key_set(jwks))
        except unique_keys.DuplicateKey as exc:
            raise Refusal("peer_untrusted", f"the request's signature header: {exc}.") from None
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Refusal(
                "peer_untrusted",
                "the request's signature does not verify with a key believed for the peer "
                f"({exc.__class__.__name__}).",
            ) from None

    def _key_set(self, jwks: dict[str, Any]) -> KeySet:
        """Importing a key set costs more than verifying with it: one per set of key ids."""
        ids = ",".join(sorted(str(k.get("kid")) for k in jwks.get("keys", [])))
        found = self._key_sets.get(ids)
        if found is None:
            found = KeySet.import_key_set(
                {"keys": [{**k, "alg": "EdDSA"} if "alg" not in k else k for k in jwks["keys"]]}
            )
            self._key_sets[ids] = found
        return found
