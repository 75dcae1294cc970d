"""The audit record's canonical bytes are the Merkle tree's leaves: an entry written by any earlier
version must hash as it did, and a record stamped with the request being served must encode as
the record naming that request."""

from __future__ import annotations

from dataclasses import replace

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.domain.audit import AuditRecord
from crossroads.services.request_scope import serving_request, stamped_canonical
from crossroads.verifier import leaf_hash

DELIVERY = AuditRecord(
    kind="mutation",
    at_ms=1764770000000,
    outcome="ok",
    action="mutation.deliver",
    consumer="0123456789",
    application="case-app",
    service="person.address",
    authorization="AUT-1",
    subject_hash="ab" * 32,
    target="m-1",
    providers=("0200000000",),
    detail={"seq": 12345, "subscription": "sub-1", "via": "push"},
)
ODD = AuditRecord(
    kind="exchange",
    at_ms=1,
    outcome="forbidden",
    request_id="r-1",
    client_request_id="c é ✓",
    latency_us=0,
    purpose="",
    detail={"nested": {"b": [1, 2.5, None, True], "a": {}}, "empty": []},
    actor="op",
)
BARE = AuditRecord(kind="auth", at_ms=2, outcome="ok")


def test_leaves_hash_as_the_log_has_always_hashed_them():
    # Leaf hashes of the encoding as it was before `canonical` was made faster (main at 6f61a8c):
    # a zero latency and an empty purpose are kept, empty values inside `detail` too; absent
    # fields, an empty tuple and an empty dict at the top are left out.
    assert DELIVERY.canonical() == (
        b'{"action":"mutation.deliver","application":"case-app","at_ms":1764770000000,'
        b'"authorization":"AUT-1","consumer":"0123456789","detail":{"seq":12345,'
        b'"subscription":"sub-1","via":"push"},"kind":"mutation","outcome":"ok",'
        b'"providers":["0200000000"],"service":"person.address","subject_hash":"'
        + b"ab" * 32
        + b'","target":"m-1","v":1}'
    )
    assert [leaf_hash(r.canonical()).hex() for r in (DELIVERY, ODD, BARE)] == [
        "9edd685e5a25edcdabaf4bb3c668e972bbcc055132f8fb8ed55d4bea583077b7",
        "22652451fc92b1d18acfe359e97aceb57745dfdb88d588eb394ab3c5cecc48cc",
        "cee5de20ca4f3a1f78185071a3af50386061a3ea7dd9db620e794115f1100ada",
    ]


def test_a_record_stamped_while_serving_a_request_encodes_as_the_record_naming_it():
    token = serving_request.set("req-9")
    try:
        assert stamped_canonical(DELIVERY) == replace(DELIVERY, request_id="req-9").canonical()
        assert stamped_canonical(BARE) == replace(BARE, request_id="req-9").canonical()
        assert stamped_canonical(ODD) == ODD.canonical()  # it names its own request: kept
    finally:
        serving_request.reset(token)
    assert stamped_canonical(DELIVERY) == DELIVERY.canonical()  # outside any request
    assert b"request_id" not in DELIVERY.canonical()


def _as_first_written(record: AuditRecord) -> bytes:
    """The encoding as first written (before 6f61a8c's and 2026-12-06's speed-ups): every field
    left out whose value is None, an empty tuple or an empty dict."""
    body = {k: v for k, v in vars(record).items() if v not in (None, (), {})}
    body["v"] = 1
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


_TEXT = st.one_of(st.none(), st.text(max_size=8))
_DETAIL = st.dictionaries(
    st.text(max_size=5),
    st.one_of(
        st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5), st.just([]), st.just({})
    ),
    max_size=3,
)


@settings(max_examples=300)
@given(
    st.builds(
        AuditRecord,
        kind=st.text(min_size=1, max_size=8),
        at_ms=st.integers(0, 2**53),
        outcome=st.text(max_size=8),
        request_id=_TEXT,
        consumer=_TEXT,
        purpose=_TEXT,
        subject_hash=_TEXT,
        providers=st.lists(st.text(max_size=5), max_size=2).map(tuple),
        latency_us=st.one_of(st.none(), st.integers(0, 10**9)),
        detail=_DETAIL,
        actor=_TEXT,
    )
)
def test_any_record_encodes_as_the_encoding_first_written(record: AuditRecord):
    # Zero, the empty string and empty values inside `detail` are kept; absent ones left out.
    assert record.canonical() == _as_first_written(record)
