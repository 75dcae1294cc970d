"""The citizen's data as the authentic sources hold it, asked through the hub.

Each look-up is an exchange like any other (ExchangeService.own_data_together): made as the
institution the operator named for people's own access (`CROSSROADS_OWN_ACCESS_INSTITUTION`),
under its `OWN_ACCESS` authorizations (domain/own_access.py), answered by the source the registry
routes to, minimised to the authorization's fields and audited under the person's keyed hash; so
the person's list of who consulted their data shows their own look-ups too, one record each.
Which services the page shows is which such authorizations the registry holds, valid today.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..domain.callers import Caller
from ..domain.errors import Refusal
from ..domain.own_access import OWN_ACCESS, OWN_ACCESS_APPLICATION
from ..domain.registry import Authorization
from .clock import Clock
from .exchange import ExchangeRequest, ExchangeResult, ExchangeService
from .registry_cache import RegistryCache


@dataclass(frozen=True)
class SourceAnswer:
    """What one authentic source answered about the person (`data`), or why not (`refusal`)."""

    service: str
    service_name: str
    authorization: Authorization
    provider: str | None = None
    provider_name: str | None = None
    data: object = None
    refusal: Refusal | None = None
    request_id: str | None = None
    service_name_translations: Mapping[str, str] = field(default_factory=dict)  # wording.py


class PersonalData:
    def __init__(
        self,
        exchange: ExchangeService,
        cache: RegistryCache,
        clock: Clock,
        institution: str | None,
    ) -> None:
        """`institution`: whom the look-ups are made as; None: the page has no data to show."""
        self._exchange = exchange
        self._cache = cache
        self._clock = clock
        self.institution = institution

    async def authorizations(self) -> list[Authorization]:
        """The own-access authorizations valid today, one a service, in the order of their
        references (the order the operator gave them, which the page follows)."""
        if self.institution is None:
            return []
        today = self._clock.today()
        # Through the cache the exchange reads them from (within its ttl, as every exchange does):
        # the page read them from the store on every view. Validity is still checked per view.
        found = await self._cache.authorizations(self.institution, None, OWN_ACCESS)
        by_service: dict[str, Authorization] = {}
        for a in sorted(found, key=lambda a: a.reference):
            if a.is_valid_on(today):
                by_service.setdefault(a.service, a)
        return sorted(by_service.values(), key=lambda a: a.reference)

    async def of(self, identifier: str) -> list[SourceAnswer]:
        """Every source's answer about the person, asked at once. Each look-up is its own
        exchange with its own audit record, request id and refusal; their records are appended
        in one commit (ExchangeService.own_data_together), before any answer is shown. An outage
        of the store raises (every record kept until it is back)."""
        authorizations = await self.authorizations()
        if not authorizations:
            return []
        assert self.institution is not None  # authorizations() is empty without one
        caller = Caller(self.institution, OWN_ACCESS_APPLICATION)
        requests = [
            ExchangeRequest(
                caller,
                a.service,
                identifier,
                OWN_ACCESS,
                authorization=a.reference,
                request_id=str(uuid.uuid4()),  # a refused look-up names its record too
            )
            for a in authorizations
        ]
        outcomes = await self._exchange.own_data_together(requests)
        return [
            await self._answer(a, request, outcome)
            for a, request, outcome in zip(authorizations, requests, outcomes, strict=True)
        ]

    async def _answer(
        self,
        authorization: Authorization,
        request: ExchangeRequest,
        outcome: ExchangeResult | Refusal,
    ) -> SourceAnswer:
        service = await self._cache.service(authorization.service, None)
        name = service.name if service else authorization.service
        if isinstance(outcome, Refusal):
            return SourceAnswer(
                authorization.service,
                name,
                authorization,
                refusal=outcome,
                request_id=request.request_id,
                service_name_translations=service.name_translations if service else {},
            )
        answer = next((a for a in outcome.answers if a.error is None), outcome.answers[0])
        provider = await self._cache.institution(answer.provider)
        return SourceAnswer(
            authorization.service,
            name,
            authorization,
            answer.provider,
            provider.name if provider else None,
            answer.data,
            answer.error,
            outcome.request_id,
            service.name_translations if service else {},
        )
