"""The relay's runs: a subscription's consecutive deliveries in one stream message, in order,
bounded in count and bytes, and read back as they were written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossroads.adapters.jetstream_runs import fitted, pack, runs, unpack
from crossroads.services.ports import Delivery


def delivery(seq: int, subscription: str, message: bytes = b'{"id":"x"}') -> Delivery:
    return Delivery(
        seq=seq,
        subscription=subscription,
        publisher="0123:app",
        mutation_id=f"m-{seq}",
        subject_key=bytes([seq % 256]) * 4,
        message=message,
    )


def test_each_run_is_one_subscriptions_consecutive_deliveries_in_seq_order():
    rows = [delivery(n, "ab"[n % 2]) for n in range(1, 8)]
    assert [[d.seq for d in run] for run in runs(rows, 3, 10_000)] == [[1, 3, 5], [2, 4, 6], [7]]


def test_a_run_stays_under_the_byte_limit_but_a_lone_large_delivery_still_goes():
    rows = [delivery(1, "a", b"x" * 60), delivery(2, "a", b"y" * 60), delivery(3, "a", b"z" * 500)]
    assert [[d.seq for d in run] for run in runs(rows, 100, 100)] == [[1], [2], [3]]


def test_a_packed_run_unpacks_to_the_same_deliveries_with_the_streams_attempts():
    run = [delivery(5, "s", b'{"id":"a","data":{"note":"line\\nbreak"}}'), delivery(9, "s", b"")]
    back = unpack(pack(run), "s", attempts=2)
    assert [
        (d.seq, d.publisher, d.mutation_id, d.subject_key, d.message, d.attempts) for d in back
    ] == [(d.seq, d.publisher, d.mutation_id, d.subject_key, d.message, 2) for d in run]


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.binary(max_size=40)), max_size=60),
    st.integers(1, 7),
    st.integers(1, 120),
)
def test_runs_keep_every_delivery_once_and_each_subscriptions_order(items, most, most_bytes):
    rows = [
        delivery(seq, subscription, message) for seq, (subscription, message) in enumerate(items, 1)
    ]
    out = runs(rows, most, most_bytes)
    assert sorted(d.seq for run in out for d in run) == [d.seq for d in rows]
    for run in out:
        assert len({d.subscription for d in run}) == 1
        assert 1 <= len(run) <= most
        assert len(run) == 1 or sum(len(d.message) for d in run) <= most_bytes
    for subscription in "abc":
        sent = [d.seq for run in out for d in run if d.subscription == subscription]
        assert sent == sorted(sent)
    assert [run[0].seq for run in out] == sorted(run[0].seq for run in out)


def test_a_run_past_the_servers_limit_is_halved_in_order_and_a_lone_delivery_too_large_is_named():
    run = [delivery(n, "sub-1", b"x" * 1000) for n in range(1, 9)]
    assert fitted(run, 1_048_576) == [(run, pack(run))]
    parts = fitted(run, 4000)
    assert [d.seq for part, _ in parts for d in part] == list(range(1, 9))
    assert all(len(data) <= 4000 and unpack(data, "sub-1", 0) == part for part, data in parts)
    with pytest.raises(
        RuntimeError, match=r"outbox delivery 3 for subscription sub-1 .* max_payload \(1000\)"
    ):
        fitted(run[2:3], 1000)
