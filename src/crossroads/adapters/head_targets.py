"""Where the hub publishes its signed tree heads: a directory, or a witness over HTTP."""

from __future__ import annotations

import base64
import json
import os
import ssl
from pathlib import Path

import httpx

from ..domain.merkle import TreeHead
from ..services.ports import HeadTarget, Prove


class DirectoryTarget(HeadTarget):
    """One file per head (`tree-head-<size>.json`), written once and synced, never overwritten:
    point it at a write-once share that the hub's operator cannot rewrite."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = str(directory)

    async def publish(self, head: TreeHead, prove: Prove) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"tree-head-{head.tree_size:012d}.json"
        text = json.dumps(head.as_dict(), sort_keys=True) + "\n"
        if path.exists():
            # The same head again is taken (a restarted hub publishes its latest head anew);
            # another head of a size published before is a second history, as a witness
            # refuses it: the folder keeps the first and the publisher counts a failure.
            if path.read_text(encoding="utf-8") != text:
                raise RuntimeError(f"{path} holds another tree head of size {head.tree_size}")
            return None
        partial = self.directory / f".{path.name}.partial"
        # A head of a few hundred bytes, once a publishing round: the write and its fsync take a
        # millisecond or two, less than handing them to a thread would.
        with open(partial, "w", encoding="utf-8") as out:  # noqa: ASYNC230
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(partial, path)  # fails rather than replace a head published before
        partial.unlink()
        return None


class WitnessTarget(HeadTarget):
    """A `crossroads witness`: asks it which size it countersigned last, proves consistency from
    there, and returns the witness's countersignature."""

    def __init__(
        self, url: str, http: httpx.AsyncClient | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.name = self.url
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=10, verify=tls if tls is not None else True)
        self._witnessed: int | None = None

    async def publish(self, head: TreeHead, prove: Prove) -> str:
        if self._witnessed is None:
            self._witnessed = await self._witnessed_size()
        for _ in range(2):  # a second try when the witness moved on meanwhile (another hub process)
            start = min(self._witnessed, head.tree_size)
            proof = await prove(start, head.tree_size) if 0 < start < head.tree_size else []
            answer = await self._http.post(
                f"{self.url}/witness/v1/tree-heads",
                json={
                    "head": head.as_dict(),
                    "proof_from": start,
                    "consistency_path": [base64.b64encode(h).decode() for h in proof],
                },
            )
            body = answer.json()
            if (
                answer.status_code == 409
                and body.get("code") == "stale_tree_head"
                and "witnessed_size" in body
            ):
                self._witnessed = int(body["witnessed_size"])
                continue
            if answer.status_code != 200:
                raise RuntimeError(
                    f"the witness {self.url} refused the tree head of size {head.tree_size}: "
                    f"{body.get('code')}: {body.get('message')}"
                )
            if (
                int(body["tree_size"]) != head.tree_size
                or body.get("root_hash") != head.as_dict()["root_hash"]
            ):
                raise RuntimeError(
                    f"the witness {self.url} answered for another tree head than the one of "
                    f"size {head.tree_size}"
                )
            self._witnessed = head.tree_size
            return body["cosignature"]
        raise RuntimeError(f"the witness {self.url} kept moving; will retry")

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _witnessed_size(self) -> int:
        answer = await self._http.get(f"{self.url}/witness/v1/tree-heads/latest")
        if answer.status_code == 404:
            return 0
        answer.raise_for_status()
        return int(answer.json()["tree_size"])
