"""The calls across the hub's boundary: the hub's keys that sign and check them (access tokens,
client assertions, detached signatures on what the hub sends), the guards against a replayed
client assertion or peer hub's request, and the client that posts to providers and subscribers'
webhooks.

adapters.keys implements the signer, the SQL store both guards, adapters.provider_client
(aiohttp) the provider client; tests put in-memory providers behind the last.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any


class Signer(abc.ABC):
    """The hub's keys (adapters.keys.HubKeys implements it)."""

    @abc.abstractmethod
    def issue_token(self, claims: dict[str, Any]) -> str: ...

    @abc.abstractmethod
    def verify_token(self, token: str, now: float) -> dict[str, Any]:
        """Claims of a token this hub signed, well-typed and current at `now`; Refusal otherwise."""

    @abc.abstractmethod
    def sign_detached(self, payload: bytes, protected: dict[str, Any]) -> str: ...

    @abc.abstractmethod
    def verify_client_assertion(
        self, assertion: str, jwks: dict[str, Any], now: float
    ) -> dict[str, Any]:
        """Claims of an assertion signed with one of `jwks`, well-typed and current at `now`;
        Refusal("invalid_client") otherwise."""

    @abc.abstractmethod
    def jwks(self) -> dict[str, Any]:
        """Every public key the hub ever signed with, retired ones included."""

    @abc.abstractmethod
    def key_history(self) -> dict[str, Any]:
        """`{"keys": [{"kid", "jwk", "state", "endorsement"}...]}`, oldest first: each key but the
        first endorsed by the one current before it (crossroads.key_history)."""


class ReplayGuard(abc.ABC):
    @abc.abstractmethod
    async def first_use(self, jti: str, expires_at: int) -> bool:
        """Record a client assertion id; False when it was seen before (a replay)."""


class SeenRequests(abc.ABC):
    """The requests peer hubs signed that this hub accepted, shared by every process of the hub
    (one store), each kept while its signature is valid: a request sent again, to any process,
    within that time is seen; after it, its signature is refused as too old anyway."""

    @abc.abstractmethod
    async def first_use(self, key: str, expires_at: int, now: int) -> bool:
        """Record `key` until `expires_at` (epoch seconds); False when it is recorded already (a
        replay). Records that expired before `now` may be forgotten."""


@dataclass(frozen=True)
class ProviderReply:
    status: int
    body: bytes
    content_type: str


class ProviderClient(abc.ABC):
    @abc.abstractmethod
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderReply:
        """POST to a provider. Raises Refusal provider_unavailable or provider_timeout."""

    # Optional to override: a client without a pool (an in-process one) has nothing to release.
    async def close(self) -> None:  # noqa: B027
        """Release pooled connections."""
