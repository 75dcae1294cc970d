"""Who consulted my data: a citizen's own view of the audit log, each entry with its proof.

The entries are found through the keyed hash of the citizen's identifier (the index the audit
log keeps); the identifier itself is never stored. Each entry comes with its canonical bytes and
an inclusion proof against the latest signed tree head, so that the citizen's software can check,
with `crossroads.verifier` alone, that the hub shows them what it logged and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.audit import AuditRecord
from ..domain.merkle import TreeHead
from .ports import TransparencyLog
from .registry_cache import RegistryCache
from .transparency import AuditProofs

MAX_PAGE = 200


@dataclass(frozen=True)
class Consultation:
    """One logged event about the citizen, with the names a person can read."""

    seq: int
    record: AuditRecord
    entry: bytes  # the canonical bytes hashed into the tree
    institution_name: str | None
    application_name: str | None
    service_name: str | None
    legal_basis: str | None
    leaf_index: int | None  # None until the sequencer has placed it
    inclusion_path: list[bytes] | None  # None while the entry is not yet under a signed head

    @property
    def allowed(self) -> bool:
        return self.record.outcome == "ok"


@dataclass(frozen=True)
class HistoryPage:
    consultations: list[Consultation]
    tree_head: TreeHead | None
    cosignatures: list[dict]  # witnesses' countersignatures of tree_head
    next_before: int | None  # pass as `before` for the next (older) page; None: no older entries


class ConsultationHistory:
    def __init__(self, log_store: TransparencyLog, proofs: AuditProofs, registry: RegistryCache) -> None:
        self._log = log_store
        self._proofs = proofs
        self._registry = registry

    async def page(self, subject_key: bytes, *, limit: int = 50, before: int | None = None,
                   kinds: frozenset[str] = frozenset({"exchange", "directory", "mutation"}),
                   service_code: str | None = None) -> HistoryPage:
        """The newest `limit` entries about the subject older than `before` (a seq), newest first,
        of the given kinds (and of one service code, all versions, when given).

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
                if _shown(record, kinds) and (service_code is None or (record.service or "").split("/")[0] == service_code):
                    records.append((seq, index, raw, record))
            if len(rows) <= limit:
                break  # the subject has no older entries
            cursor = rows[-1][0]
        more = len(records) > limit
        records = records[:limit]
        size = head.tree_size if head else 0
        paths = await self._proofs.inclusions([index for _, index, _, _ in records if index is not None], size) if size else {}
        consultations = [
            Consultation(
                seq=seq, record=record, entry=raw, **await self._names(record),
                leaf_index=index, inclusion_path=paths.get(index) if index is not None else None,
            )
            for seq, index, raw, record in records
        ]
        cosigned = await self._proofs.cosignatures(head.tree_size) if head else []
        return HistoryPage(consultations, head, cosigned, records[-1][0] if more else None)

    async def _names(self, record: AuditRecord) -> dict[str, str | None]:
        """The registry's names for the codes an entry logged. A name may have gone from the
        registry since; the entry is still listed, with its codes."""
        registry = self._registry
        institution = await registry.institution(record.consumer) if record.consumer else None
        application = (await registry.application(record.consumer, record.application)
                       if record.consumer and record.application else None)
        service = None
        if record.service:
            code, _, version = record.service.partition("/")
            service = await registry.service(code, version or None)
        authorization = await registry.authorization(record.authorization) if record.authorization else None
        return {"institution_name": institution.name if institution else None,
                "application_name": application.name if application else None,
                "service_name": service.name if service else None,
                "legal_basis": authorization.legal_basis if authorization else None}


# Of the mutation records about a person, the citizen is shown what a source published and who
# received it; attempts that failed and replays concern the hub's plumbing, not their data's use.
_MUTATION_ACTIONS_SHOWN = frozenset({"mutation.publish", "mutation.deliver"})


def _shown(record: AuditRecord, kinds: frozenset[str]) -> bool:
    return record.kind in kinds and (record.kind != "mutation" or record.action in _MUTATION_ACTIONS_SHOWN)
