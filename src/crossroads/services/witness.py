"""The witness: an outside party that countersigns the hub's tree heads, only ever consistently.

A witness remembers the last tree head it countersigned. It countersigns a new one only when the
hub's signature verifies with a key the witness believes (those it was given, pinned, and those the
hub's key history endorses from them: hub_key_trust.py) and a consistency proof shows that the tree
it signed before is a prefix of the new one. A head that contradicts what it signed (same size,
other root; a smaller tree; a proof that does not verify from it) is refused and kept as evidence:
that is a split view, the hub showing one history to one party and another to another. Anyone
holding a head countersigned by the witness knows the witness saw the same history.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from ..domain.errors import Refusal
from ..verifier import ProofError, tree_head_bytes, verify_consistency, verify_tree_head
from .hub_key_trust import HubKeyTrust
from .ports import Signer, WitnessLedger

COSIGNATURE_TYPE = "crossroads-witness-cosignature"


class Witness:
    def __init__(
        self, ledger: WitnessLedger, hub_keys: HubKeyTrust | dict[str, Any], signer: Signer
    ) -> None:
        """`hub_keys`: the hub's keys to believe; a JWKS is believed as it is, nothing more."""
        self._ledger = ledger
        self._hub_keys = hub_keys if isinstance(hub_keys, HubKeyTrust) else HubKeyTrust(hub_keys)
        self._signer = signer

    def latest(self) -> dict[str, Any]:
        latest = self._ledger.latest()
        if latest is None:
            raise Refusal("not_found", "this witness has not countersigned a tree head yet.")
        return latest

    def start_from(self, head: dict[str, Any]) -> dict[str, Any]:
        """Begin from `head`, a tree head the witness's operator obtained out of band (from an
        auditor, another witness, the hub's operator in person): countersigned as the first
        head, so that the first head the hub submits must extend it, by proof, rather than be
        believed as it comes. Only an empty ledger is seeded: a witness that has countersigned
        already keeps its own history, and this returns its latest head unchanged. Refusal
        `invalid_tree_head` when the head does not verify with the hub's trusted keys."""
        latest = self._ledger.latest()
        if latest is not None:
            return latest
        return self.submit(head, 0, [])

    def submit(self, head: dict[str, Any], proof_from: int, proof: Sequence[str]) -> dict[str, Any]:
        """Countersign `head` if it consistently extends the last head countersigned; the proof
        is the hub's consistency proof from size `proof_from` (the last size this witness
        countersigned, 0 for the first). Returns the head with its "cosignature"."""
        try:
            signature = head.get("signature") if isinstance(head, dict) else None
            jwks = self._hub_keys.jwks_for(signature)
            size, root = verify_tree_head(head, jwks)
            path = [base64.b64decode(h, validate=True) for h in proof]
        except (ProofError, ValueError) as exc:
            raise Refusal(
                "invalid_tree_head",
                f"the tree head does not verify with the hub's keys: {exc}",
                "head",
            ) from None
        last = self._ledger.latest()
        if last is not None:
            last_size, last_root = int(last["tree_size"]), base64.b64decode(last["root_hash"])
            if size == last_size:
                if root != last_root:
                    self._split_view(
                        last, head, "a different root for a tree size already countersigned"
                    )
                return last  # seen already: the same answer again
            if size < last_size:
                raise Refusal(
                    "stale_tree_head",
                    f"this witness has countersigned a tree of {last_size} entries; "
                    f"a tree of {size} is older.",
                    "head",
                )
            if proof_from != last_size:
                raise Refusal(
                    "stale_tree_head",
                    f"prove consistency from {last_size}, the tree this witness "
                    "last countersigned.",
                    "proof_from",
                )
            try:
                verify_consistency(last_size, size, last_root, root, path)
            except ProofError as exc:
                self._split_view(last, head, f"no consistency with the tree of {last_size} ({exc})")
        cosigned = {
            **{k: head[k] for k in ("tree_size", "root_hash", "timestamp", "signature")},
            "cosignature": self._signer.sign_detached(
                tree_head_bytes(size, root, int(head["timestamp"])), {"typ": COSIGNATURE_TYPE}
            ),
        }
        self._ledger.countersigned(cosigned)
        return cosigned

    def _split_view(self, last: dict[str, Any], head: dict[str, Any], why: str) -> None:
        self._ledger.evidence({"countersigned": last, "contradicting": head, "why": why})
        raise Refusal(
            "split_view",
            f"the hub showed this witness two histories: {why}. The evidence is kept.",
            "head",
        )


def verify_cosignature(head: dict[str, Any], witness_jwks: dict[str, Any]) -> None:
    """Raise ProofError unless `head["cosignature"]` is the witness's signature of this head."""
    verify_tree_head({**head, "signature": head.get("cosignature", "")}, witness_jwks)
