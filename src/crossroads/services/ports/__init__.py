"""Ports: what the use cases need from the outside world, as abstract classes, one module per
concept (registry, directory, audit, mutations, push queue, declarations, calls, store).

Adapters implement them (SQLite, PostgreSQL, aiohttp, joserfc keys, NATS JetStream); the service
tests use the in-memory fakes in `tests/fakes/`, which pass the same contract suites as the
adapters. Every storage method is async so that one contract serves an embedded store that
answers in microseconds and a networked one.

Every port is re-exported here, so that `from crossroads.services.ports import X` names any of
them wherever it is defined.
"""

from .arrivals import ArrivalBells
from .audit import (
    AuditLog,
    HeadTarget,
    HistoryMismatch,
    KeyHistorySource,
    Prove,
    TransparencyLog,
    WitnessLedger,
)
from .browser_sessions import BrowserSessionStore
from .calls import ProviderClient, ProviderReply, ReplayGuard, SeenRequests, Signer
from .conditional import ChangedMeanwhile, Expected
from .data_reports import DataReportStore
from .declarations import (
    BatchFailed,
    BatchWorker,
    DeclarationStore,
    OfficialForms,
    WorkerLost,
)
from .directory import DirectoryRepository, IntegrationChange
from .federation import FederationConfig, FederationJose, PeerDocuments
from .identifier_links import IdentifierLinkStore
from .mutations import Delivery, MutationStore, PushHead
from .operators import OperatorRepository
from .push_queue import PushQueue
from .registry import RegistryRepository
from .rights import (
    CompetenceRepository,
    Extract,
    ExtractSource,
    Population,
    Publication,
    RightsRepository,
    Rules,
)
from .statistics import (
    Coded,
    Columns,
    Noise,
    Noisy,
    OpenData,
    Position,
    PrivacyBudgets,
    SourceBatch,
    StatisticsSource,
    Warehouse,
)
from .store import Lease, Store, StoreUnavailable

__all__ = [
    "ArrivalBells",
    "AuditLog",
    "BatchFailed",
    "BatchWorker",
    "BrowserSessionStore",
    "ChangedMeanwhile",
    "Coded",
    "Columns",
    "CompetenceRepository",
    "DataReportStore",
    "DeclarationStore",
    "Delivery",
    "DirectoryRepository",
    "Expected",
    "Extract",
    "ExtractSource",
    "FederationConfig",
    "FederationJose",
    "HeadTarget",
    "HistoryMismatch",
    "IdentifierLinkStore",
    "IntegrationChange",
    "KeyHistorySource",
    "Lease",
    "MutationStore",
    "Noise",
    "Noisy",
    "OfficialForms",
    "OpenData",
    "OperatorRepository",
    "PeerDocuments",
    "Population",
    "Position",
    "PrivacyBudgets",
    "Prove",
    "ProviderClient",
    "ProviderReply",
    "Publication",
    "PushHead",
    "PushQueue",
    "RegistryRepository",
    "ReplayGuard",
    "RightsRepository",
    "Rules",
    "SeenRequests",
    "Signer",
    "SourceBatch",
    "StatisticsSource",
    "Store",
    "StoreUnavailable",
    "TransparencyLog",
    "Warehouse",
    "WitnessLedger",
    "WorkerLost",
]
