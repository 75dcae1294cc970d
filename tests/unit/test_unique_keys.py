"""JSON naming a key twice in one object is refused, wherever the key and however it is written;
the cheap count that spares a second parse never lets one through (domain/unique_keys.py)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.domain import unique_keys
from crossroads.domain.unique_keys import DuplicateKey

# Keys and strings rich in what the count looks at: colons written plainly or escaped, escapes
# that are not colons, a literal backslash before "u003a", and a key equal to another once read.
PIECES = [":", "a", "b", "\\u003a", "\\u003A", "\\u0061", "\\\\u003a", "\\\\", "é", "\\n", " "]
text_of = st.lists(st.sampled_from(PIECES), max_size=4).map(lambda p: '"' + "".join(p) + '"')


def _json(depth: int = 3) -> st.SearchStrategy[str]:
    """JSON text whose objects may repeat a key: objects are written pair by pair."""
    leaves = st.one_of(text_of, st.sampled_from(["1", "-2.5e3", "true", "null", "[]", "{}"]))
    if depth == 0:
        return leaves
    inner = _json(depth - 1)
    arrays = st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
    objects = st.lists(st.tuples(text_of, inner), max_size=4).map(
        lambda pairs: "{" + ", ".join(f"{k} : {v}" for k, v in pairs) + "}"
    )
    return st.one_of(leaves, arrays, objects)


def _repeats(text: str) -> bool:
    """The reference: the standard library's parser handing over every pair as written."""
    found = False

    def pairs(items: list) -> dict:
        nonlocal found
        found = found or len({k for k, _ in items}) < len(items)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return found


@settings(max_examples=600, deadline=None)
@given(_json())
def test_a_repeated_key_is_refused_and_nothing_else_is(text):
    if _repeats(text):
        with pytest.raises(DuplicateKey):
            unique_keys.loads(text.encode())
    else:
        assert unique_keys.loads(text.encode()) == json.loads(text)


def test_the_refusal_names_the_repeated_keys_path():
    cases = {
        b'{"amount": 1, "amount": 1000}': "amount",
        b'{"payload": {"since": "10:00", "since": "11:00"}}': "payload.since",
        b'[1, {"items": [{"a": 1}, {"b": 1, "\\u0062": 2}]}]': "[1].items[1].b",
        b'{"a": 1, "a": "\\u003a"}': "a",  # the escaped colon does not hide the lost member
    }
    for text, path in cases.items():
        with pytest.raises(DuplicateKey) as refused:
            unique_keys.loads(text)
        assert refused.value.path == path and str(refused.value).startswith(f"{path}: the key")


def test_colons_in_strings_and_escapes_are_not_mistaken_for_members():
    text = b'{"url": "https://x.example:8443/a", "k:\\u003a": "\\u003A", "t": "\\\\u003a"}'
    assert unique_keys.loads(text) == {
        "url": "https://x.example:8443/a",
        "k::": ":",
        "t": "\\u003a",
    }


def test_a_jws_segment_is_read_the_same_way():
    assert unique_keys.loads_b64url("eyJhbGciOiJFZERTQSJ9") == {"alg": "EdDSA"}
    with pytest.raises(DuplicateKey):  # {"alg":"none","alg":"EdDSA"}
        unique_keys.loads_b64url("eyJhbGciOiJub25lIiwiYWxnIjoiRWREU0EifQ")


def test_a_value_orjson_will_not_write_again_is_counted_by_walking_it():
    deep = "[" * 300 + '{"a": 1, "a": 2}' + "]" * 300
    with pytest.raises(DuplicateKey) as refused:
        unique_keys.loads(deep)
    assert refused.value.path == "[0]" * 300 + ".a"
    assert unique_keys.loads("[" * 300 + '{"a": ":"}' + "]" * 300)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_json_not_in_utf_8_is_refused_where_the_standard_library_would_read_it(
    encoding, monkeypatch
):
    """An escaped colon in UTF-16 is not the bytes the count looks for: it could cancel the member
    a repeated key loses. Only UTF-8 is read (RFC 8259 §8.1), by orjson as by the standard
    library (the provider kit's parser when orjson is absent, and the client assertion's)."""
    text = '{"iss":"evil","x":"\\u003a","iss":"good"}'.encode(encoding)
    monkeypatch.setattr(unique_keys, "_parse", unique_keys._parse_stdlib)
    with pytest.raises(ValueError) as refused:
        unique_keys.loads(text)
    assert not isinstance(refused.value, DuplicateKey) or refused.value.path == "iss"


def test_a_client_assertion_in_utf_16_is_refused():
    from crossroads.domain.errors import Refusal
    from crossroads.services.client_assertions import unverified_claims

    claims = '{"iss":"evil","x":"\\u003a","iss":"good"}'.encode("utf-16")
    segment = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    with pytest.raises(Refusal) as refused:
        unverified_claims(f"eyJhbGciOiJFZERTQSJ9.{segment}.c2ln")
    assert refused.value.code == "invalid_client"
