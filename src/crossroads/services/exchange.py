"""The exchange: one request about one subject, for one purpose, under one authorization.

`ExchangeService.handle` runs the exchange's steps in order (docs/concepts.md, "The exchange"):
check the identifier, choose the authorization, check the reference directory, ask the provider,
check and minimise its answer. Authentication happens before, in the entrypoint, which hands over
the authenticated `Caller`. Every outcome, answer or refusal, is
appended to the audit log before `handle` returns, so nothing leaves the hub unlogged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from ..domain.audit import AuditRecord
from ..domain.callers import Caller
from ..domain.directory import Integration, check_access
from ..domain.errors import Refusal
from ..domain.identifier_links import IDENTIFIERS_SERVICE
from ..domain.identifiers import IdentifierScheme
from ..domain.minimisation import minimise, path_tree
from ..domain.own_access import check_own_access
from ..domain.periods import Period
from ..domain.registry import (
    HUB_MEMBER,
    HUB_MEMBER_CLASS,
    Authorization,
    Institution,
    Service,
    check_code,
    choose_authorization,
)
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .deferred_audit import DeferredAudit
from .identifier_links import IdentifierLinks
from .ports import (
    AuditLog,
    DirectoryRepository,
    ProviderClient,
    RegistryRepository,
    Signer,
    StoreUnavailable,
)
from .registry_cache import RegistryCache
from .registry_checks import HOLDERS_SERVICE
from .schema_check import first_error
from .signed_call import ask_signed


@dataclass(frozen=True)
class ExchangeRequest:
    caller: Caller
    service: str
    subject: object
    purpose: object
    period: Period | None = None  # None: today
    version: str | None = None
    authorization: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    request_id: str | None = None  # the hub's own; one is made when None
    client_request_id: str | None = None  # the caller's own id for the request, if it sent one
    # The capacity the caller says it asks in: the directory check then requires that one, which
    # the authorization must name; None: any capacity the authorization names.
    capacity: str | None = None
    # The member the caller addressed, as (member class, member code): an X-Road address names
    # the provider, and the service must be offered by it (`Service.offered_by`); None: whoever
    # provides it.
    provider: tuple[str, str] | None = None
    # Asked by a member of a peer hub (its instance), through that hub: the peer checked its own
    # directory and states the capacities in which it holds the person for its member.
    via: str | None = None
    attested_capacities: tuple[str, ...] = ()


@dataclass
class _Attempt:
    """One exchange of `handle_together`, run, its record not yet appended."""

    request: ExchangeRequest
    request_id: str
    started: float
    trace: dict[str, Any] = field(default_factory=dict)
    outcome: ExchangeResult | Refusal | None = None  # a StoreUnavailable is a Refusal too


@dataclass(frozen=True)
class ProviderAnswer:
    provider: str
    data: object | None = None
    error: Refusal | None = None


@dataclass(frozen=True)
class ExchangeResult:
    request_id: str
    service: str
    version: str
    subject: str
    authorization: Authorization
    period: Period
    answers: list[ProviderAnswer]


class ExchangeService:
    def __init__(
        self,
        registry: RegistryRepository,
        directory: DirectoryRepository,
        audit: AuditLog,
        providers: ProviderClient,
        signer: Signer,
        clock: Clock,
        scheme: IdentifierScheme,
        hasher: SubjectHasher,
        cache: RegistryCache,
        deferred: DeferredAudit,
        peer_of: Callable[[str], str | None] = lambda number: None,
        links: IdentifierLinks | None = None,
    ) -> None:
        """`deferred` keeps the records of exchanges answered `not_ready` during an outage of
        the store, until it is back. `peer_of` names the peer hub (its instance) that an
        institution of the registry stands for, when it is one (services/federation.py);
        `links` the identifier links with peers that keep another scheme (None: not federated)."""
        self._registry = registry
        self._directory = directory
        self._audit = audit
        self._providers = providers
        self._signer = signer
        self._clock = clock
        self._scheme = scheme
        self._hasher = hasher
        self._cache = cache
        self._deferred = deferred
        self._peer_of = peer_of
        self._links = links

    async def handle(self, request: ExchangeRequest) -> ExchangeResult:
        return await self._audited(request, self._exchange)

    async def sources_of(self, service_code: str, subject: str) -> list[str]:
        """The authentic sources that hold the service's data about the person today: those an
        exchange would ask (a report of wrong data goes to them)."""
        service = await self._cache.service(service_code, None)
        if service is None:
            raise Refusal("unknown_service", f"no service {service_code!r} is registered.")
        key = self._hasher.key(self._scheme.normalise_person(subject, "subject"))
        found = await self._resolve(service, key, Period.day(self._clock.today()))
        return [f.provider if isinstance(f, ProviderAnswer) else f.enterprise_number for f in found]

    async def identifier_link(self, request: ExchangeRequest) -> ExchangeResult:
        """The identifier a peer hub (`parameters["peer"]`) knows the subject by: the built-in
        service `federation.identifiers`, authorized and audited as any exchange."""
        return await self._audited(request, self._identifier)

    async def holders(self, request: ExchangeRequest) -> ExchangeResult:
        """Who holds a file on the subject: the built-in service `directory.holders`."""
        return await self._audited(request, self._holders)

    async def handle_together(
        self, requests: Sequence[ExchangeRequest]
    ) -> list[ExchangeResult | Refusal]:
        """Several exchanges at once (`directory.holders` as `holders` runs it), each audited as
        `handle` audits it, but their records appended in one commit before any answer is
        returned: one disk flush, not one for each exchange that ends while the previous flush
        runs. A refusal comes back in its request's place (audited); an outage of the store
        raises, and every record is then kept until the store is back, as `not_ready`."""
        return await self._together(requests, own=False)

    async def own_data_together(
        self, requests: Sequence[ExchangeRequest]
    ) -> list[ExchangeResult | Refusal]:
        """Several look-ups of a person's own data (domain/own_access.py), appended together as
        `handle_together` appends exchanges: the subject is whom the identity provider vouched
        for, so the directory is not asked; the authorization must be one for own access. Each
        has its own request id, outcome and audit record. Only the citizen's signed-in pages
        call this."""
        return await self._together(requests, own=True)

    async def _together(
        self, requests: Sequence[ExchangeRequest], own: bool
    ) -> list[ExchangeResult | Refusal]:
        self._audit.announce()  # one append_many for them all, or none
        try:
            attempts = await asyncio.gather(*(self._attempt(request, own) for request in requests))
        except BaseException:
            self._audit.withdraw()
            raise
        outages = [a.outcome for a in attempts if isinstance(a.outcome, StoreUnavailable)]
        outage = outages[0] if outages else None
        if outage is None:
            try:
                await self._audit.append_many(
                    [self._record_of(a, None) for a in attempts], announced=True
                )
            except StoreUnavailable as failed:
                outage = failed
        else:
            self._audit.withdraw()
        if isinstance(outage, StoreUnavailable):
            for attempt in attempts:
                self._deferred.defer(self._record_of(attempt, outage.code))
            outage.mark_audited()
            raise outage
        results: list[ExchangeResult | Refusal] = []
        for attempt in attempts:
            if isinstance(attempt.outcome, Refusal):
                attempt.outcome.mark_audited()
            assert attempt.outcome is not None  # each attempt ends with one
            results.append(attempt.outcome)
        return results

    def _record_of(self, attempt: _Attempt, outage: str | None) -> AuditRecord:
        """An attempt's record: its own outcome, or the outage's code when the caller is told
        that instead."""
        outcome = attempt.outcome
        code = outage or (outcome.code if isinstance(outcome, Refusal) else "ok")
        return self._record(
            attempt.request, attempt.request_id, attempt.trace, code, attempt.started
        )

    async def _attempt(self, request: ExchangeRequest, own: bool) -> _Attempt:
        run: Callable[[ExchangeRequest, str, dict[str, Any]], Awaitable[ExchangeResult]]
        if own:  # a look-up of one's own data, whatever the service
            run = partial(self._exchange, own=True)
        elif request.service == HOLDERS_SERVICE:
            run = self._holders
        else:
            run = self._exchange
        attempt = _Attempt(request, request.request_id or str(uuid.uuid4()), time.perf_counter())
        try:
            attempt.outcome = await run(request, attempt.request_id, attempt.trace)
        except (StoreUnavailable, Refusal) as failure:
            attempt.outcome = failure
        return attempt

    async def _audited(
        self,
        request: ExchangeRequest,
        run: Callable[[ExchangeRequest, str, dict[str, Any]], Awaitable[ExchangeResult]],
    ) -> ExchangeResult:
        started = time.perf_counter()
        request_id = request.request_id or str(uuid.uuid4())
        trace: dict[str, Any] = {}
        # The log's next commit may wait for this exchange's record rather than go without it.
        self._audit.announce()
        try:
            result = await run(request, request_id, trace)
        except StoreUnavailable as outage:
            self._audit.withdraw()
            self._deferred.defer(self._record(request, request_id, trace, outage.code, started))
            outage.mark_audited()
            raise
        except Refusal as refusal:
            await self._append(request, request_id, trace, refusal, started)
            refusal.mark_audited()
            raise  # the refusal itself, its cause and traceback kept
        except BaseException:  # cancelled, or a fault: no record comes from here
            self._audit.withdraw()
            raise
        await self._append(request, request_id, trace, None, started)
        return result

    async def _append(
        self,
        request: ExchangeRequest,
        request_id: str,
        trace: dict[str, Any],
        refusal: Refusal | None,
        started: float,
    ) -> None:
        """Append the outcome's record (`refusal`, or "ok" when None), the append `_audited`
        announced. When the store is out, the caller is told `not_ready` instead, and that is
        what the log records, once the store is back (DeferredAudit): never an answer that the
        log does not hold."""
        outcome = refusal.code if refusal is not None else "ok"
        try:
            await self._audit.append(
                self._record(request, request_id, trace, outcome, started), announced=True
            )
        except StoreUnavailable as outage:
            self._deferred.defer(self._record(request, request_id, trace, outage.code, started))
            outage.mark_audited()
            raise

    def _record(
        self,
        request: ExchangeRequest,
        request_id: str,
        trace: dict[str, Any],
        outcome: str,
        started: float,
    ) -> AuditRecord:
        return AuditRecord(
            kind="exchange",
            at_ms=self._clock.now_ms(),
            outcome=outcome,
            request_id=request_id,
            client_request_id=request.client_request_id,
            consumer=request.caller.institution,
            application=request.caller.application,
            user_id=request.user_id,
            service=trace.get("service", _printable(request.service)),
            purpose=_printable(request.purpose),
            authorization=trace.get("authorization"),
            subject_hash=trace.get("subject_hash"),
            providers=tuple(trace.get("providers", ())),
            latency_us=int((time.perf_counter() - started) * 1_000_000),
            detail=_crossing(request, trace),
        )

    async def _prepare(
        self, request: ExchangeRequest, trace: dict[str, Any], own: bool = False
    ) -> tuple[str, bytes, Authorization, Period]:
        """Steps 2-4: identifier, authorization, directory (for a person's own look-up, `own`:
        the authorization's kind instead). Returns subject, key, authorization, period."""
        consumer = request.caller.institution
        if consumer is None:
            raise Refusal(
                "forbidden",
                "exchanges are made by applications of member institutions, not by the operator.",
            )
        subject = self._scheme.normalise_person(request.subject, "subject")
        key = self._hasher.key(subject)
        trace["subject_hash"] = key.hex()
        if not isinstance(request.purpose, str):
            raise Refusal("malformed_request", "purpose is a purpose code.", "purpose")
        check_code(request.purpose, "purpose")
        today = self._clock.today()
        period = request.period or Period.day(today)
        candidates = await self._cache.authorizations(
            consumer, trace["service_code"], request.purpose
        )
        authorization = choose_authorization(candidates, today, request.authorization, period)
        trace["authorization"] = authorization.reference
        if own:
            check_own_access(authorization)
            return subject, key, authorization, period
        if request.via is not None:
            _check_attested(request, authorization)
            return subject, key, authorization, period
        required = _required_capacities(authorization, request.capacity)
        held = await self._directory.held_by(key, consumer)
        granted = (await self._cache.integration_rights()).get(consumer, frozenset())
        trace["capacities"] = sorted(
            {i.capacity for i in held if i.capacity in granted} & set(required)
        )
        check_access(
            held,
            consumer,
            required,
            period,
            granted,
            authorization.accepts_provisional,
        )
        return subject, key, authorization, period

    async def _exchange(
        self, request: ExchangeRequest, request_id: str, trace: dict[str, Any], own: bool = False
    ) -> ExchangeResult:
        service = await self._service(request, trace)
        subject, key, authorization, period = await self._prepare(request, trace, own)
        self._validate(service, "request", request.parameters, "parameters")
        providers = await self._resolve(service, key, period)
        trace["providers"] = [
            p.provider if isinstance(p, ProviderAnswer) else p.enterprise_number for p in providers
        ]
        peers = sorted(filter(None, map(self._peer_of, trace["providers"])))
        if peers:
            trace["peers"] = peers
        crossing = {"capacities": trace.get("capacities", [])} if peers else {}
        sent = await self._crossing_subjects(request, subject, period, trace) if peers else {}
        payload = {
            "request_id": request_id,
            "service": service.code,
            "version": service.version,
            "subject": subject,
            "purpose": request.purpose,
            "authorization": authorization.reference,
            "legal_basis": authorization.legal_basis,
            "consumer": request.caller.institution,
            "user_id": request.user_id,
            "period": period.as_dict(),
            "parameters": request.parameters,
            **crossing,
        }
        body = orjson.dumps(payload)
        asks = [
            self._ask(p, service, _body_for(p, body, payload, sent), request_id) for p in providers
        ]
        # A fixed source (most services) is awaited as it is: gather would wrap it in a task of
        # its own, about 10 µs of the loop's CPU a look-up for no concurrency.
        replies = [await asks[0]] if len(asks) == 1 else await asyncio.gather(*asks)
        if all(r.error is not None for r in replies):
            raise replies[0].error  # type: ignore[misc]
        tree = path_tree(authorization.allowed_fields)
        answers = [
            r if r.error else ProviderAnswer(r.provider, minimise(r.data, tree)) for r in replies
        ]
        return ExchangeResult(
            request_id, service.code, service.version, subject, authorization, period, answers
        )

    async def _crossing_subjects(
        self, request: ExchangeRequest, subject: str, period: Period, trace: dict[str, Any]
    ) -> dict[str, str]:
        """provider number -> the identifier sent to it, for each peer provider whose hub keeps
        another scheme: the link's, which the member must be authorized to use (an authorization
        for `federation.identifiers`, same purpose, valid for the period). The links used are
        named in the audit record (`detail.identifiers`)."""
        if self._links is None:
            return {}
        sent: dict[str, str] = {}
        for number in trace["providers"]:
            peer = self._peer_of(number)
            if peer is None or not self._links.mapped(peer):
                continue
            authorization = await self._link_authorization(request, peer, period)
            link = await self._links.remote_of(peer, subject)
            sent[number] = link.remote
            trace.setdefault("identifiers", {})[peer] = {
                "authority": link.authority,
                "authorization": authorization.reference,
            }
        return sent

    async def _link_authorization(
        self, request: ExchangeRequest, peer: str, period: Period
    ) -> Authorization:
        assert isinstance(request.purpose, str)  # checked by _prepare
        candidates = await self._cache.authorizations(
            request.caller.institution or "", IDENTIFIERS_SERVICE, request.purpose
        )
        if not candidates:
            raise Refusal(
                "no_authorization",
                f"hub {peer} knows persons by another identifier; institution "
                f"{request.caller.institution} holds no authorization for {IDENTIFIERS_SERVICE} "
                f"for purpose {request.purpose}, which the crossing needs.",
                "subject",
            )
        return choose_authorization(candidates, self._clock.today(), None, period)

    async def _identifier(
        self, request: ExchangeRequest, request_id: str, trace: dict[str, Any]
    ) -> ExchangeResult:
        trace["service"] = trace["service_code"] = IDENTIFIERS_SERVICE
        subject, _key, authorization, period = await self._prepare(request, trace)
        peer = request.parameters.get("peer")
        if self._links is None or not isinstance(peer, str):
            raise Refusal("unknown_peer", "this hub has no peer hub by that name.", "peer")
        link = await self._links.remote_of(peer, subject)
        trace["identifiers"] = {peer: {"authority": link.authority}}
        data = minimise(link.answer(), path_tree(authorization.allowed_fields))
        return ExchangeResult(
            request_id,
            IDENTIFIERS_SERVICE,
            "1",
            subject,
            authorization,
            period,
            [ProviderAnswer("hub", data)],
        )

    async def _holders(
        self, request: ExchangeRequest, request_id: str, trace: dict[str, Any]
    ) -> ExchangeResult:
        trace["service"] = trace["service_code"] = HOLDERS_SERVICE
        subject, key, authorization, period = await self._prepare(request, trace)
        found = [i for i in await self._directory.holders(key) if i.period.overlaps(period)]
        rows = [_holder_json(i) for i in found]
        data = minimise(
            {"holders": rows}, path_tree(f"holders.{f}" for f in authorization.allowed_fields)
        )
        return ExchangeResult(
            request_id,
            HOLDERS_SERVICE,
            "1",
            subject,
            authorization,
            period,
            [ProviderAnswer("hub", data)],
        )

    async def _service(self, request: ExchangeRequest, trace: dict[str, Any]) -> Service:
        code = request.service
        trace["service_code"] = code
        service = await self._cache.service(code, request.version)
        if service is None:
            version = f" version {request.version}" if request.version else ""
            raise Refusal(
                "unknown_service", f"no service {code!r}{version} is registered.", "service"
            )
        trace["service"] = f"{service.code}/{service.version}"
        if request.provider is not None:
            await self._check_address(service, *request.provider)
        return service

    async def _check_address(self, service: Service, member_class: str, member: str) -> None:
        if service.provider is None:
            offered = (HUB_MEMBER_CLASS, HUB_MEMBER)
        else:
            institution = await self._cache.institution(service.provider)
            offered = (institution.member_class if institution else "", service.provider)
        if (member_class, member) != offered:
            raise Refusal(
                "unknown_service",
                f"{member_class}/{member} does not offer {service.code!r}; "
                f"{offered[0]}/{offered[1]} does.",
                "service",
            )

    async def _resolve(
        self, service: Service, key: bytes, period: Period
    ) -> list[Institution | ProviderAnswer]:
        """Step 5: the fixed authentic source, or every registered provider of the routed service
        that the directory names for this person and period.

        A holder of the routed capacity that the registry does not list as a provider of this
        service, or whose right to integrate in that capacity was withdrawn, is never sent the
        request. A provider without an address is answered for by an error of its own
        (ProviderAnswer), so that it does not refuse the others' answers.
        """
        if service.provider is not None:
            numbers = [service.provider]
        else:
            holders: list[Integration] = await self._directory.holders(key, service.routed_capacity)
            registered = await self._cache.routed_providers(service.code)
            rights = await self._cache.integration_rights()
            numbers = sorted(
                {
                    i.institution
                    for i in holders
                    if i.period.overlaps(period)
                    and i.institution in registered
                    and i.capacity in rights.get(i.institution, ())
                }
            )
            if not numbers:
                raise Refusal(
                    "no_provider",
                    f"no registered provider of {service.code} holds this person as "
                    f"{service.routed_capacity} for the period asked about.",
                    "subject",
                )
        found: list[Institution | ProviderAnswer] = []
        for number in numbers:
            institution = await self._cache.institution(number)
            if institution is None or not institution.base_url:
                found.append(
                    ProviderAnswer(
                        number,
                        error=Refusal(
                            "provider_unavailable", f"provider {number} has no registered address."
                        ),
                    )
                )
            else:
                found.append(institution)
        return found

    async def _ask(
        self, provider: Institution | ProviderAnswer, service: Service, body: bytes, request_id: str
    ) -> ProviderAnswer:
        """Steps 6-7: forward signed, then check the answer against the response schema."""
        if isinstance(provider, ProviderAnswer):  # refused before any call (no address)
            return provider
        url = provider.base_url.rstrip("/") + service.endpoint_path  # type: ignore[union-attr]
        try:
            data = await ask_signed(
                self._providers,
                self._signer,
                self._clock,
                url,
                body,
                request_id,
                f"provider {provider.enterprise_number}",
            )
            self._validate(service, "response", data, None, provider.enterprise_number)
            return ProviderAnswer(provider.enterprise_number, data)
        except Refusal as refusal:
            return ProviderAnswer(provider.enterprise_number, error=refusal)

    def _validate(
        self,
        service: Service,
        which: str,
        data: object,
        field_name: str | None,
        provider: str | None = None,
    ) -> None:
        schema = service.request_schema if which == "request" else service.response_schema
        # A provider's answer is quoted to no one: the consumer sees only what it may.
        error = first_error(schema, data, quote=which == "request")
        if error is None:
            return
        path, message = error
        if which == "request":
            name = ".".join([field_name or "", *map(str, path)]) if path else field_name
            raise Refusal("malformed_request", f"{name}: {message}", name)
        where = "/".join(map(str, path))
        raise Refusal(
            "invalid_provider_response",
            f"provider {provider}'s answer does not match the response schema at /{where}: "
            f"{message}",
        )


def _required_capacities(authorization: Authorization, capacity: str | None) -> tuple[str, ...]:
    """The capacities the directory check accepts: the authorization's, or the one the caller
    names, which the authorization must name too."""
    if capacity is None:
        return authorization.required_capacities
    if capacity not in authorization.required_capacities:
        raise Refusal(
            "capacity_mismatch",
            f"authorization {authorization.reference} names the capacities "
            f"{', '.join(authorization.required_capacities) or 'none'}, not {capacity[:64]!r}.",
            "capacity",
        )
    return (capacity,)


def _check_attested(request: ExchangeRequest, authorization: Authorization) -> None:
    """For a member of a peer hub: the capacities the peer's directory holds the person in, as
    it attests them, must include one this hub's authorization requires."""
    if not set(request.attested_capacities) & set(authorization.required_capacities):
        held = ", ".join(request.attested_capacities) or "no capacity"
        required = " or ".join(authorization.required_capacities)
        raise Refusal(
            "capacity_mismatch",
            f"hub {request.via} holds this person for institution {request.caller.institution} "
            f"as {held}; the authorization requires {required}.",
            "subject",
        )


def _crossing(request: ExchangeRequest, trace: dict[str, Any]) -> dict[str, Any]:
    """What the audit record says of a crossing between hubs: the peer the member came through,
    or the peers asked."""
    if request.via is not None:
        return {"via": request.via}
    crossing: dict[str, Any] = {}
    if "peers" in trace:
        crossing["peers"] = trace["peers"]
    if "identifiers" in trace:
        crossing["identifiers"] = trace["identifiers"]
    return crossing


def _body_for(
    provider: Institution | ProviderAnswer,
    body: bytes,
    payload: dict[str, Any],
    sent: dict[str, str],
) -> bytes:
    """The request body for `provider`: the shared one, or with the identifier its side knows
    the person by (a peer hub of another scheme)."""
    if not sent or isinstance(provider, ProviderAnswer) or provider.enterprise_number not in sent:
        return body
    return orjson.dumps({**payload, "subject": sent[provider.enterprise_number]})


def _holder_json(integration: Integration) -> dict[str, Any]:
    return {
        "institution": integration.institution,
        "capacity": integration.capacity,
        "phase": integration.phase.value,
        **integration.period.as_dict(),
    }


def _printable(value: object) -> str | None:
    """What the caller named, for the audit record, even when it was not a valid value."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:100]
