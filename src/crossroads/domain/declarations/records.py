"""What the declarations service keeps of each declaration and batch file it received."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .anomalies import Anomaly

DIMONA, DMFA, SOCIAL_RISK = "dimona", "dmfa", "social-risk"


@dataclass(frozen=True)
class Mandate:
    """A payroll office may declare for an employer over a period (valid_to None: open-ended)."""

    office: str
    employer: str
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True)
class Declaration:
    id: int | None  # None until stored
    kind: str  # dimona | dmfa | social-risk
    form: str  # DimonaIn…, DmfAOriginal, or the social-risk scenario
    employer: str | None
    declarant: str  # client id of the application that sent it
    status: str  # A, W, B or S
    anomalies: list[Anomaly]
    language: str
    received_at_ms: int
    batch_id: int | None = None
    period_id: int | None = None
    inss: str | None = None
    summary: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    id: int
    declarant: str
    kind: str
    sha256: str
    content_type: str
    language: str
    status: str  # S while waiting or being processed, then A, W or B
    received_at_ms: int
    done_at_ms: int | None = None
    acknowledgement: dict | None = None
    attempts: int = 0  # times a worker started on it
    size_bytes: int = 0


@dataclass(frozen=True)
class QueueShare:
    """What one institution has waiting in the batch queue: files and their bytes."""

    files: int
    bytes: int


@dataclass(frozen=True)
class PendingEvent:
    seq: int
    mutation_id: str
    mutation_type: str
    subject: str
    effective_date: str
    payload: dict
