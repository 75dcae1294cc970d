"""The stream messages of the push queue (adapters/jetstream.py): a run of one subscription's
consecutive outbox deliveries in one message, packed and read back, and the one-delivery
messages earlier versions relayed.

A run the relay sent again from the outbox (the stream had lost it) says so in a header, with the
attempts the outbox had counted for its first delivery, so that the count carries on across the
loss; the queue checks such a run against the outbox before handing it out.
"""

from __future__ import annotations

import orjson

from ..services.ports import Delivery

# Headers of the one-delivery messages earlier versions relayed; a stream may still hold some.
_SEQ, _PUBLISHER, _MUTATION, _SUBJECT_KEY, _SUBSCRIPTION = (
    "Crossroads-Seq",
    "Crossroads-Publisher",
    "Crossroads-Mutation",
    "Crossroads-Subject-Key",
    "Crossroads-Subscription",
)
# On a run sent again from the outbox: the attempts counted before the stream lost it.
RESENT = "Crossroads-Resent-Attempts"
PAYLOAD_MARGIN = (
    4096  # room under the server's max_payload for a run's index and headers (`fitted` checks)
)


def runs(rows: list[Delivery], most: int, most_bytes: int) -> list[list[Delivery]]:
    """`rows` (in seq order) as runs of one subscription's deliveries, each run in seq order, of
    at most `most` deliveries and, but for a lone delivery larger than that, `most_bytes` of
    messages. A subscription's runs come in the order of their seqs."""
    open_runs: dict[str, tuple[list[Delivery], int]] = {}
    done: list[tuple[int, list[Delivery]]] = []
    for delivery in rows:
        run, size = open_runs.get(delivery.subscription, ([], 0))
        if run and (len(run) >= most or size + len(delivery.message) > most_bytes):
            done.append((run[0].seq, run))
            run, size = [], 0
        run.append(delivery)
        open_runs[delivery.subscription] = (run, size + len(delivery.message))
    done += [(run[0].seq, run) for run, _ in open_runs.values()]
    return [run for _, run in sorted(done, key=lambda item: item[0])]


def fitted(run: list[Delivery], max_payload: int) -> list[tuple[list[Delivery], bytes]]:
    """`run` packed, in halves (in order) where its index line took it past the server's limit.
    A lone delivery that does not fit is an error that names it and says what to change: the
    relay stops there, and tries again each round, rather than pass it by; nothing is lost, and
    the operator sees why in the log."""
    data = pack(run)
    if len(data) <= max_payload - PAYLOAD_MARGIN // 4:  # the subject and headers count too
        return [(run, data)]
    if len(run) > 1:
        half = len(run) // 2
        return fitted(run[:half], max_payload) + fitted(run[half:], max_payload)
    raise RuntimeError(
        f"outbox delivery {run[0].seq} for subscription {run[0].subscription} is {len(data)} "
        "bytes in its stream message, more than the NATS server's max_payload "
        f"({max_payload}) allows: raise max_payload on the server, or lower "
        "CROSSROADS_MAX_BODY_BYTES under it"
    )


def pack(run: list[Delivery]) -> bytes:
    """One stream message for a run: a JSON index line (seq, publisher, mutation id, subject key,
    message length per delivery), then the messages back to back. The messages stay the bytes
    the outbox holds, to be joined into the webhook's batch as they are, never parsed again."""
    index = [[d.seq, d.publisher, d.mutation_id, d.subject_key.hex(), len(d.message)] for d in run]
    return orjson.dumps(index) + b"\n" + b"".join(d.message for d in run)


def unpack(data: bytes, subscription: str, attempts: int) -> list[Delivery]:
    line, _, messages = data.partition(b"\n")
    deliveries, at = [], 0
    for seq, publisher, mutation_id, subject_key, length in orjson.loads(line):
        deliveries.append(
            Delivery(
                seq=seq,
                subscription=subscription,
                publisher=publisher,
                mutation_id=mutation_id,
                subject_key=bytes.fromhex(subject_key),
                message=messages[at : at + length],
                attempts=attempts,
            )
        )
        at += length
    return deliveries


def resent(message) -> bool:
    """Whether the run may have been pushed before: sent again from the outbox after a loss, or
    handed out by the stream before (a process may have pushed it and died before acknowledging
    it)."""
    return RESENT in (message.headers or {}) or message.metadata.num_delivered > 1


def deliveries_of(message, subscription: str) -> list[Delivery]:
    """The deliveries a stream message carries, each with the failed attempts before this one."""
    headers = message.headers or {}
    attempts = int(headers.get(RESENT, 0)) + message.metadata.num_delivered - 1
    if _SEQ in headers:  # one delivery, as relayed before runs
        return [
            Delivery(
                seq=int(headers[_SEQ]),
                subscription=headers[_SUBSCRIPTION],
                publisher=headers[_PUBLISHER],
                mutation_id=headers[_MUTATION],
                subject_key=bytes.fromhex(headers[_SUBJECT_KEY]),
                message=message.data,
                attempts=attempts,
            )
        ]
    return unpack(message.data, subscription, attempts)
