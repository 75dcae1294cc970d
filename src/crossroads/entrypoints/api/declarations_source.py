"""The declarations service as an authentic source behind the hub: the hub's services about what
employers declared, served with the provider kit (so the hub signs and audits each request like
any other provider's) at ISSUER/sources/declarations.

Its refusals (a request the hub did not sign, a wrong method, a body over the limit) are
answered in the hub's error format and audited like the hub's own.

Register its institution (CROSSROADS_DECLARATIONS_SOURCE) with that base URL, and these services
with it as provider: `dimona.periods`, `wages.quarterly`, `social-risk.declarations` (the demo
does; docs/declarations.md shows the admin calls).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...bootstrap import Hub
from ...domain.declarations.records import Declaration
from ...domain.errors import Refusal
from ...providerkit import HubKeySet, ProviderApp
from .errors import audit_refusal, unaudited

MOUNT = "/sources/declarations"


def _risk(d: Declaration) -> dict:
    return {
        "declaration_id": d.id,
        "scenario": d.form,
        "employer": d.employer,
        "status": d.status,
        "received_at_ms": d.received_at_ms,
        **{k: v for k, v in d.summary.items() if k != "employer"},
    }


def source_app(hub: Hub) -> ProviderApp:
    queries = hub.declaration_queries

    async def audited(request: Request, refusal: Refusal) -> Refusal:
        """The source's refusals are the hub's: audited as the hub audits its own (all but
        unknown paths), and `internal_error` when the audit record cannot be written."""
        if refusal.code == "not_found":
            return refusal
        try:
            await audit_refusal(request, refusal, hub)
        except Exception:
            return unaudited(request, refusal)
        return refusal

    # The hub's own keys, read in-process (cheap: no bound on how often), so that a key another
    # hub process began to sign with is known here as soon as this process has read it.
    keys = HubKeySet(
        fetch=hub.keys.jwks,
        refresh_seconds=hub.settings.keys_reload_seconds,
        min_interval_seconds=0,
    )
    app = ProviderApp(hub.settings.issuer + MOUNT, keys, on_refusal=audited)

    @app.service("/services/dimona.periods/1")
    async def periods(request: dict) -> dict:
        return {"periods": [p.as_answer() for p in await queries.periods_of(request["subject"])]}

    @app.service("/services/wages.quarterly/1")
    async def wages(request: dict) -> dict:
        return {"quarters": await queries.wages_of(request["subject"])}

    @app.service("/services/social-risk.declarations/1")
    async def risks(request: dict) -> dict:
        return {
            "declarations": [_risk(d) for d in await queries.social_risks_of(request["subject"])]
        }

    return app


class LazySource:
    """The source app, built on first use from the running hub (which exists only once the
    application's lifespan has started)."""

    def __init__(self) -> None:
        self._app: ProviderApp | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = source_app(scope["app"].state.hub)
        await self._app(scope, receive, send)
