"""Citizens and operators sign in through OpenID Connect: the hub is the relying party, with
Authlib (one client per audience: `citizen`, `operator`, and `portal` for people acting for an
enterprise or an institution).

Authorization code flow with PKCE (S256) and a nonce; Authlib keeps state, nonce and verifier in
the caller's signed session cookie and checks the ID token (signature against the issuer's JWKS,
`iss`, `aud`, `exp`, `nonce`). What the hub keeps of a citizen is the identifier claim, turned
into the keyed hash at once by the caller; of an operator, the claim that names them.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import MismatchingStateError, OAuthError

with warnings.catch_warnings():
    # Authlib 1.9 warns when it talks HTTP through httpx rather than its httpx2 fork; httpx is
    # what the rest of the hub uses, and what Authlib still supports.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth
from httpx import HTTPError
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from ..domain.errors import Refusal
from .bounded_get import BoundedTransport

# The issuer's discovery document, its keys and its token answers are a few kilobytes each; read
# whole by Authlib, any of them could otherwise be as large as the issuer made it.
MAX_ANSWER_BYTES = 1024 * 1024
_MAX_IDENTIFIER = 255  # characters of an identifier claim (OpenID Connect Core §2, `sub`)


class OidcSignIn:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        identifier_claim: str,
        http: dict[str, Any] | None = None,
        name: str = "citizen",
        seconds: float = 10.0,
    ) -> None:
        """`http`: extra arguments for the httpx client that talks to the issuer (tests give an
        in-process transport to reach the development identity provider); `name`: whom it signs
        in (Authlib keeps each client's state apart in the session under it); `seconds`: each
        step's exchanges with the issuer whole (discovery, keys, token), however the issuer
        answers: httpx's timeout is per read, and an issuer trickling its answer held the
        sign-in for as long as it liked. Every answer's body is read at most MAX_ANSWER_BYTES
        (adapters/bounded_get.py)."""
        self._seconds = seconds
        http = dict(http or {})
        http["transport"] = BoundedTransport(MAX_ANSWER_BYTES, http.get("transport"))
        self.issuer = issuer.rstrip("/")
        self._claim = identifier_claim
        self._oauth = OAuth()
        self._client = self._oauth.register(
            name,
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": "openid",
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_post" if client_secret else "none",
                **http,
            },
        )

    async def redirect(self, request: Request, callback_url: str) -> Response:
        """The redirect that sends the browser to the identity provider."""
        try:
            async with asyncio.timeout(self._seconds):
                return await self._client.authorize_redirect(request, callback_url)
        except TimeoutError:
            raise self._too_slow() from None
        except (HTTPError, OAuthError, ValueError) as exc:
            raise Refusal(
                "not_ready", f"the identity provider {self.issuer} cannot be reached: {exc}."
            ) from None

    async def identify(self, request: Request) -> str:
        """The identifier claim of the person coming back from the identity provider.

        Refuses with `sign_in_expired` when the answer belongs to no sign-in under way in this
        browser (expired, or already used), and with `unauthenticated` when it is not one this hub
        asked for (an error from the provider, an ID token that fails its checks)."""
        return (await self.claims(request))[1]

    async def claims(self, request: Request) -> tuple[dict[str, Any], str]:
        """Every claim of the checked ID token, and the identifier claim among them (refused as
        `identify` says)."""
        try:
            async with asyncio.timeout(self._seconds):
                token = await self._client.authorize_access_token(request)
        except TimeoutError:
            raise self._too_slow() from None
        except MismatchingStateError:
            # The state this browser keeps is gone (used by an earlier visit of the same address)
            # or another sign-in's: nothing to complete, but nothing wrong either.
            raise Refusal(
                "sign_in_expired",
                "the sign-in expired or was already used (the state in the address is not "
                "the one this browser started with); sign in again.",
            ) from None
        except OAuthError as exc:
            said = (exc.description or exc.error or "refused").rstrip(".")
            raise Refusal("unauthenticated", f"the sign-in did not complete: {said}.") from None
        except HTTPError as exc:
            raise Refusal(
                "not_ready", f"the identity provider {self.issuer} cannot be reached: {exc}."
            ) from None
        except (JoseError, ValueError) as exc:  # signature or claims (iss, aud, exp, nonce) fail
            raise Refusal(
                "unauthenticated", f"the identity provider's ID token was refused: {exc}."
            ) from None
        claims = token.get("userinfo") or {}
        value = claims.get(self._claim)
        if not isinstance(value, str) or not value:
            raise Refusal(
                "unauthenticated",
                f"the ID token carries no {self._claim!r} claim to identify who signed in.",
            )
        # OpenID Connect Core §2: an identifier is at most 255 ASCII characters. What the hub
        # derives from it (a keyed hash, an operator's id, a session's person) takes it as such.
        if len(value) > _MAX_IDENTIFIER or not (value.isascii() and value.isprintable()):
            raise Refusal(
                "unauthenticated",
                f"the ID token's {self._claim!r} claim is not an identifier (at most "
                f"{_MAX_IDENTIFIER} printable ASCII characters, as OpenID Connect says).",
            )
        return dict(claims), value

    def _too_slow(self) -> Refusal:
        return Refusal(
            "not_ready",
            f"the identity provider {self.issuer} did not answer within {self._seconds:g} s.",
        )
