"""Publishing the hub's signed tree heads to places outside its control.

Each target gets the latest head: a directory (an append-only share: one file per head, never
overwritten) or a witness (`crossroads witness`), which countersigns only after checking the
consistency proof from the last head it countersigned. A target that fails is logged, counted in
`failures`, and tried again with the next round; a later head covers every earlier one, since
each is consistent with those before it.

A witness whose countersigned head this log does not extend (a restore to an earlier point)
is not a passing failure: the publisher has the sequencer hold its heads (`hold`) until every
witness is in step again, so that no head of another history is signed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .clock import sleep_unless
from .ports import HeadTarget, HistoryMismatch, Prove, TransparencyLog

log = logging.getLogger("crossroads.audit")


class HeadPublisher:
    def __init__(
        self,
        log_store: TransparencyLog,
        prove: Prove,
        targets: list[HeadTarget],
        hold: Callable[[str | None], None] | None = None,
    ) -> None:
        """`hold(reason)` stops the signing of tree heads, `hold(None)` lets it go on
        (Sequencer.hold_heads)."""
        self._log = log_store
        self._prove = prove
        self._targets = targets
        self._hold = hold
        self._published: dict[str, int] = {}  # target name -> tree size it last took
        self.failures = 0

    async def publish_latest(self) -> int:
        """Publish the latest head to every target that has not taken it; return how many took
        it."""
        head = await self._log.latest_head()
        if head is None:
            if self._hold is not None:
                self._hold(None)  # nothing signed yet: nothing to contradict
            return 0
        took = 0
        mismatch: str | None = None
        for target in self._targets:
            if self._published.get(target.name) == head.tree_size:
                continue
            try:
                cosignature = await target.publish(head, self._prove)
                if cosignature is not None:
                    await self._log.put_cosignature(head.tree_size, target.name, cosignature)
            except HistoryMismatch as exc:
                self.failures += 1
                mismatch = str(exc)
                log.critical("%s", exc)
                continue
            except Exception:
                self.failures += 1
                log.exception(
                    "the tree head of size %s was not published to %s; retrying with the next head",
                    head.tree_size,
                    target.name,
                )
                continue
            self._published[target.name] = head.tree_size
            took += 1
        if self._hold is not None:
            self._hold(mismatch)
        return took

    async def close(self) -> None:
        for target in self._targets:
            await target.close()

    async def run(
        self, stop: asyncio.Event, leading: Callable[[], bool], every_seconds: float
    ) -> None:
        """Publish every `every_seconds` while `leading()` (only the sequencer's process
        publishes)."""
        while self._targets and not stop.is_set():
            if leading():
                await self.publish_latest()
            await sleep_unless(stop, every_seconds)
