"""What federation needs from outside the process: the operator's federation folder (this hub's
offer and the peers it pinned), the peers' published documents and key histories, and the JOSE
operations on federation documents and hub-to-hub signatures.

adapters.federation_folder, adapters.peer_documents and adapters.federation_jose implement them.
"""

from __future__ import annotations

import abc
from typing import Any

from ...domain.federation import Offer, PeerPin


class FederationConfig(abc.ABC):
    """The operator's choices, read again when they change (`crossroads federation …` writes
    them while the hub runs)."""

    @abc.abstractmethod
    def offer(self) -> Offer: ...

    @abc.abstractmethod
    def peers(self) -> dict[str, PeerPin]:
        """instance -> pin."""


class PeerDocuments(abc.ABC):
    """A peer hub's published documents, fetched from its address."""

    @abc.abstractmethod
    async def document(self, url: str) -> str:
        """The compact JWS the peer serves as its federation document."""

    @abc.abstractmethod
    async def key_history(self, url: str) -> dict[str, Any]: ...


class FederationJose(abc.ABC):
    @abc.abstractmethod
    def sign_document(self, claims: dict[str, Any]) -> str:
        """A compact JWS of `claims`, by this hub's current key."""

    @abc.abstractmethod
    def verify_document(self, compact: str, jwks: dict[str, Any]) -> dict[str, Any]:
        """The claims of a document signed by one of `jwks`; Refusal peer_untrusted otherwise."""

    @abc.abstractmethod
    def verify_request(self, signature: str, body: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
        """The protected header of a detached request signature by one of `jwks`; Refusal
        peer_untrusted otherwise."""
