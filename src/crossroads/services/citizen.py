"""Who consulted my data: a citizen's own view of the audit log, each entry with its proof.

The entries are found through the keyed hash of the citizen's identifier (the index the audit
log keeps); the identifier itself is never stored. Each entry comes with its canonical bytes and
an inclusion proof against the latest signed tree head, so that the citizen's software can check,
with `crossroads.verifier` alone, that the hub shows them what it logged and nothing else.

Codes become the registry's names where it has them: services and mutation types by their name,
institutions and applications too. A change a source published about the person lists each
institution it was sent to, with the purpose and the authorization (and its legal basis) under
which that institution receives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.merkle import TreeHead
from .ports import MutationStore, TransparencyLog
from .registry_cache import RegistryCache
from .registry_checks import HOLDERS_NAME, HOLDERS_SERVICE
from .transparency import AuditProofs

MAX_PAGE = 200


@dataclass(frozen=True)
class Recipient:
    """An institution a published change was sent to, and under which authorization."""

    institution: str
    institution_name: str | None
    authorization: str | None
    purpose: str | None
    legal_basis: str | None
    legal_basis_translations: Mapping[str, str] = field(default_factory=dict)  # domain/wording.py


@dataclass(frozen=True)
class Consultation:
    """One logged event about the citizen, with the names a person can read."""

    seq: int
    record: AuditRecord
    entry: bytes  # the canonical bytes hashed into the tree
    institution_name: str | None
    application_name: str | None
    service_name: str | None  # the service's, or the mutation type's, name
    purpose: str | None  # as logged, or else the authorization's (a delivered change logs none)
    legal_basis: str | None
    recipients: tuple[Recipient, ...]  # for a published change: every institution it was sent to
    leaf_index: int | None  # None until the sequencer has placed it
    inclusion_path: list[bytes] | None  # None while the entry is not yet under a signed head
    # (or when the page was asked without proofs)
    under_head: bool = False  # the entry is in the tree of the latest signed head
    # The service's (mutation type's) name and the legal basis in other languages (wording.py).
    service_name_translations: Mapping[str, str] = field(default_factory=dict)
    legal_basis_translations: Mapping[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.record.outcome == "ok"

    @property
    def via(self) -> str | None:
        """The peer hub a member of another hub asked through (docs/federation.md), if any."""
        via = self.record.detail.get("via") if self.record.kind == "exchange" else None
        return via if isinstance(via, str) else None


@dataclass(frozen=True)
class HistoryPage:
    consultations: list[Consultation]
    tree_head: TreeHead | None
    cosignatures: list[dict[str, Any]]  # witnesses' countersignatures of tree_head
    next_before: int | None  # pass as `before` for the next (older) page; None: no older entries


class ConsultationHistory:
    def __init__(
        self,
        log_store: TransparencyLog,
        proofs: AuditProofs,
        registry: RegistryCache,
        mutation_types: MutationStore | None = None,
    ) -> None:
        """`mutation_types` names the changes published about the person (else: their codes)."""
        self._log = log_store
        self._proofs = proofs
        self._registry = registry
        self._mutation_types = mutation_types

    async def page(
        self,
        subject_key: bytes,
        *,
        limit: int = 50,
        before: int | None = None,
        kinds: frozenset[str] = frozenset({"exchange", "directory", "mutation"}),
        service_code: str | None = None,
        proofs: bool = True,
    ) -> HistoryPage:
        """The newest `limit` entries about the subject older than `before` (a seq), newest first,
        of the given kinds (and of one service code, all versions, when given).

        Without `proofs` (the HTML page, which sends the reader to the machine-readable list for
        them) no audit path is read: an entry under the head is marked as proved by its index alone
        (`Consultation.under_head`): the paths were 6% of the page's CPU in the profile.

        Entries are filtered as they are read, so a page is full whenever that many match.
        Proofs are against the latest signed head; entries logged after it are listed without a
        proof (they get one once the next head is signed, within `tree_head_every_seconds`).
        """
        limit = max(1, min(limit, MAX_PAGE))
        head = await self._log.latest_head()
        records: list[tuple[int, int | None, bytes, AuditRecord]] = []
        cursor = before
        while len(records) <= limit:
            rows = await self._log.about_subject(subject_key, cursor, limit + 1)
            for seq, index, raw in rows:
                record = AuditRecord.from_canonical(raw)
                if _shown(record, kinds) and (
                    service_code is None or (record.service or "").split("/")[0] == service_code
                ):
                    records.append((seq, index, raw, record))
            if len(rows) <= limit:
                break  # the subject has no older entries
            cursor = rows[-1][0]
        more = len(records) > limit
        records = records[:limit]
        size = head.tree_size if head else 0
        paths = (
            await self._proofs.inclusions(
                [index for _, index, _, _ in records if index is not None], size
            )
            if size and proofs
            else {}
        )
        consultations = [
            Consultation(
                seq=seq,
                record=record,
                entry=raw,
                **await self._names(record),
                leaf_index=index,
                inclusion_path=paths.get(index) if index is not None else None,
                under_head=index is not None and index < size,
            )
            for seq, index, raw, record in records
        ]
        cosigned = await self._proofs.cosignatures(head.tree_size) if head else []
        return HistoryPage(consultations, head, cosigned, records[-1][0] if more else None)

    async def _names(self, record: AuditRecord) -> dict[str, Any]:
        """The registry's names for the codes an entry logged. A name may have gone from the
        registry since; the entry is still listed, with its codes."""
        registry = self._registry
        application = (
            await registry.application(record.consumer, record.application)
            if record.consumer and record.application
            else None
        )
        authorization = (
            await registry.authorization(record.authorization) if record.authorization else None
        )
        service_name, service_name_translations = await self._service_name(record)
        return {
            "institution_name": await self._institution_name(record.consumer),
            "application_name": application.name if application else None,
            "service_name": service_name,
            "service_name_translations": service_name_translations,
            "purpose": record.purpose or (authorization.purpose if authorization else None),
            "legal_basis": authorization.legal_basis if authorization else None,
            "legal_basis_translations": (
                authorization.legal_basis_translations if authorization else {}
            ),
            "recipients": await self._recipients(record),
        }

    async def _institution_name(self, number: str | None) -> str | None:
        institution = await self._registry.institution(number) if number else None
        return institution.name if institution else None

    async def _service_name(self, record: AuditRecord) -> tuple[str | None, Mapping[str, str]]:
        """The name, and its wordings in other languages (domain/wording.py)."""
        if record.kind == "directory" and record.action in _DIRECTORY_CHANGES:
            return (
                f"{_DIRECTORY_CHANGES[record.action]} ({record.target})" if record.target else None
            ), {}
        if not record.service:
            return None, {}
        code, _, version = record.service.partition("/")
        if code == HOLDERS_SERVICE:
            return HOLDERS_NAME, {}
        if record.kind == "mutation":
            if self._mutation_types is None:
                return None, {}
            kind = await self._mutation_types.get_type(code, version or None)
            return (kind.name, kind.name_translations) if kind else (None, {})
        service = await self._registry.service(code, version or None)
        return (service.name, service.name_translations) if service else (None, {})

    async def _recipients(self, record: AuditRecord) -> tuple[Recipient, ...]:
        """Who a published change was sent to: each institution with the authorization it
        receives the change under (`sent_to`); entries logged before that was recorded name the
        institutions only (`recipients`)."""
        if record.action != "mutation.publish":
            return ()
        sent = record.detail.get("sent_to")
        if not isinstance(sent, list):
            sent = [{"institution": number} for number in record.detail.get("recipients", [])]
        found = []
        for item in sent:
            reference = item.get("authorization")
            authorization = await self._registry.authorization(reference) if reference else None
            found.append(
                Recipient(
                    item["institution"],
                    await self._institution_name(item["institution"]),
                    reference,
                    authorization.purpose if authorization else None,
                    authorization.legal_basis if authorization else None,
                    authorization.legal_basis_translations if authorization else {},
                )
            )
        return tuple(found)


# A directory change about the person, as they read it (its capacity follows in brackets).
_DIRECTORY_CHANGES = {
    "directory.integrate": "Reference directory: holds a file on you",
    "directory.end": "Reference directory: ended its file on you",
    "directory.remove": "Reference directory: removed its file on you",
}

# Of the mutation records about a person, the citizen is shown what a source published and who
# received it; attempts that failed and replays concern the hub's plumbing, not their data's use.
_MUTATION_ACTIONS_SHOWN = frozenset({"mutation.publish", "mutation.deliver"})


def _shown(record: AuditRecord, kinds: frozenset[str]) -> bool:
    return record.kind in kinds and (
        record.kind != "mutation" or record.action in _MUTATION_ACTIONS_SHOWN
    )
