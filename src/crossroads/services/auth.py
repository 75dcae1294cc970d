"""Authentication: OAuth 2.0 client credentials with private_key_jwt (RFC 7523), and access tokens.

An application proves itself with an assertion signed by a key registered for it; the hub answers
with a short-lived access token it signs itself. Each access token's signature is verified once
per process and then remembered until it expires: verification is the costliest step of a
request. Whether the application may still use it is asked of the store on every request (its
credential epoch, `RegistryRepository.credential_epoch`): disabling or deleting an application
refuses its tokens at once in every hub process.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from ..domain.audit import AuditRecord, untrusted_text
from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.operators import SERVICE, Actor
from ..domain.registry import split_client_id
from .client_assertions import claimed_client, unverified_claims
from .clock import Clock
from .ports import AuditLog, OperatorRepository, RegistryRepository, ReplayGuard, Signer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_TOKEN_CACHE_LIMIT = 100_000


class RevokedCredential(Refusal):
    """A hub access token whose signature holds, of an application disabled, deleted or
    re-registered since it was issued. Refused as `unauthenticated`, and audited under the
    application it names (which the signature vouches for)."""

    def __init__(self, caller: Caller, current: bool) -> None:
        message = (
            f"application {caller.client_id} was disabled after this token was issued; request "
            "a new token."
            if current
            else f"application {caller.client_id} is disabled or no longer registered; its "
            "access tokens are refused."
        )
        super().__init__("unauthenticated", message)
        self.caller = caller
        self.current = current

    def __reduce__(self) -> tuple[type[Refusal], tuple[object, ...]]:
        return type(self), (self.caller, self.current)


class _Verified(NamedTuple):
    caller: Caller
    expires: int
    epoch: str


class TokenService:
    def __init__(
        self,
        registry: RegistryRepository,
        replay: ReplayGuard,
        audit: AuditLog,
        signer: Signer,
        clock: Clock,
        *,
        issuer: str,
        token_ttl: int,
        max_assertion_lifetime: int,
        operators: OperatorRepository | None = None,
    ) -> None:
        """`operators`, when given, lets service accounts (client_id `service:NAME`) get operator
        tokens for the admin API with their own keys."""
        self._registry = registry
        self._operators = operators
        self._replay = replay
        self._audit = audit
        self._signer = signer
        self._clock = clock
        self.issuer = issuer
        self.token_endpoint = f"{issuer}/oauth/token"
        self._ttl = token_ttl
        self._max_lifetime = max_assertion_lifetime
        self._verified: dict[str, _Verified] = {}

    async def issue(self, form: dict[str, str], request_id: str | None = None) -> dict[str, Any]:
        """Handle a token request (form fields of RFC 6749 §4.4 with RFC 7523 client
        authentication).

        A refusal is audited under `request_id` (the one the refusal is answered with), with the
        client the request claims to be: the form's client_id and the assertion's iss and sub as
        sent, bounded, under `detail.claimed` (never as the record's consumer: nothing vouched
        for them)."""
        try:
            token = await self._issue(form)
        except Refusal as refusal:
            client_id = form.get("client_id")
            await self._audit.append(
                AuditRecord(
                    kind="auth",
                    at_ms=self._clock.now_ms(),
                    outcome=refusal.code,
                    action="token",
                    request_id=request_id,
                    target=None if client_id is None else untrusted_text(client_id),
                    detail={"reason": refusal.message, "claimed": claimed_client(form)},
                )
            )
            refusal.mark_audited()
            raise  # the refusal itself, its cause and traceback kept
        return token

    async def _issue(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            if not form.get("grant_type"):
                raise Refusal("invalid_request", "grant_type is required.", "grant_type")
            raise Refusal(
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported.",
                "grant_type",
            )
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise Refusal(
                "invalid_request",
                f"client_assertion_type must be {ASSERTION_TYPE}.",
                "client_assertion_type",
            )
        assertion = form.get("client_assertion")
        if not assertion:
            raise Refusal("invalid_request", "client_assertion is required.", "client_assertion")
        claims = unverified_claims(assertion)
        client_id = claims.get("iss")
        if not isinstance(client_id, str) or claims.get("sub") != client_id:
            raise Refusal(
                "invalid_client",
                "the assertion's iss and sub must both be the client_id.",
                "client_assertion",
            )
        if form.get("client_id") not in (None, client_id):
            raise Refusal(
                "invalid_client", "client_id does not match the assertion's issuer.", "client_id"
            )
        if client_id.startswith(f"{SERVICE}:") and self._operators is not None:
            account = await self._operators.get_operator(client_id)
            jwks = account.jwks if account is not None and account.active else None
            names: dict[str, str] = {"operator": client_id}
        else:
            institution, code = split_client_id(client_id)
            application = await self._registry.get_application(institution, code)
            jwks = application.jwks if application is not None and application.active else None
            names = {"institution": institution, "application": code}
        if jwks is None:
            raise Refusal(
                "invalid_client", f"no active client {client_id} is registered.", "client_id"
            )
        now = self._clock.now()
        claims = self._signer.verify_client_assertion(assertion, jwks, now)
        self._check_assertion_claims(claims, now)
        if not await self._replay.first_use(f"{client_id}|{claims['jti']}", int(claims["exp"])):
            raise Refusal(
                "invalid_client",
                "this client assertion was already used (jti replayed).",
                "client_assertion",
            )
        epoch = await self._epoch(names)
        if epoch is None:  # disabled or deleted while this request was under way
            raise Refusal(
                "invalid_client", f"no active client {client_id} is registered.", "client_id"
            )
        issued = int(now)
        access = self._signer.issue_token(
            {
                "iss": self.issuer,
                "sub": client_id,
                "aud": self.issuer,
                "client_id": client_id,
                "iat": issued,
                "exp": issued + self._ttl,
                "jti": str(uuid.uuid4()),
                **names,
                "epoch": epoch,
            }
        )
        return {"access_token": access, "token_type": "Bearer", "expires_in": self._ttl}

    async def _epoch(self, names: dict[str, str]) -> str | None:
        if "operator" in names and self._operators is not None:
            return await self._operators.operator_epoch(names["operator"])
        return await self._registry.credential_epoch(names["institution"], names["application"])

    async def authenticate_operator(self, token: str) -> Actor | None:
        """The service account a hub access token was issued to, with its roles as they are now;
        None for a token that names no service account (an application's); Refusal
        ("unauthenticated") when the signature or the account's credential epoch fails. Read from
        the store on every call: the admin API is not a hot path."""
        if self._operators is None:
            return None
        claims = self._signer.verify_token(token, self._clock.now())
        operator_id = claims.get("operator")
        if claims.get("iss") != self.issuer or not isinstance(operator_id, str):
            return None
        account = await self._operators.get_operator(operator_id)
        current = await self._operators.operator_epoch(operator_id)
        if account is None or current is None or current != claims.get("epoch"):
            raise Refusal(
                "unauthenticated",
                f"service account {operator_id} was disabled, removed or given other keys since "
                "this token was issued; request a new one.",
            )
        return account.actor()

    def _check_assertion_claims(self, claims: dict[str, Any], now: float) -> None:
        """What RFC 7523 leaves to the server, once the claims' types and times are checked
        (`Signer.verify_client_assertion`): the audience, and the longest lifetime."""
        if "aud" not in claims:
            raise Refusal(
                "invalid_client", "the client assertion lacks the aud claim.", "client_assertion"
            )
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if self.token_endpoint not in audience and self.issuer not in audience:
            raise Refusal(
                "invalid_client",
                f"the client assertion's aud must be {self.token_endpoint}.",
                "client_assertion",
            )
        # `exp` is finite and in the future, `iat` finite and not in the future: so the assertion
        # lives at most max_lifetime from now, and `exp` fits any integer column.
        if claims["exp"] - claims.get("iat", now) > self._max_lifetime:
            raise Refusal(
                "invalid_client",
                f"the client assertion must live at most {self._max_lifetime} s.",
                "client_assertion",
            )

    async def authenticate(self, token: str) -> Caller:
        """The caller a hub access token stands for, while its application's credential epoch
        is the one the token was issued under; Refusal("unauthenticated") otherwise (a
        `RevokedCredential` when only the epoch fails)."""
        now = self._clock.now()
        verified = self._verified.get(token)
        if verified is not None and verified.expires <= now:
            del self._verified[token]
            raise Refusal("unauthenticated", "the access token has expired; request a new one.")
        if verified is None:
            verified = self._verify(token, now)
        institution, application = verified.caller.institution, verified.caller.application
        if institution is None or application is None:  # every token the hub issues names both
            raise Refusal("unauthenticated", "the access token names no application.")
        current = await self._registry.credential_epoch(institution, application)
        if current != verified.epoch:
            raise RevokedCredential(verified.caller, current is not None)
        return verified.caller

    def _verify(self, token: str, now: float) -> _Verified:
        claims = self._signer.verify_token(token, now)
        institution, application, epoch = (
            claims.get("institution"),
            claims.get("application"),
            claims.get("epoch", ""),
        )
        if claims.get("iss") != self.issuer or not all(
            isinstance(v, str) and v for v in (institution, application)
        ):
            raise Refusal("unauthenticated", "the access token was not issued by this hub.")
        if not isinstance(epoch, str) or claims["exp"] - claims["iat"] > self._ttl:
            raise Refusal("unauthenticated", "the access token was not issued by this hub.")
        verified = _Verified(
            Caller(institution=institution, application=application), int(claims["exp"]), epoch
        )
        if len(self._verified) >= _TOKEN_CACHE_LIMIT:
            self._verified = {t: v for t, v in self._verified.items() if v.expires > now}
            if len(self._verified) >= _TOKEN_CACHE_LIMIT:
                self._verified.clear()
        self._verified[token] = verified
        return verified
