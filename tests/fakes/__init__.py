"""In-memory fakes of the ports (src/crossroads/services/ports/), for the service tests.

Each fake keeps its data in dicts and lists and applies the same domain rules as the SQL
adapters (domain.versions for the highest version, domain.directory.periods_after for the
periods), so that a use case behaves alike on either. They are not mocks: the storage contract
suites (tests/integration/test_store_contract.py, test_mutation_store.py,
test_declarations_transparency_contract.py) run against them as against SQLite and
PostgreSQL, so a fake that drifts from the contract fails there.
"""

from .audit import MemoryAuditLog
from .declarations import MemoryDeclarations
from .directory import MemoryDirectory
from .mutations import MemoryMutationStore
from .providers import MemoryProviders
from .registry import MemoryRegistry
from .store import MemoryReplayGuard, MemoryStore
from .transparency import MemoryTransparencyLog

__all__ = [
    "MemoryAuditLog",
    "MemoryDeclarations",
    "MemoryDirectory",
    "MemoryMutationStore",
    "MemoryProviders",
    "MemoryRegistry",
    "MemoryReplayGuard",
    "MemoryStore",
    "MemoryTransparencyLog",
]
