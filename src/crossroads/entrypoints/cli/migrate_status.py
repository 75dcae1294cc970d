"""`crossroads migrate --status`: the store's schema version, what this hub would apply, and
whether this hub may run on the store at all, with an exit status a deployment script can test
(0 current, 1 migrations pending, 3 the store is newer than this hub)."""

from __future__ import annotations

from rich.console import Console

from ...adapters.sql.schema_status import read_schema_status
from ...config import Settings

CURRENT, PENDING, AHEAD = 0, 1, 3


def report(settings: Settings, out: Console) -> int:
    status = read_schema_status(settings.store_url)
    if not status.exists:
        out.print(
            f"no schema yet: `crossroads migrate` would apply all {len(status.known)} migrations "
            f"(up to version {status.newest})"
        )
        return PENDING
    out.print(f"store schema version {status.version}; this hub knows up to {status.newest}")
    for version, name in status.applied[-3:]:
        out.print(f"  applied  {version:04d} {name}")
    if status.ahead:
        out.print(
            "the store was migrated by a newer hub: this version refuses to start on it "
            "(upgrade it); "
            "processes of this version already running keep running"
        )
        return AHEAD
    for version, name in status.pending:
        out.print(f"  pending  {version:04d} {name}")
    if status.pending:
        out.print("run `crossroads migrate` (or start a hub of this version, which migrates)")
        return PENDING
    out.print("current: nothing to apply")
    return CURRENT
