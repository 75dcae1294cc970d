"""Federation's trust in a peer hub: its document and its requests are believed only when signed by
a key pinned or endorsed from one by its key history, for this hub's address, fresh, once, and
while the peer's document is current (docs/federation.md). The keys and stores are real (two hub
key folders, two SQLite stores); only the network between the two hubs is replaced, by a transport
that asks the other hub's Federation and keys directly."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from crossroads.adapters.federation_folder import FederationFolder
from crossroads.adapters.federation_jose import JoseFederation
from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.store import open_store
from crossroads.domain.errors import Refusal
from crossroads.domain.federation import Offer, PeerPin
from crossroads.domain.registry import Institution
from crossroads.services.clock import FixedClock
from crossroads.services.federation import Federation
from crossroads.services.peer_mutations import PeerMutations
from crossroads.services.ports import PeerDocuments

pytestmark = pytest.mark.anyio
MEMBER = "0200000736"
A_URL, B_URL = "https://hub-a.example", "https://hub-b.example"


class Network(PeerDocuments):
    """The peers' published documents, as the network would carry them."""

    def __init__(self) -> None:
        self.hubs: dict[str, tuple[Federation, HubKeys]] = {}
        self.down = False

    async def document(self, url: str) -> str:
        if self.down:
            raise ConnectionError("unreachable")
        return await self.hubs[url][0].document()

    async def key_history(self, url: str) -> dict:
        return self.hubs[url][1].key_history()


async def _no_services(codes: frozenset[str]) -> list[dict]:
    return [{"code": c, "version": "1"} for c in sorted(codes)]


@pytest.fixture
async def stores(tmp_path):
    opened = []

    async def open_one(name: str):
        opened.append(await open_store(f"sqlite:///{tmp_path / name / 'hub.sqlite3'}"))
        return opened[-1]

    yield open_one
    for store in opened:
        await store.close()


def federation_for(name, url, folder, network, keys, clock, store, lifetime=3600) -> Federation:
    """Hub `name`'s federation over `store`, joined to `network` at `url`."""
    federation = Federation(
        name,
        url,
        folder,
        network,
        JoseFederation(keys),
        keys.jwks,
        _no_services,
        store.seen_requests,
        clock,
        store.registry.get_institution,
        lifetime_seconds=lifetime,
        refresh_seconds=60,
    )
    network.hubs[url] = (federation, keys)
    return federation


async def _hub(tmp_path, stores, name, url, network, clock, lifetime=3600):
    keys = HubKeys.load_or_create(tmp_path / name / "keys", reload_seconds=0)
    store = await stores(name)
    folder = FederationFolder(tmp_path / name / "federation")
    federation = federation_for(name, url, folder, network, keys, clock, store, lifetime)
    if name == "B":  # B answers A's member only once it records it as A's (docs/federation.md)
        await store.registry.put_institution(Institution(MEMBER, "Welfare centre of A", peer="A"))
    return federation, keys, folder


@pytest.fixture
async def pair(tmp_path, stores):
    network = Network()
    clock = FixedClock(time.time())
    a, a_keys, a_folder = await _hub(tmp_path, stores, "A", A_URL, network, clock)
    b, b_keys, b_folder = await _hub(tmp_path, stores, "B", B_URL, network, clock)
    a_folder.write_offer(Offer(members=frozenset({MEMBER})))
    b_folder.write_offer(Offer(services=frozenset({"person.identity"})))
    b_folder.write_pin(PeerPin("A", A_URL, a_keys.jwks()))
    a_folder.write_pin(PeerPin("B", B_URL, b_keys.jwks(), "0999000030"))
    return network, clock, (a, a_keys, a_folder), (b, b_keys, b_folder)


PATH = "/v1/federation/A/exchange/person.identity/1"


def _signed(keys: HubKeys, clock, rid: str, url: str = B_URL + PATH) -> tuple[bytes, str]:
    body = b'{"request_id": "%s"}' % rid.encode()
    return body, keys.sign_detached(body, {"aud": url, "rid": rid, "iat": int(clock.now())})


