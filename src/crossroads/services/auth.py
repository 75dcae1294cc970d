"""Authentication: OAuth 2.0 client credentials with private_key_jwt (RFC 7523), and access tokens.

An application proves itself with an assertion signed by a key registered for it; the hub answers
with a short-lived access token it signs itself. Each access token is verified once per process
and then remembered until it expires: verification is the costliest step of a request.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..domain.registry import split_client_id
from .clock import Clock
from .ports import AuditLog, RegistryRepository, ReplayGuard, Signer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_TOKEN_CACHE_LIMIT = 100_000


@dataclass(frozen=True)
class Caller:
    """Who is calling: an application of an institution, or the hub's operator."""

    institution: str | None
    application: str | None
    operator: bool = False

    @property
    def client_id(self) -> str | None:
        if self.institution and self.application:
            return f"{self.institution}:{self.application}"
        return None


OPERATOR = Caller(institution=None, application=None, operator=True)


class TokenService:
    def __init__(
        self, registry: RegistryRepository, replay: ReplayGuard, audit: AuditLog, signer: Signer,
        clock: Clock, *, issuer: str, token_ttl: int, max_assertion_lifetime: int,
    ) -> None:
        self._registry = registry
        self._replay = replay
        self._audit = audit
        self._signer = signer
        self._clock = clock
        self.issuer = issuer
        self.token_endpoint = f"{issuer}/oauth/token"
        self._ttl = token_ttl
        self._max_lifetime = max_assertion_lifetime
        self._verified: dict[str, tuple[Caller, int]] = {}

    async def issue(self, form: dict[str, str]) -> dict:
        """Handle a token request (form fields of RFC 6749 §4.4 with RFC 7523 client authentication)."""
        client_id = form.get("client_id")
        try:
            token = await self._issue(form)
        except Refusal as refusal:
            await self._audit.append(AuditRecord(
                kind="auth", at_ms=self._clock.now_ms(), outcome=refusal.code, action="token",
                target=client_id if isinstance(client_id, str) and len(client_id) < 100 else None,
                detail={"reason": refusal.message},
            ))
            raise
        return token

    async def _issue(self, form: dict[str, str]) -> dict:
        if form.get("grant_type") != "client_credentials":
            if not form.get("grant_type"):
                raise Refusal("invalid_request", "grant_type is required.", "grant_type")
            raise Refusal("unsupported_grant_type", "only grant_type=client_credentials is supported.", "grant_type")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise Refusal("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}.", "client_assertion_type")
        assertion = form.get("client_assertion")
        if not assertion:
            raise Refusal("invalid_request", "client_assertion is required.", "client_assertion")
        claims = self._unverified_claims(assertion)
        client_id = claims.get("iss")
        if not isinstance(client_id, str) or claims.get("sub") != client_id:
            raise Refusal("invalid_client", "the assertion's iss and sub must both be the client_id.", "client_assertion")
        if form.get("client_id") not in (None, client_id):
            raise Refusal("invalid_client", "client_id does not match the assertion's issuer.", "client_id")
        institution, code = split_client_id(client_id)
        application = await self._registry.get_application(institution, code)
        if application is None or not application.active:
            raise Refusal("invalid_client", f"no active application {client_id} is registered.", "client_id")
        claims = self._signer.verify_client_assertion(assertion, application.jwks)
        self._check_assertion_claims(claims)
        if not await self._replay.first_use(f"{client_id}|{claims['jti']}", int(claims["exp"])):
            raise Refusal("invalid_client", "this client assertion was already used (jti replayed).", "client_assertion")
        now = int(self._clock.now())
        access = self._signer.issue_token({
            "iss": self.issuer, "sub": client_id, "aud": self.issuer, "client_id": client_id,
            "iat": now, "exp": now + self._ttl, "jti": str(uuid.uuid4()),
            "institution": institution, "application": code,
        })
        return {"access_token": access, "token_type": "Bearer", "expires_in": self._ttl}

    @staticmethod
    def _unverified_claims(assertion: str) -> dict:
        # Which application's keys to verify with is named inside the assertion itself (RFC 7523
        # §3), so the claims are read once before verification, and trusted only after it.
        try:
            payload = assertion.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            raise Refusal("invalid_client", "client_assertion is not a compact JWT.", "client_assertion") from None
        if not isinstance(claims, dict):
            raise Refusal("invalid_client", "client_assertion is not a compact JWT.", "client_assertion")
        return claims

    def _check_assertion_claims(self, claims: dict) -> None:
        now = self._clock.now()
        for name in ("exp", "jti", "aud"):
            if name not in claims:
                raise Refusal("invalid_client", f"the client assertion lacks the {name} claim.", "client_assertion")
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if self.token_endpoint not in audience and self.issuer not in audience:
            raise Refusal("invalid_client", f"the client assertion's aud must be {self.token_endpoint}.", "client_assertion")
        if not isinstance(claims["exp"], (int, float)) or claims["exp"] < now:
            raise Refusal("invalid_client", "the client assertion has expired.", "client_assertion")
        issued = claims.get("iat", now)
        if not isinstance(issued, (int, float)) or issued > now + 60 or claims["exp"] - issued > self._max_lifetime:
            raise Refusal("invalid_client", f"the client assertion must live at most {self._max_lifetime} s.", "client_assertion")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise Refusal("invalid_client", "the client assertion's jti must be a non-empty string.", "client_assertion")

    def authenticate(self, token: str) -> Caller:
        """The caller a hub access token stands for; Refusal("unauthenticated") otherwise."""
        now = self._clock.now()
        cached = self._verified.get(token)
        if cached is not None:
            caller, expires = cached
            if expires > now:
                return caller
            del self._verified[token]
            raise Refusal("unauthenticated", "the access token has expired; request a new one.")
        claims = self._signer.verify_token(token)
        exp = claims.get("exp")
        if claims.get("iss") != self.issuer or not isinstance(exp, int):
            raise Refusal("unauthenticated", "the access token was not issued by this hub.")
        if exp <= now:
            raise Refusal("unauthenticated", "the access token has expired; request a new one.")
        caller = Caller(institution=claims.get("institution"), application=claims.get("application"))
        if len(self._verified) >= _TOKEN_CACHE_LIMIT:
            self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= _TOKEN_CACHE_LIMIT:
                self._verified.clear()
        self._verified[token] = (caller, exp)
        return caller
