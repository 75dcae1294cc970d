"""`crossroads audit verify`: recompute the audit tree from the stored entries and check everything.

The entries are read in leaf order and hashed again; every stored subtree hash and every signed
tree head is compared with what the entries give. The first disagreement is named by the index of
the first entry it concerns, so an operator knows where the log was modified, where an entry was
removed, inserted or moved, and which tree head it contradicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain.merkle import Frontier, TreeHead, perfect_parts
from ..verifier import ProofError, leaf_hash, verify_tree_head
from .ports import TransparencyLog

PAGE = 10_000  # entries read and checked per round trip


@dataclass
class Problem:
    index: int  # the first entry (leaf index) the problem concerns
    kind: str  # entry_modified, entry_missing, node_modified, node_missing, head_mismatch, head_missing, head_signature, head_beyond_log
    message: str


@dataclass
class VerifyReport:
    entries: int = 0
    nodes: int = 0
    heads: int = 0
    archived: int = 0  # entries before this leaf index were pruned: the archive segments hold them
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class LogAuditor:
    def __init__(self, log_store: TransparencyLog, jwks: Callable[[], dict]) -> None:
        self._log = log_store
        self._jwks = jwks

    async def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check the whole log; stop at the first problem, which the report names."""
        report = VerifyReport()
        heads = await self._log.heads()
        jwks = self._jwks()
        for head in heads:
            try:
                verify_tree_head(head.as_dict(), jwks)
            except ProofError as exc:
                report.problem = Problem(head.tree_size - 1, "head_signature", f"tree head of size {head.tree_size}: {exc}.")
                return report
        pending = list(reversed(heads))  # smallest last, popped as the recomputed tree reaches it
        frontier, report.problem = await self._live_start(pending, report)
        if report.problem is not None:
            return report
        while pending and pending[-1].tree_size == 0:  # a head signed before the first entry
            if _check_head(pending.pop(), frontier) is not None:
                report.problem = Problem(0, "head_mismatch", "a tree head of size 0 names a root other than the empty tree's.")
                return report
            report.heads += 1
        while True:
            page = await self._log.entries(frontier.size, PAGE)
            if not page:
                break
            first = frontier.size
            recomputed: dict[int, dict[int, bytes]] = {0: {}}
            head_problem: Problem | None = None
            gap: Problem | None = None
            for leaf_index, record in page:
                if leaf_index != frontier.size:
                    gap = Problem(frontier.size, "entry_missing",
                                  f"no entry has leaf index {frontier.size} (the next one is {leaf_index}): an entry was removed or renumbered.")
                    break
                leaf = leaf_hash(record)
                recomputed[0][leaf_index] = leaf
                for level, position, value in frontier.append(leaf):
                    recomputed.setdefault(level, {})[position] = value
                while pending and pending[-1].tree_size == frontier.size:
                    checked = _check_head(pending.pop(), frontier)
                    head_problem = head_problem or checked
                    report.heads += 0 if checked else 1
            # The stored nodes name the first changed entry exactly; a head only says that
            # something at or before its size changed. So the earlier of the two is reported.
            problems = [p for p in (await self._compare_nodes(recomputed, report), head_problem, gap) if p]
            if problems:
                report.problem = min(problems, key=lambda p: p.index)
                return report
            report.entries = frontier.size
            if progress is not None:
                progress(frontier.size - first)
            if len(page) < PAGE:
                break
        if pending:
            head = pending[-1]
            report.problem = Problem(frontier.size, "head_beyond_log",
                                     f"a tree head was signed for {head.tree_size} entries; the log holds {frontier.size}: entries were removed.")
        return report

    async def _live_start(self, pending: list[TreeHead], report: VerifyReport) -> tuple[Frontier, Problem | None]:
        """Where the live log begins: the empty tree, or after pruning the stored roots of the
        pruned part, which must give the root of the tree head signed at that size (the end of
        the last pruned archive segment). Heads before it were checked for their signature; the
        archive segments prove their content (verify_segment)."""
        retained = await self._log.retained_from()
        report.archived = retained
        if not retained:
            return Frontier(), None
        parts = perfect_parts(0, retained)
        stored = await self._log.nodes(parts)
        missing = [part for part in parts if part not in stored]
        if missing:
            level, position = missing[0]
            return Frontier(), Problem(position << level, "node_missing",
                                       f"the stored tree lacks node {missing[0]}, a root of the pruned part of the log.")
        frontier = Frontier(retained, [stored[part] for part in parts])
        while pending and pending[-1].tree_size < retained:
            pending.pop()
            report.heads += 1
        if not pending or pending[-1].tree_size != retained:
            return frontier, Problem(retained, "head_missing",
                                     f"no signed tree head of size {retained}, where the live log begins after pruning.")
        if _check_head(pending.pop(), frontier) is not None:
            return frontier, Problem(retained - 1, "head_mismatch",
                                     f"the stored roots of the pruned part do not give the tree head of size {retained}.")
        report.heads += 1
        return frontier, None

    async def _compare_nodes(self, recomputed: dict[int, dict[int, bytes]], report: VerifyReport) -> Problem | None:
        for level in sorted(recomputed):
            expected = recomputed[level]
            if not expected:
                continue
            low, high = min(expected), max(expected) + 1
            stored = await self._log.level_nodes(level, low, high)
            for position in sorted(expected):
                first_entry = position << level
                if position not in stored:
                    return Problem(first_entry, "node_missing", f"the stored tree lacks node ({level}, {position}).")
                if stored[position] != expected[position]:
                    if level == 0:
                        return Problem(first_entry, "entry_modified",
                                       f"entry {position} does not hash to the leaf stored for it: the entry, or its place in the log, was changed.")
                    return Problem(first_entry, "node_modified",
                                   f"stored node ({level}, {position}) over entries {first_entry}–{((position + 1) << level) - 1} differs from the entries' hash.")
                report.nodes += 1
        return None


def _check_head(head: TreeHead, frontier: Frontier) -> Problem | None:
    if frontier.root() != head.root_hash:
        return Problem(head.tree_size - 1, "head_mismatch",
                       f"the entries up to {head.tree_size - 1} do not give the root of the signed tree head of size {head.tree_size}.")
    return None
