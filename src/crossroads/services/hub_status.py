"""The hub's own state, for /ready and /metrics: whether its store answers, whether this process
leads the sequencer, and what its background loops failed at or still have to do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..domain.errors import Refusal
from .declaration_events import DeclarationPublisher
from .head_publisher import HeadPublisher
from .ports import DeclarationStore
from .push import PushDispatcher
from .transparency import Sequencer


@dataclass(frozen=True)
class RunningState:
    """What this process's running parts hold, read without the store: whether it leads the
    sequencer, and the failures each part counted since the process started."""

    leading: bool
    publish_failures: int
    push_failures: int
    declaration_publish_failures: int


@dataclass(frozen=True)
class StatusGauges:
    leading: bool
    publish_failures: int
    push_failures: int
    declaration_batches_waiting: int
    declaration_events_pending: int
    declaration_publish_failures: int


class HubStatus:
    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        declarations: DeclarationStore,
        sequencer: Sequencer,
        publisher: HeadPublisher,
        push: PushDispatcher,
        declaration_publisher: DeclarationPublisher,
        *,
        ready_timeout: float = 2.0,
    ) -> None:
        self._ping = ping
        self._ready_timeout = ready_timeout
        self._pings: set[asyncio.Task[None]] = set()
        self._declarations = declarations
        self._sequencer = sequencer
        self._publisher = publisher
        self._push = push
        self._declaration_publisher = declaration_publisher

    async def ready(self) -> None:
        """Nothing when the store answers within `ready_timeout`; else `not_ready` (never
        audited: the log is there).

        The ping runs in a task of its own that is left to end by itself when late (the store's
        bounds end it): cancelling a statement in flight can take longer than the answer may."""
        ping = asyncio.ensure_future(self._ping())
        self._pings.add(ping)
        ping.add_done_callback(_settled(self._pings))
        done, _ = await asyncio.wait({ping}, timeout=self._ready_timeout)
        if not done or ping.exception() is not None:
            raise Refusal("not_ready", "the store cannot be reached.") from None

    def running(self) -> RunningState:
        return RunningState(
            self._sequencer.leading,
            self._publisher.failures,
            self._push.failures,
            self._declaration_publisher.failures,
        )

    async def gauges(self) -> StatusGauges:
        waiting, pending = await self._declarations.backlog()
        running = self.running()
        return StatusGauges(
            running.leading,
            running.publish_failures,
            running.push_failures,
            waiting,
            pending,
            running.declaration_publish_failures,
        )


def _settled(pending: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def forget(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        if not task.cancelled():
            task.exception()  # read, so that a late failure is not reported as never retrieved

    return forget
