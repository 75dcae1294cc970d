"""The request a hub process is serving, so that every audit record written while serving it names
that request.

The hub answers each request with its id (`X-Request-Id`, and `request_id` in every error), and
an auditor must find that id in the log: a caller's complaint, a refusal, a change to the
directory are looked up by it. Most use cases (the directory's changes, the statistics queries,
the declarations' refusals, the registry's changes) write their records far from the HTTP layer
that made the id, and threading it through each signature left some of them without it (found by
an outside review). So the HTTP layer sets it here for the duration of the request
(entrypoints/api/access_log.py), and the audit log stamps it on any record that names no request
of its own (adapters/sql/audit.py). A record that names one (an exchange, a refusal at the door,
a federated request under the peer's id) keeps its own.

A context variable, copied by asyncio into every task a request starts, so work the request
began (an initial synchronisation) is recorded under it too; work a process runs on its own
(pushes, the sequencer, the rights engine) started outside any request and names none.
"""

from __future__ import annotations

from contextvars import ContextVar

from ..domain.audit import AuditRecord

serving_request: ContextVar[str | None] = ContextVar("crossroads_serving_request", default=None)


def stamped_canonical(record: AuditRecord) -> bytes:
    """`record`'s canonical bytes naming the request being served, unless it names a request
    already. Encoded with the id rather than copied with it (`dataclasses.replace`): 2 µs against
    9 µs a record, and a publication or an acknowledgement writes one per mutation."""
    if record.request_id is None:
        request_id = serving_request.get()
        if request_id is not None:
            return record.canonical(request_id)
    return record.canonical()
