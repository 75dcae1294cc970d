"""A witness's memory in plain files: countersigned heads, split-view evidence and hubs' restore
declarations, as JSON lines.

Append-only and synced before the cosignature leaves the witness, so a restarted witness never
countersigns a history that contradicts one it vouched for before the crash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..services.ports import WitnessLedger


class FileWitnessLedger(WitnessLedger):
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._heads = directory / "countersigned.jsonl"
        self._evidence = directory / "split-views.jsonl"
        self._restores = directory / "restores.jsonl"
        self._latest: dict | None = None
        if self._heads.exists():
            lines = [line for line in self._heads.read_text().splitlines() if line.strip()]
            self._latest = json.loads(lines[-1]) if lines else None

    def latest(self) -> dict | None:
        return self._latest

    def countersigned(self, head: dict) -> None:
        _append(self._heads, head)
        self._latest = head

    def evidence(self, record: dict) -> None:
        _append(self._evidence, record)

    def restored(self, record: dict) -> None:
        _append(self._restores, record)
        self.countersigned({**record["head"], "after_restore": record["declaration"]})

    def countersigned_at_most(self, size: int) -> dict | None:
        # Read from the end: heads of one history only grow, so the first of at most `size` is
        # the largest; a restore declaration ends the history it replaced. A rare request (a
        # restore), so the file is read whole rather than indexed.
        if not self._heads.exists():
            return None
        for line in reversed(self._heads.read_text().splitlines()):
            if not line.strip():
                continue
            head = json.loads(line)
            if int(head["tree_size"]) <= size:
                return head
            if "after_restore" in head:
                return None
        return None

    def restores(self) -> list[dict]:
        if not self._restores.exists():
            return []
        return [json.loads(line) for line in self._restores.read_text().splitlines() if line]


def _append(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
