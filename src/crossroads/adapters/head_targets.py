"""Where the hub publishes its signed tree heads: a directory, or a witness over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
from pathlib import Path

import httpx

from ..domain import unique_keys
from ..domain.errors import Refusal
from ..domain.merkle import TreeHead
from ..services.ports import HeadTarget, HistoryMismatch, Prove
from ..verifier import ProofError, verify_consistency
from .bounded_get import send_bounded

# A witness answers with a tree head and its countersignature: a few kilobytes.
MAX_ANSWER_BYTES = 1024 * 1024


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
        self,
        url: str,
        http: httpx.AsyncClient | None = None,
        tls: ssl.SSLContext | None = None,
        seconds: float = 10.0,
    ) -> None:
        """`seconds`: each exchange with the witness whole, from connecting to its answer's last
        byte. The publisher serves its targets one after the other, so a witness answering
        without end (a byte at a time) would otherwise hold back every other target's heads."""
        self._seconds = seconds
        self.url = url.rstrip("/")
        self.name = self.url
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=10, verify=tls if tls is not None else True)
        self._witnessed: int | None = None

    async def publish(self, head: TreeHead, prove: Prove) -> str | None:
        """The witness's countersignature of `head`; None when the witness has already
        countersigned a later head of this log, which covers this one (a restarted or restored
        process whose latest signed head predates the witness's, until it signs the next)."""
        if self._witnessed is None:
            latest = await self.latest()
            if latest is not None:
                await self._check_extends(latest, head, prove)
            self._witnessed = int(latest["tree_size"]) if latest else 0
        for _ in range(2):  # a second try when the witness moved on meanwhile (another hub process)
            if self._witnessed > head.tree_size:
                return None
            start = min(self._witnessed, head.tree_size)
            proof = await prove(start, head.tree_size) if 0 < start < head.tree_size else []
            answer = await self._call(
                "POST",
                "/witness/v1/tree-heads",
                json={
                    "head": head.as_dict(),
                    "proof_from": start,
                    "consistency_path": [base64.b64encode(h).decode() for h in proof],
                },
            )
            body = unique_keys.loads(answer.content)
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

    async def _call(
        self, method: str, path: str, params: dict | None = None, json: object = None
    ) -> httpx.Response:
        """The witness's answer, its body read whole (at most MAX_ANSWER_BYTES) within
        `seconds`; TimeoutError or ValueError otherwise. Its JSON is read with
        `unique_keys.loads`: a countersigned head naming a key twice is read one way only."""
        request = self._http.build_request(method, self.url + path, params=params, json=json)
        async with asyncio.timeout(self._seconds):
            answer, body = await send_bounded(self._http, request, MAX_ANSWER_BYTES)
        return httpx.Response(answer.status_code, content=body, request=request)

    async def latest(self) -> dict | None:
        """The witness's latest countersigned head; None when it has countersigned nothing."""
        answer = await self._call("GET", "/witness/v1/tree-heads/latest")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return unique_keys.loads(answer.content)

    async def _check_extends(self, latest: dict, head: TreeHead, prove: Prove) -> None:
        """Before a first submission, check here that the log extends what the witness
        countersigned. A log restored to an earlier point, then grown again, does not: submitted,
        its heads would be kept by the witness as a split view. Nothing is submitted then, until
        the restore is recovered or declared (services/log_restore.py)."""
        size, root = int(latest["tree_size"]), base64.b64decode(latest["root_hash"])
        try:
            if size > head.tree_size:
                # Raises unless this log holds that many entries; the witness's root must be this
                # log's root at that size, or a restored log that grew other entries would pass.
                proof = await prove(head.tree_size, size)
                if head.tree_size:
                    verify_consistency(head.tree_size, size, head.root_hash, root, proof)
            elif size < head.tree_size:
                proof = await prove(size, head.tree_size)
                verify_consistency(size, head.tree_size, root, head.root_hash, proof)
            elif root != head.root_hash:
                raise ProofError("another root for the same size")
        except (Refusal, ProofError) as exc:
            raise HistoryMismatch(
                f"the witness {self.url} countersigned a tree of {size} entries that this log "
                f"does not extend ({exc}): it was restored to an earlier point, or forked. "
                "Nothing was submitted; run crossroads audit restore-check."
            ) from None

    async def declare_restore(
        self, head: TreeHead, entry: bytes, path: list[bytes], prove: Prove, heads: list[TreeHead]
    ) -> str:
        """Submit a restore declaration (services/witness_restore.py), proven consistent from the
        largest of this log's `heads` that the witness countersigned too; return the witness's
        countersignature of the declaring head."""
        start = 0
        for kept in sorted(heads, key=lambda h: -h.tree_size):
            if kept.tree_size >= head.tree_size:
                continue
            answer = await self._call(
                "GET", "/witness/v1/tree-heads/latest", params={"at_most": kept.tree_size}
            )
            if answer.status_code == 404:
                break  # the witness countersigned nothing this small
            answer.raise_for_status()
            if unique_keys.loads(answer.content)["root_hash"] == kept.as_dict()["root_hash"]:
                start = kept.tree_size  # the same head: the restore kept it
                break
        proof = await prove(start, head.tree_size) if start else []
        answer = await self._call(
            "POST",
            "/witness/v1/restore-declarations",
            json={
                "head": head.as_dict(),
                "entry": base64.b64encode(entry).decode(),
                "inclusion_path": [base64.b64encode(h).decode() for h in path],
                "proof_from": start,
                "consistency_path": [base64.b64encode(h).decode() for h in proof],
            },
        )
        body = unique_keys.loads(answer.content)
        if answer.status_code != 200:
            raise RuntimeError(
                f"the witness {self.url} refused the restore declaration: "
                f"{body.get('code')}: {body.get('message')}"
            )
        self._witnessed = head.tree_size
        return body["cosignature"]
