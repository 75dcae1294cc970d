"""The push queue's stream (adapters/jetstream.py): made with the operator's settings when it is
missing, and told apart from another stream made later under the same name.

A stream can be lost while the hub runs: deleted by hand, lost with a NATS server's storage, or
recreated empty by a process that started while it was gone. Its name stays; its creation time
does not. The relay records the creation time of the stream its position refers to
(`identity`), and so finds out, at its next round, that the stream it fed is not the one there
now: what it had fed and was not yet delivered is then sent again from the outbox, which stays
the source of truth (JetStreamPushQueue.feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from nats.errors import Error as NatsError
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

DUPLICATE_WINDOW_SECONDS = 600.0
MAKE_AGAIN_AFTER_SECONDS = 1.0  # a missing stream is made again no sooner (see `identity`)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ANSWER_SECONDS = 2.0  # how long /ready waits for the server to say whether the stream is there
log = logging.getLogger("crossroads.mutations")


class StreamUnavailable(RuntimeError):
    """The stream is missing and cannot be made (its message says why and what to change)."""


class PushStream:
    def __init__(self, js, name: str, replicas: int) -> None:
        self._js = js
        self.name = name
        self.replicas = replicas
        self.recreated = 0  # times this process found the stream missing and made it again
        self.failure: str | None = None  # why it could not be made, until it is
        self._missing_since: float | None = None  # monotonic time it was found missing

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=[f"{self.name}.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )

    async def open(self) -> None:
        """At start: the stream made when missing, or its replicas brought to the setting. Raises
        StreamUnavailable (the hub does not start) when the server refuses either."""
        try:
            info = await self._js.stream_info(self.name)
        except NotFoundError:
            await self._make()
            return
        if info.config.num_replicas != self.replicas:
            had, info.config.num_replicas = info.config.num_replicas, self.replicas
            refused = f"JetStream stream {self.name} has {had} replica(s) and "
            refused += f"CROSSROADS_NATS_STREAM_REPLICAS asks for {self.replicas}: the server "
            if self.replicas > 1 and info.cluster is None:
                # A server outside a cluster accepts the change, says so, and keeps one copy.
                raise StreamUnavailable(f"{refused}is not part of a cluster")
            try:
                await self._js.update_stream(info.config)
            except APIError as exc:
                raise StreamUnavailable(f"{refused}refused the change ({_said(exc)})") from None
            log.warning("JetStream stream %s now keeps %d replica(s)", self.name, self.replicas)

    async def identity(self, make: bool = True) -> int | None:
        """The creation time of the stream there now (microseconds since the epoch), which a
        stream made again under the same name does not share.

        A missing stream is made again (logged, counted), but not sooner than
        MAKE_AGAIN_AFTER_SECONDS after it was found missing: None until then. NATS 2.9 removes a
        deleted stream's files after answering, and a stream made again at once under the same
        name can lose what is stored in it meanwhile (messages counted, none readable).
        StreamUnavailable when it cannot be made; or, unless `make`, NotFoundError (only the
        relay makes it again, before it sends again what the stream lost)."""
        try:
            info = await self._js.stream_info(self.name)
        except NotFoundError:
            if not make:
                raise
            now = time.monotonic()
            if self._missing_since is None:
                self._missing_since = now
                log.error(
                    "JetStream stream %s is missing (deleted, or lost with the NATS server's "
                    "storage): it is made again, and the outbox's undelivered pushes sent again",
                    self.name,
                )
            if now - self._missing_since < MAKE_AGAIN_AFTER_SECONDS:
                return None
            info = await self._make()
            self.recreated += 1
        self._missing_since = None
        return (info.created - _EPOCH) // timedelta(microseconds=1)

    async def readable(self, subject: str) -> bool:
        """Whether the stream can read the oldest message it holds on `subject` (False when it
        holds none there: asked only of a subject it counts messages on)."""
        try:
            await self._js.get_msg(self.name, seq=1, subject=subject, next=True)
        except NotFoundError:
            return False
        return True

    async def drop_broken(self, subject: str) -> None:
        """The stream counts messages on `subject` that it cannot read: deleted, so that the relay
        makes it again and sends again from the outbox what it held."""
        log.error(
            "JetStream stream %s counts messages on %s it cannot read: deleting it; the relay "
            "makes it again and sends the undelivered pushes again from the outbox",
            self.name,
            subject,
        )
        with contextlib.suppress(NotFoundError):
            await self._js.delete_stream(self.name)

    async def _make(self):
        try:
            info = await self._js.add_stream(self.config())
        except APIError as exc:
            self.failure = (
                f"JetStream stream {self.name} is missing and cannot be made: {_said(exc)}"
                + (
                    f" (CROSSROADS_NATS_STREAM_REPLICAS is {self.replicas}: a cluster needs at "
                    "least as many servers)"
                    if self.replicas > 1
                    else ""
                )
            )
            raise StreamUnavailable(self.failure) from None
        self.failure = None
        return info

    async def trouble(self, connected: bool) -> str | None:
        """Why pushes cannot go through the stream now, or None when it is there."""
        if not connected:
            return "NATS is not connected (the client keeps reconnecting; the outbox keeps pushes)"
        try:
            await asyncio.wait_for(self._js.stream_info(self.name), _ANSWER_SECONDS)
        except NotFoundError:
            return self.failure or (
                f"JetStream stream {self.name} is missing; the leading process's relay makes it "
                "again and sends the undelivered pushes again from the outbox"
            )
        except (TimeoutError, NatsError) as exc:
            return f"JetStream stream {self.name} does not answer ({type(exc).__name__})"
        return None


def _said(exc: APIError) -> str:
    return exc.description or str(exc)
