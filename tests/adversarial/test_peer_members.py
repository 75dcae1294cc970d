"""A peer hub names its member in each request, and lists its members in its own document: both
are the peer's word alone. This hub answers a peer only for the members its own registry records
for that very peer (docs/federation.md, "What a pin trusts"): a peer that lists one of this hub's
own members, or a member of another peer, is refused (`not_peer_member`), on SQLite and on
PostgreSQL. The keys, stores and registry use cases are real; only the network between the hubs is
replaced (tests/services/test_federation.py's)."""

from __future__ import annotations

import time

import pytest

from crossroads.adapters.federation_folder import FederationFolder
from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.store import open_store
from crossroads.domain.errors import Refusal
from crossroads.domain.federation import Offer, PeerPin
from crossroads.domain.identifiers import scheme_for
from crossroads.domain.registry import Institution
from crossroads.services.clock import FixedClock
from crossroads.services.registry import RegistryAdmin

from ..services.test_federation import Network, _signed, federation_for

pytestmark = pytest.mark.anyio
OURS = "0200000736"  # a member of this hub (B) of its own
A_MEMBER = "0200000835"  # recorded here as peer A's member
C_MEMBER = "0200000934"  # recorded here as peer C's member
STRANGER = "0200001033"  # not registered here at all
A_URL, B_URL, C_URL = "https://hub-a.example", "https://hub-b.example", "https://hub-c.example"
PATH = "/v1/federation/A/exchange/person.identity/1"


@pytest.fixture
async def hubs(tmp_path, store_url):
    """Hub B (the store under test) pins A and C; A's document lists every member above."""
    network, clock = Network(), FixedClock(time.time())
    store = await open_store(store_url)
    other = await open_store(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    try:
        folders = {n: FederationFolder(tmp_path / n / "federation") for n in "ABC"}
        keys = {n: HubKeys.load_or_create(tmp_path / n / "keys", reload_seconds=0) for n in "ABC"}
        for name, url in (("A", A_URL), ("C", C_URL)):
            federation_for(name, url, folders[name], network, keys[name], clock, other)
        b = federation_for("B", B_URL, folders["B"], network, keys["B"], clock, store)
        folders["A"].write_offer(Offer(members=frozenset({OURS, A_MEMBER, C_MEMBER, STRANGER})))
        folders["B"].write_offer(Offer(services=frozenset({"person.identity"})))
        folders["B"].write_pin(PeerPin("A", A_URL, keys["A"].jwks()))
        folders["B"].write_pin(PeerPin("C", C_URL, keys["C"].jwks()))
        admin = RegistryAdmin(
            store.registry, store.audit, clock, scheme_for("BE"), pinned=folders["B"].peers
        )
        await admin.put_institution(Institution(OURS, "Our welfare centre"))
        await admin.put_institution(Institution(A_MEMBER, "A's welfare centre", peer="A"))
        await admin.put_institution(Institution(C_MEMBER, "C's welfare centre", peer="C"))
        yield b, keys["A"], clock, admin, store
    finally:
        await store.close()
        await other.close()


async def _refused(b, a_keys, clock, rid: str, consumer: str) -> Refusal:
    body, signature = _signed(a_keys, clock, rid, B_URL + PATH)
    with pytest.raises(Refusal) as refused:
        await b.check_request("A", B_URL + PATH, body, signature, consumer)
    return refused.value


async def test_a_peer_listing_this_hubs_own_member_is_refused(hubs):
    b, a_keys, clock, _, _ = hubs
    refused = await _refused(b, a_keys, clock, "r-own", OURS)
    assert (refused.code, refused.field) == ("not_peer_member", "consumer")
    # The sentence goes to the peer: it does not say whose member the number is.
    assert "this hub's own" not in refused.message and "peer C" not in refused.message


async def test_a_peer_listing_another_peers_member_is_refused(hubs):
    b, a_keys, clock, _, _ = hubs
    assert (await _refused(b, a_keys, clock, "r-c", C_MEMBER)).code == "not_peer_member"
    assert (await _refused(b, a_keys, clock, "r-x", STRANGER)).code == "not_peer_member"


async def test_the_peers_own_member_is_answered_and_a_record_withdrawn_refuses_it(hubs):
    b, a_keys, clock, admin, store = hubs
    body, signature = _signed(a_keys, clock, "r-a", B_URL + PATH)
    assert await b.check_request("A", B_URL + PATH, body, signature, A_MEMBER) == "r-a"
    # The operator records it as C's instead (a member belongs to one peer at most): A is refused.
    assert (await admin.record_peer(A_MEMBER, "C")).peer == "C"
    assert (await store.registry.get_institution(A_MEMBER)).peer == "C"
    assert (await _refused(b, a_keys, clock, "r-a2", A_MEMBER)).code == "not_peer_member"
    await admin.record_peer(A_MEMBER, "A")
    body, signature = _signed(a_keys, clock, "r-a3", B_URL + PATH)
    assert await b.check_request("A", B_URL + PATH, body, signature, A_MEMBER) == "r-a3"


async def test_a_member_is_recorded_only_for_a_pinned_peer(hubs):
    _, _, _, admin, store = hubs
    for peer, code in (("Z", "unknown_peer"), ("not a code", "malformed_request")):
        with pytest.raises(Refusal) as refused:
            await admin.put_institution(Institution(STRANGER, "Stranger", peer=peer))
        assert refused.value.code == code
    assert await store.registry.get_institution(STRANGER) is None
    with pytest.raises(Refusal) as missing:
        await admin.record_peer(STRANGER, "A")
    assert missing.value.code == "not_found"