async def test_a_request_signed_by_the_pinned_peer_is_accepted_once(pair):
    _, clock, (_, a_keys, _), (b, _, _) = pair
    body, signature = _signed(a_keys, clock, "r-1")
    assert await b.check_request("A", B_URL + PATH, body, signature, MEMBER) == "r-1"
    b.check_service("person.identity")
    with pytest.raises(Refusal) as replayed:
        await b.check_request("A", B_URL + PATH, body, signature, MEMBER)
    assert replayed.value.code == "peer_untrusted" and "already" in replayed.value.message


async def test_what_the_peer_did_not_sign_for_this_hub_is_refused(pair, tmp_path):
    _, clock, (_, a_keys, _), (b, _, _) = pair
    body, elsewhere = _signed(a_keys, clock, "r-2", url="https://other.example" + PATH)
    for signature, code in [
        (elsewhere, "peer_untrusted"),  # signed for another address
        (None, "peer_untrusted"),
        (_signed(HubKeys.load_or_create(tmp_path / "stranger"), clock, "r-3")[1], "peer_untrusted"),
    ]:
        with pytest.raises(Refusal) as refused:
            await b.check_request("A", B_URL + PATH, body, signature, MEMBER)
        assert refused.value.code == code
    body, signature = _signed(a_keys, clock, "r-4")
    with pytest.raises(Refusal) as unknown:
        await b.check_request("Z", B_URL + PATH, body, signature, MEMBER)
    assert unknown.value.code == "unknown_peer"
    with pytest.raises(Refusal) as not_offered:
        await b.check_request("A", B_URL + PATH, body, signature, "0200000835")
    assert not_offered.value.code == "not_offered"
    with pytest.raises(Refusal) as service:
        b.check_service("employment.periods")
    assert service.value.code == "not_offered"
    clock.at += 600  # a signature older than five minutes
    body, signature = _signed(a_keys, FixedClock(clock.at - 600), "r-5")
    with pytest.raises(Refusal) as old:
        await b.check_request("A", B_URL + PATH, body, signature, MEMBER)
    assert old.value.code == "peer_untrusted"


async def test_a_peer_rotates_its_key_and_is_still_believed_through_its_key_history(pair, tmp_path):
    _, clock, (_, a_keys, _), (b, _, _) = pair
    from crossroads.adapters.key_folder import KeyFolder

    folder = KeyFolder(tmp_path / "A" / "keys")
    new = folder.publish_next()
    folder.activate(new.kid)
    assert a_keys.kid == new.kid  # the peer signs with a key the other hub never pinned
    body, signature = _signed(a_keys, clock, "r-6")
    assert await b.check_request("A", B_URL + PATH, body, signature, MEMBER) == "r-6"


async def test_an_expired_document_of_a_peer_out_of_reach_is_not_believed(tmp_path, stores):
    network = Network()
    clock = FixedClock(time.time())
    _, a_keys, a_folder = await _hub(tmp_path, stores, "A", A_URL, network, clock, lifetime=120)
    b, _, b_folder = await _hub(tmp_path, stores, "B", B_URL, network, clock)
    a_folder.write_offer(Offer(members=frozenset({MEMBER})))
    b_folder.write_pin(PeerPin("A", A_URL, a_keys.jwks()))
    body, signature = _signed(a_keys, clock, "r-7")
    assert await b.check_request("A", B_URL + PATH, body, signature, MEMBER) == "r-7"
    network.down = True
    clock.at += 90  # past the refresh, within the document's life: the last one still counts
    body, signature = _signed(a_keys, clock, "r-8")
    assert await b.check_request("A", B_URL + PATH, body, signature, MEMBER) == "r-8"
    clock.at += 60  # past its expiry, the peer still out of reach
    body, signature = _signed(a_keys, clock, "r-9")
    with pytest.raises(Refusal) as expired:
        await b.check_request("A", B_URL + PATH, body, signature, MEMBER)
    assert expired.value.code == "peer_document_expired"
    network.down = False  # the peer publishes a current document again
    assert await b.check_request("A", B_URL + PATH, body, signature, MEMBER) == "r-9"


async def test_a_document_pinned_for_another_instance_or_address_is_refused(pair):
    network, clock, (_, a_keys, _), (b, _, b_folder) = pair
    b_folder.write_pin(PeerPin("A", "https://not-a.example", a_keys.jwks()))
    network.hubs["https://not-a.example"] = network.hubs[A_URL]
    await asyncio.sleep(1.1)  # the folder is looked at once a second
    body, signature = _signed(a_keys, clock, "r-10")
    with pytest.raises(Refusal) as refused:
        await b.check_request("A", B_URL + PATH, body, signature, MEMBER)
    assert refused.value.code == "peer_untrusted" and "pinned" in refused.value.message


