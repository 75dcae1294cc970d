"""A development OpenID Connect provider for the demo: anyone may sign in as any person.

It exists so that the portal can be tried without a real eID; the demo's wiring
(demo/wiring.py) builds it and mounts it only in demo mode, and every page it shows says what it
is. It offers personas (demo/personas.py): test citizens, an employer's representative, a payroll
office's clerk, an institution's staff members and an operator, each with the claims the hub reads;
or any identifier typed in. Written by hand because the libraries that implement a provider
(Authlib's server side among them) need a web framework integration we do not use, and this one
is the minimum a relying party needs: discovery, JWKS, the authorization code flow with PKCE
(S256), and RS256 ID tokens, signed with joserfc.

It keeps no state of its own: an authorization code is a short-lived JWT it signed, whose `jti`
the hub's replay guard (shared by every hub process) lets through once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from ..entrypoints.api.dependencies import hub_of
from ..entrypoints.api.json_input import JSONRoute
from ..entrypoints.api.pages import localised
from ..services.ports import ReplayGuard
from .personas import Persona

PREFIX = "/dev-idp"
CODE_SECONDS = 60
ID_TOKEN_SECONDS = 300


class Client(NamedTuple):
    """A relying party: its secret (None: a public client), the prefix its redirect addresses
    must be under (the hub's own citizen, operator or portal pages), and which personas it
    offers (their `audience`)."""

    secret: str | None
    redirect_prefix: str
    audience: str = ""


class DevelopmentIdentityProvider:
    def __init__(
        self,
        issuer: str,
        clients: dict[str, Client],
        key: RSAKey,
        replay: ReplayGuard,
        examples: list[str],
        personas: list[Persona] | None = None,
    ) -> None:
        """`clients` by client_id: the hub's citizen, operators' and portal sign-ins."""
        self.issuer = issuer
        self._clients = clients
        self._key = key
        self._replay = replay
        self.examples = examples
        self._personas = {p.key: p for p in personas or []}

    def personas_for(self, client_id: str) -> list[Persona]:
        """The personas the client's sign-in offers."""
        client = self._clients.get(client_id)
        audience = client.audience if client else None
        return [p for p in self._personas.values() if p.audience == audience]

    def persona(self, client_id: str, key: str) -> Persona | None:
        found = self._personas.get(key)
        return found if found in self.personas_for(client_id) else None

    @staticmethod
    def load_key(folder: Path) -> RSAKey:
        """The provider's RSA key, made on first use (kept apart from the hub's own keys)."""
        path = folder / "dev-idp-key.json"
        if path.exists():
            return RSAKey.import_key(json.loads(path.read_text()))
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        key.ensure_kid()
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(key.as_dict(private=True)))
        path.chmod(0o600)
        return key

    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "scopes_supported": ["openid"],
        }

    def jwks(self) -> dict:
        return KeySet([self._key]).as_dict(private=False)

    def check_authorize(self, params: dict) -> str | None:
        """Why an authorization request is not acceptable, or None."""
        if params.get("response_type") != "code":
            return "response_type must be code"
        client = self._clients.get(params.get("client_id", ""))
        if client is None:
            return "unknown client_id"
        if not params.get("redirect_uri") or not params.get("state"):
            return "redirect_uri and state are required"
        if not params["redirect_uri"].startswith(client.redirect_prefix):
            return f"redirect_uri must be under {client.redirect_prefix}"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        return None

    def issue_code(self, params: dict, subject: str, extra: dict[str, str] | None = None) -> str:
        """A code for `subject`; `extra`: the persona's claims, carried into the ID token."""
        now = int(time.time())
        claims = {
            "sub": subject,
            "claims": extra or {},
            "aud": params["client_id"],
            "redirect_uri": params["redirect_uri"],
            "nonce": params.get("nonce"),
            "code_challenge": params["code_challenge"],
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + CODE_SECONDS,
        }
        return jwt.encode({"alg": "RS256", "typ": "dev-idp-code"}, claims, self._key)

    async def token(self, form: dict) -> tuple[int, dict]:
        """The token endpoint: (status, body) per RFC 6749 §5."""
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        client_id = form.get("client_id", "")
        client = self._clients.get(client_id)
        if client is None or (
            client.secret is not None and form.get("client_secret") != client.secret
        ):
            return 401, {"error": "invalid_client"}
        try:
            code = jwt.decode(form.get("code", ""), self._key, algorithms=["RS256"])
        except (JoseError, ValueError):
            return 400, {
                "error": "invalid_grant",
                "error_description": "the code is not one of ours",
            }
        claims = code.claims
        if code.header.get("typ") != "dev-idp-code" or claims["exp"] < time.time():
            return 400, {"error": "invalid_grant", "error_description": "the code has expired"}
        if claims["redirect_uri"] != form.get("redirect_uri") or claims["aud"] != client_id:
            return 400, {
                "error": "invalid_grant",
                "error_description": "redirect_uri differs from the authorization request",
            }
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if challenge != claims["code_challenge"]:
            return 400, {
                "error": "invalid_grant",
                "error_description": "the PKCE code_verifier does not match",
            }
        if not await self._replay.first_use(f"dev-idp:{claims['jti']}", claims["exp"]):
            return 400, {"error": "invalid_grant", "error_description": "the code was already used"}
        now = int(time.time())
        id_claims = {
            **claims.get("claims", {}),
            "iss": self.issuer,
            "sub": claims["sub"],
            "aud": client_id,
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
            "auth_time": now,
            "acr": "dev-only",
        }
        if claims.get("nonce"):
            id_claims["nonce"] = claims["nonce"]
        id_token = jwt.encode({"alg": "RS256", "kid": self._key.kid}, id_claims, self._key)
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_SECONDS,
            "id_token": id_token,
        }


