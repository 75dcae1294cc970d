"""A restore declaration: the hub's log was restored to an earlier point, and says so.

A hub whose store was restored from a backup has lost the audit entries written after it, up to
the head its witnesses last countersigned. Entries the audit archive still holds are appended
again, identically, and the witnessed root comes back (services/log_restore.py). For the rest the
operator declares the loss: an audit entry of kind `audit`, action `restore_declaration`, whose
detail names the size the log was restored to, the entries lost (`lost_from` to `lost_to`, the
size and root the witness countersigned) and the reason. The entry is the last of a tree head
the hub signs, so the declaration is signed by that head and kept in the log for good.

The witness takes it only when it names exactly the head it last countersigned, and checks the
restored history against a head it countersigned that the restore kept (`proven_from`, in the
record: 0 when the backup predates every witnessed head, and then nothing is proven). Whatever
the declaration says, what lies after `proven_from` in the history the witness saw is replaced,
and the ledger says so: a restore may lose entries, never silently rewrite those before them.
The witness keeps the declaration in its ledger (`restores`, readable by anyone) and
countersigns the declaring head; from there on it checks the restored history's heads as any
others. A restore is thus visible as one, with what was lost, to everyone holding the witness's
heads: neither a split view (which the witness still refuses and keeps as evidence) nor silent.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.errors import Refusal
from ..verifier import (
    ProofError,
    leaf_hash,
    tree_head_bytes,
    verify_consistency,
    verify_inclusion,
)
from .ports import Signer, WitnessLedger
from .witness import COSIGNATURE_TYPE

RESTORE_ACTION = "restore_declaration"


def declaration_record(
    at_ms: int, restored_size: int, witnessed: dict[str, Any], reason: str
) -> AuditRecord:
    """The audit entry declaring that the log (now `restored_size` entries) lost the entries up
    to the head `witnessed` ({"tree_size", "root_hash"}) its witnesses countersigned."""
    return AuditRecord(
        kind="audit",
        at_ms=at_ms,
        outcome="ok",
        action=RESTORE_ACTION,
        detail={
            "restored_size": restored_size,
            "lost_from": restored_size,
            "lost_to": int(witnessed["tree_size"]),
            "witnessed_root": witnessed["root_hash"],
            "reason": reason,
        },
    )


class WitnessRestores:
    def __init__(
        self,
        ledger: WitnessLedger,
        verify_head: Callable[[dict[str, Any]], tuple[int, bytes]],
        signer: Signer,
    ) -> None:
        """`verify_head` checks a head's signature with the hub's keys (verifier.py), returning
        (size, root), raising ProofError."""
        self._ledger = ledger
        self._verify_head = verify_head
        self._signer = signer

    def declare(
        self,
        head: dict[str, Any],
        entry: str,
        inclusion_path: Sequence[str],
        proof_from: int = 0,
        consistency_path: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Take the declaration `entry` (the canonical record, base64), the last entry of the
        signed `head`, proven by `inclusion_path`, and the head proven consistent from
        `proof_from` (a size this witness countersigned in its current history; 0 proves
        nothing) by `consistency_path`; return the head countersigned."""
        try:
            size, root = self._verify_head(head)
            raw = base64.b64decode(entry, validate=True)
            record = AuditRecord.from_canonical(raw)
            path = [base64.b64decode(h, validate=True) for h in inclusion_path]
            verify_inclusion(size - 1, size, leaf_hash(raw), path, root)
            kept = self._ledger.countersigned_at_most(min(proof_from, size - 1))
            if proof_from and (kept is None or int(kept["tree_size"]) != proof_from):
                raise ProofError(
                    f"this witness countersigned no head of {proof_from} entries to prove from"
                )
            if kept is not None and proof_from:
                verify_consistency(
                    proof_from,
                    size,
                    base64.b64decode(kept["root_hash"]),
                    root,
                    [base64.b64decode(h, validate=True) for h in consistency_path],
                )
        except (ProofError, ValueError, TypeError) as exc:
            raise _refused(f"the declaration does not verify: {exc}") from None
        last = self._ledger.latest()
        if last is None:
            raise _refused("this witness has countersigned nothing: there is nothing to restore.")
        # A log restored and grown again past the witnessed size (a hub started before the
        # procedure) declares from where it stands: its size may exceed `lost_to`; the
        # countersigned history from `lost_from` on is replaced, and said to be.
        detail = record.detail
        if (
            record.kind != "audit"
            or record.action != RESTORE_ACTION
            or record.canonical() != raw
            or detail.get("lost_to") != int(last["tree_size"])
            or detail.get("witnessed_root") != last["root_hash"]
            or detail.get("restored_size") != size - 1
            or detail.get("lost_from") != size - 1
        ):
            raise _refused(
                f"the declaration must name the head this witness last countersigned (size "
                f"{last['tree_size']}), the size restored to (one less than the declaring head's) "
                "and be the declaring head's last entry."
            )
        cosigned = {
            **{k: head[k] for k in ("tree_size", "root_hash", "timestamp", "signature")},
            "cosignature": self._signer.sign_detached(
                tree_head_bytes(size, root, int(head["timestamp"])), {"typ": COSIGNATURE_TYPE}
            ),
        }
        self._ledger.restored(
            {
                "declaration": detail,
                "entry": entry,
                "previous": last,
                "proven_from": proof_from,
                "head": cosigned,
            }
        )
        return cosigned

    def declarations(self) -> list[dict[str, Any]]:
        return self._ledger.restores()


def _refused(message: str) -> Refusal:
    return Refusal("invalid_restore_declaration", message, "entry")