async def test_a_signature_over_other_bytes_or_by_another_key_under_the_peer_kid_is_refused(
    pair, tmp_path
):
    _, clock, (_, a_keys, _), (b, _, _) = pair
    body, signature = _signed(a_keys, clock, "r-11")
    head, _, sig = signature.split(".")
    impostor = HubKeys.load_or_create(tmp_path / "impostor")
    forged = impostor.signing_key.private_key.sign(f"{head}.".encode() + _b64(body))
    for tampered, sent in [
        (body.replace(b"r-11", b"r-12"), signature),  # another body under A's signature
        (body, f"{head}..{_b64(forged).decode()}"),  # A's header and kid, another key's signature
        (body, f"{head}..{sig[:-4]}"),  # a signature cut short
    ]:
        with pytest.raises(Refusal) as refused:
            await b.check_request("A", B_URL + PATH, tampered, sent, MEMBER)
        assert refused.value.code == "peer_untrusted"
    assert await b.check_request("A", B_URL + PATH, body, signature, MEMBER) == "r-11"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signed_text(keys: HubKeys, header: bytes, payload: bytes, detached: bool) -> str:
    """A compact JWS over exactly these bytes, by `keys` (a JOSE library writes keys once)."""
    signing_input = _b64(header) + b"." + _b64(payload)
    signature = _b64(keys.signing_key.private_key.sign(signing_input))
    head = _b64(header) + b"." + (b"" if detached else _b64(payload))
    return (head + b"." + signature).decode()


async def test_a_signature_or_document_naming_a_key_twice_is_refused(pair):
    """Read by joserfc as its last `aud`, by another parser as its first: refused, though A's
    key signed it, as a document whose claims repeat one."""
    _, clock, (_, a_keys, _), (b, _, _) = pair
    body = b'{"request_id": "r-20"}'
    header = b'{"alg": "EdDSA", "kid": "%s", "aud": "https://elsewhere.example", "aud": "%s", ' % (
        a_keys.kid.encode(),
        (B_URL + PATH).encode(),
    ) + b'"rid": "r-20", "iat": %d}' % int(clock.now())
    with pytest.raises(Refusal) as refused:
        await b.check_request(
            "A", B_URL + PATH, body, _signed_text(a_keys, header, body, True), MEMBER
        )
    assert refused.value.code == "peer_untrusted" and "aud: the key appears twice" in str(
        refused.value.message
    )
    document = _signed_text(
        a_keys,
        b'{"alg": "EdDSA", "kid": "%s", "typ": "crossroads-federation"}' % a_keys.kid.encode(),
        b'{"instance": "A", "instance": "B"}',
        False,
    )
    with pytest.raises(Refusal) as refused:
        JoseFederation(a_keys).verify_document(document, a_keys.jwks())
    assert refused.value.code == "peer_untrusted" and "instance: the key appears" in (
        refused.value.message
    )


async def test_a_peers_push_or_subscription_naming_a_key_twice_is_refused(pair, world):
    """What a peer sends is read as this hub's API reads a member's body (domain/unique_keys.py)."""
    _, clock, (a, _, _), (_, b_keys, _) = pair
    peers = PeerMutations(a, world.mutations)
    url = A_URL + "/v1/federation/B/mutations"
    event = b'{"type": "x", "type": "be.crossroads.person.address-change.v1", "id": "m-1"}'
    pushed = b"[" + event + b"]"
    signature = b_keys.sign_detached(pushed, {"aud": url, "iat": int(clock.now())})
    with pytest.raises(Refusal) as refused:
        await peers.receive("B", url, pushed, signature)
    assert (refused.value.code, refused.value.field) == ("malformed_request", "[0].type")
    asked = b'{"consumer": "x", "consumer": "%s", "mutation_type": "t", "purpose": "p"}' % (
        MEMBER.encode()
    )
    with pytest.raises(Refusal) as refused:
        await peers.subscribe("B", A_URL + "/v1/federation/B/subscriptions", asked, None)
    assert (refused.value.code, refused.value.field) == ("malformed_request", "consumer")