def _provider(request: Request) -> DevelopmentIdentityProvider:
    provider = hub_of(request).dev_idp
    if provider is None:  # the routes exist only in demo mode, where bootstrap_demo builds it
        raise RuntimeError("the development identity provider is mounted but was not built")
    return provider


def _form(
    request: Request,
    provider: DevelopmentIdentityProvider,
    params: dict,
    problem: str | None,
    missing: bool = False,
) -> HTMLResponse:
    """The sign-in page, in the portal's languages: the client's personas, and a field for any
    identifier. `problem`: what is wrong with the client's request (in English, as the protocol's
    error descriptions are); `missing`: the person chose no one to sign in as."""
    return localised(
        request,
        "dev_idp.html",
        400 if problem or missing else 200,
        problem=problem,
        missing=missing,
        params=params,
        examples=provider.examples,
        personas=provider.personas_for(params.get("client_id", "")),
    )


def router() -> APIRouter:
    """The provider's routes; `create_demo_app` includes them only in demo mode."""
    routes = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=JSONRoute)

    @routes.get("/.well-known/openid-configuration")
    async def discovery(request: Request) -> JSONResponse:
        provider = _provider(request)
        return JSONResponse(provider.metadata())

    @routes.get("/jwks")
    async def jwks(request: Request) -> JSONResponse:
        provider = _provider(request)
        return JSONResponse(provider.jwks())

    @routes.get("/authorize")
    async def authorize_form(request: Request) -> HTMLResponse:
        provider = _provider(request)
        params = dict(request.query_params)
        return _form(request, provider, params, provider.check_authorize(params))

    @routes.post("/authorize")
    async def authorize(request: Request):
        provider = _provider(request)
        form = dict(
            parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        )
        subject = form.pop("subject", "").strip()
        chosen = form.pop("persona", "")
        persona = provider.persona(form.get("client_id", ""), chosen) if chosen else None
        problem = provider.check_authorize(form)
        if problem or not (subject or persona):
            return _form(request, provider, form, problem, missing=not problem)
        code = (
            provider.issue_code(form, persona.subject, persona.claims)
            if persona
            else provider.issue_code(form, subject)
        )
        separator = "&" if "?" in form["redirect_uri"] else "?"
        return RedirectResponse(
            f"{form['redirect_uri']}{separator}{urlencode({'code': code, 'state': form['state']})}",
            status_code=303,
        )

    @routes.post("/token")
    async def token(request: Request) -> JSONResponse:
        provider = _provider(request)
        form = dict(
            parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        )
        status, body = await provider.token(form)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    return routes
