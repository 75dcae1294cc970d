"""The hub's own state, for /ready and /metrics: whether its store answers, whether this process
leads the sequencer, and what its background loops failed at or still have to do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from ..domain.errors import Refusal
from .declaration_events import DeclarationPublisher
from .head_publisher import HeadPublisher
from .ports import DeclarationStore, MutationStore, PushQueue
from .push import PushDispatcher
from .push_lag import PushLag, PushProgress
from .transparency import Sequencer

LAG_READ_MS = 1000


@dataclass(frozen=True)
class RunningState:
    """What this process's running parts hold, read without the store: whether it leads the
    sequencer, and the failures each part counted since the process started."""

    leading: bool
    publish_failures: int
    push_failures: int
    declaration_publish_failures: int
    push_stream_losses: int = 0  # the JetStream push stream found lost or made again
    push_reconciled: int = 0  # deliveries sent again from the outbox to such a stream


@dataclass(frozen=True)
class StatusGauges:
    leading: bool
    publish_failures: int
    push_failures: int
    declaration_batches_waiting: int
    declaration_events_pending: int
    declaration_publish_failures: int
    push_stalled_seconds: float = 0.0


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
        push_queue: PushQueue | None = None,
        mutations: MutationStore | None = None,
        now_ms: Callable[[], int] | None = None,
        push_stall_seconds: float = 300.0,
    ) -> None:
        """`mutations` and `now_ms`: the outbox and the clock by which push delivery is found
        standing still (services/push_lag.py), past `push_stall_seconds`."""
        self._push_queue = push_queue
        self._progress = None if mutations is None else PushProgress(mutations, push_stall_seconds)
        self._now_ms = now_ms
        self._push_stall_seconds = push_stall_seconds
        self._lag: tuple[int, PushLag] | None = None  # when it was last read, and what
        self._reading: asyncio.Task[PushLag] | None = None
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

    async def degraded(self) -> list[str]:
        """What works less than it should while the hub still serves, in sentences: the push
        queue's trouble (its stream missing and not made again, NATS unreachable). Exchanges,
        publications and mailboxes do not need it, so the hub stays ready: pushes wait in the
        outbox meanwhile."""
        trouble = None if self._push_queue is None else await self._push_queue.trouble()
        found = [f"push delivery: {trouble}"] if trouble else []
        lag = await self._push_lag()
        if lag is not None and lag.unread:
            found.append(f"push delivery: whether it moves could not be read ({lag.unread}).")
        if lag is not None and lag.behind:
            found.append(
                f"push delivery: {lag.behind} push subscription(s) have had the same next"
                f" delivery, never tried, for more than {self._push_stall_seconds:g} s (the"
                f" longest {lag.stalled_seconds:.0f} s): the relay or the push workers are not"
                " delivering. Nothing is lost: the outbox keeps every delivery."
            )
        return found

    async def _push_lag(self) -> PushLag | None:
        """The heads read at most once a `LAG_READ_MS` (it probes every push subscription's
        queue, and /ready and /metrics may be asked many times a second), by one read at a time
        that is waited for `ready_timeout` at most, as the ping is: late or failed, the last
        figures come back with the reason."""
        if self._progress is None or self._now_ms is None:
            return None
        now = self._now_ms()
        if self._lag is not None and 0 <= now - self._lag[0] < LAG_READ_MS:
            return self._lag[1]
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read_lag(self._progress, now))
            self._reading.add_done_callback(_retrieved)
        done, _ = await asyncio.wait({self._reading}, timeout=self._ready_timeout)
        failure = self._reading.exception() if done else None
        if done and failure is None:
            return self._reading.result()
        reason = (
            f"{failure.__class__.__name__}: {failure}"[:200]
            if failure is not None
            else f"the store did not answer within {self._ready_timeout:g} s"
        )
        last = self._lag[1] if self._lag is not None else PushLag(0, 0.0)
        return replace(last, unread=reason)

    async def _read_lag(self, progress: PushProgress, now: int) -> PushLag:
        lag = await progress.read(now)
        self._lag = (now, lag)
        return lag

    def running(self) -> RunningState:
        return RunningState(
            self._sequencer.leading,
            self._publisher.failures,
            self._push.failures,
            self._declaration_publisher.failures,
            self._push_queue.stream_losses if self._push_queue else 0,
            self._push_queue.reconciled if self._push_queue else 0,
        )

    async def gauges(self) -> StatusGauges:
        waiting, pending = await self._declarations.backlog()
        lag = await self._push_lag()
        running = self.running()
        return StatusGauges(
            running.leading,
            running.publish_failures,
            running.push_failures,
            waiting,
            pending,
            running.declaration_publish_failures,
            0.0 if lag is None else lag.stalled_seconds,
        )


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A task that ended after its askers stopped waiting (a late ping or heads' read): its
    failure is read (/ready reported it), so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def _settled(pending: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def forget(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        _retrieved(task)

    return forget
