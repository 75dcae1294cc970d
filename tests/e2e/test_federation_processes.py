"""Two federated hubs as real processes, each with its own store (hub A on SQLite, hub B on
PostgreSQL): a member of A asks a provider of B through both hubs, each checks its own side and
audits the exchange under one request id; and a SIGKILL of either hub under load loses no
acknowledged exchange and leaves both audit logs verifiable (docs/federation.md)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import httpx
import pytest

from crossroads.adapters.keys import HubKeys, make_client_assertion
from crossroads.adapters.peer_subscription import subscribe_across
from crossroads.demo import country
from crossroads.demo.federation import PEER_NUMBER, HubSide, federate, federate_mutations
from crossroads.demo.seed import client_key_path
from crossroads.domain.federation import Offer
from crossroads.key_history import signing_kid

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..support import ASSERTION_TYPE
from .processes import PERSONS, Deployment, wait_for

NATIONAL_REGISTER = country.BY_KEY["nr"].number
WELFARE_NUMBER = country.BY_KEY["welfare"].number
CHILDBEN_NUMBER = country.BY_KEY["childben"].number
REMOTE_IDENTITY = "b.person.identity"


def _side(d: Deployment, instance: str) -> HubSide:
    token = json.loads((d.data_dir / "secrets.json").read_text())["admin_token"]
    return HubSide(instance, d.issuer, d.data_dir, token)


@pytest.fixture
def two_hubs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    store_b = fresh_postgres_database()
    a = Deployment(tmp_path / "a", f"sqlite:///{tmp_path / 'a' / 'hub' / 'crossroads.sqlite3'}")
    b = None
    try:
        b = Deployment(tmp_path / "b", store_b)
        for d, instance in ((a, "A"), (b, "B")):
            d.env["CROSSROADS_FEDERATION_INSTANCE"] = instance
            # The hubs push to each other on 127.0.0.1, which production refuses.
            d.env["CROSSROADS_ALLOW_INTERNAL_WEBHOOKS"] = "1"
            d.env["CROSSROADS_PUSH_RETRY_BASE_SECONDS"] = "0.2"
            d.env["CROSSROADS_PUSH_RETRY_MAX_SECONDS"] = "1"
            d.env["CROSSROADS_PUSH_MAX_ATTEMPTS"] = "100"
            d.env["CROSSROADS_KEYS_RELOAD_SECONDS"] = "0.5"
            d.start(0)
        with httpx.Client(timeout=10) as http:
            federate(_side(a, "A"), _side(b, "B"), [WELFARE_NUMBER], ["person.identity"], http)
        wait_for(lambda: _ask(a, a.token(0), a.subjects[0]).status_code == 200, what="federation")
        yield a, b
    finally:
        a.stop_all()
        if b is not None:
            b.stop_all()
        drop_postgres_database(store_b)


def _ask(d: Deployment, token: str, subject: str, service: str = REMOTE_IDENTITY, **headers):
    return httpx.post(
        f"{d.url(0)}/v1/exchange/{service}",
        headers={"Authorization": f"Bearer {token}", **headers},
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
        timeout=10,
    )


def _by_request_id(records: list[dict]) -> dict[str, dict]:
    return {r["request_id"]: r for r in records if "request_id" in r}


def test_a_member_of_one_hub_asks_a_provider_of_the_other_and_both_audit_it(two_hubs):
    a, b = two_hubs
    token = a.token(0)
    answer = _ask(a, token, a.subjects[1])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [only] = body["answers"]
    assert only["provider"] == PEER_NUMBER
    assert set(only["data"]) == {"name", "first_names", "birth_date"}
    rid = body["request_id"]

    mine = _by_request_id(a.audit_records())[rid]
    theirs = _by_request_id(b.audit_records())[rid]
    assert mine["consumer"] == theirs["consumer"] == WELFARE_NUMBER
    assert mine["outcome"] == theirs["outcome"] == "ok"
    assert mine["providers"] == [PEER_NUMBER] and mine["detail"] == {"peers": ["B"]}
    assert theirs["providers"] == [NATIONAL_REGISTER] and theirs["detail"] == {"via": "A"}
    assert theirs["service"] == "person.identity/1" and "application" not in theirs
    for d in (a, b):
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_hub_refuses_what_its_own_side_does_not_allow(two_hubs):
    a, b = two_hubs
    token = a.token(0)
    # B's side: a signature that is not A's, and no signature at all, are refused and audited.
    path = "/v1/federation/A/exchange/person.identity/1"
    forged = httpx.post(
        f"{b.url(0)}{path}",
        json={"request_id": "forged-1", "consumer": WELFARE_NUMBER, "subject": a.subjects[0]},
        timeout=10,
    )
    assert forged.status_code == 401 and forged.json()["code"] == "peer_untrusted"
    unknown = httpx.post(
        f"{b.url(0)}/v1/federation/Z/exchange/person.identity/1",
        json={"request_id": "forged-2", "consumer": WELFARE_NUMBER},
        timeout=10,
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_peer"

    # A's side: a person the asking member does not hold in A's directory never leaves A.
    outsider = next(s for s in country.persons(PERSONS) if s not in set(a.subjects))
    refused = _ask(a, token, outsider)
    assert refused.status_code == 403, refused.text
    code = refused.json()["code"]
    assert code in ("subject_not_in_directory", "provisional_not_accepted")
    rid = refused.json()["request_id"]
    assert _by_request_id(a.audit_records())[rid]["outcome"] == code
    assert rid not in _by_request_id(b.audit_records())

    # B's side: B withdraws the service from its offer; A's exchange is refused by B, and both
    # hubs log the refusal under the same request id.
    _side(b, "B").folder.write_offer(Offer(services=frozenset()))

    def refused_by_b():
        answer = _ask(a, token, a.subjects[2])
        return answer if answer.status_code == 502 else None

    answer = wait_for(refused_by_b, what="B to withdraw the service")
    rid = answer.json()["request_id"]
    assert "not_offered" in answer.json()["message"]
    assert _by_request_id(b.audit_records())[rid]["outcome"] == "not_offered"
    assert _by_request_id(a.audit_records())[rid]["outcome"] == "provider_error"


def test_a_peer_is_answered_only_for_the_members_recorded_as_its_own(two_hubs):
    """A's document lists the welfare centre, which B (seeded with the same country) has in its
    registry too. While B records it as A's member, A's requests for it are answered; once B
    records it as its own, the same signed request of A is refused (`not_peer_member`) and
    audited by B, whatever A's document lists (docs/federation.md, "What a pin trusts")."""
    a, b = two_hubs
    token = a.token(0)
    assert _ask(a, token, a.subjects[3]).status_code == 200
    member = httpx.get(f"{b.url(0)}/admin/institutions/{WELFARE_NUMBER}", headers=b.operator)
    assert member.json()["peer"] == "A"
    own = {k: member.json()[k] for k in ("name", "member_class", "base_url", "webhook_bases")}
    put = httpx.put(f"{b.url(0)}/admin/institutions/{WELFARE_NUMBER}", headers=b.operator, json=own)
    assert put.status_code == 200, put.text
    # Signed by A's key, naming a member A's document lists: what B answered before it recorded
    # whose members are whose.
    path, body, headers = _signed_by_a(a, b, "own-member-1")
    refused = httpx.post(f"{b.url(0)}{path}", content=body, headers=headers, timeout=10)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_peer_member"
    record = _by_request_id(b.audit_records())["own-member-1"]
    assert record["outcome"] == "not_peer_member"
    assert record["action"].startswith("POST /v1/federation/")
    # So is A's subscription of it to one of B's mutation types, on the same ground.
    with httpx.Client(timeout=10) as http, pytest.raises(RuntimeError) as subscribing:
        subscribe_across(
            "A", a.data_dir / "keys", b.issuer, WELFARE_NUMBER, "person.death", "CARE", http
        )
    assert "403" in str(subscribing.value) and "not_peer_member" in str(subscribing.value)
    # A's own exchange through its hub is refused by B the same way, and logged on both sides.
    answer = _ask(a, token, a.subjects[4])
    assert answer.status_code == 502 and "not_peer_member" in answer.json()["message"]
    assert _by_request_id(b.audit_records())[answer.json()["request_id"]]["outcome"] == (
        "not_peer_member"
    )
    put = httpx.put(
        f"{b.url(0)}/admin/institutions/{WELFARE_NUMBER}",
        headers=b.operator,
        json={**own, "peer": "A"},
    )
    assert put.status_code == 200, put.text
    assert _ask(a, token, a.subjects[4]).status_code == 200


def test_a_hub_that_rotates_its_key_is_still_believed_by_its_peer(two_hubs):
    """Hub A rotates its signing key as its operator would; hub B, which pinned only A's first
    key, believes the new one because A's key history endorses it, and no operator of B acts."""
    import subprocess

    from .processes import CLI

    a, b = two_hubs
    for step in (["keys", "rotate"], ["keys", "activate"]):
        done = subprocess.run([*CLI, *step], env=a.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    history = httpx.get(f"{a.url(0)}/.well-known/crossroads/key-history", timeout=10).json()
    first, new = history["keys"][0]["kid"], history["keys"][-1]["kid"]
    assert first != new and history["keys"][-1]["state"] == "current"
    pinned = json.loads((b.data_dir / "federation" / "peers" / "A.json").read_text())
    assert [k["kid"] for k in pinned["jwks"]["keys"]] == [first]
    time.sleep(1)  # A's process reads its key folder again
    token = a.token(0)
    assert signing_kid(token) == new  # A's process signs with the new key now
    answer = _ask(a, token, a.subjects[4])
    assert answer.status_code == 200, answer.text


def test_a_request_replayed_to_another_process_of_the_answering_hub_is_refused(two_hubs):
    """Hub B runs two processes on one store. A request signed by A, accepted by one of them, is
    refused by the other when sent again within its signature's life, as by the first: the
    requests accepted are kept in the store the processes share, not in each one's memory."""
    a, b = two_hubs
    b.start(1)
    rid = "captured-1"
    path, body, headers = _signed_by_a(a, b, rid)
    first = httpx.post(f"{b.url(0)}{path}", content=body, headers=headers, timeout=10)
    assert first.status_code == 200, first.text
    for process in (1, 0):
        again = httpx.post(f"{b.url(process)}{path}", content=body, headers=headers, timeout=10)
        assert again.status_code == 401, again.text
        assert again.json()["code"] == "peer_untrusted"
        assert "already received" in again.json()["message"]
    answered = [r for r in b.audit_records() if r.get("request_id") == rid]
    assert [r["outcome"] for r in answered] == ["ok"]  # the replays never reached the exchange


def _signed_by_a(a: Deployment, b: Deployment, rid: str) -> tuple[str, bytes, dict[str, str]]:
    """A request for B's person.identity in the welfare centre's name, signed by A's own key as
    A's process signs what it sends B (to replay it, or send it when B no longer should answer):
    its path at B, body and headers."""
    [authorization] = [
        x
        for x in httpx.get(f"{b.url(0)}/admin/authorizations", headers=b.operator).json()
        if x["service"] == "person.identity" and x["consumer"] == WELFARE_NUMBER
    ]
    path = "/v1/federation/A/exchange/person.identity/1"
    body = json.dumps(
        {
            "request_id": rid,
            "consumer": WELFARE_NUMBER,
            "subject": a.subjects[0],
            "purpose": authorization["purpose"],
            "capacities": authorization["required_capacities"],
        }
    ).encode()
    signature = HubKeys.load(a.data_dir / "keys").sign_detached(
        body, {"aud": b.issuer + path, "rid": rid, "iat": int(time.time())}
    )
    return path, body, {"Content-Type": "application/json", "X-Crossroads-Signature": signature}


def _load(d: Deployment, token: str, answered: list[tuple[str, str]], stop, worker: int) -> None:
    with httpx.Client(timeout=5) as http:
        i = 0
        while not stop.is_set():
            sent = f"fed-{worker}-{i}"
            try:
                answer = http.post(
                    f"{d.url(0)}/v1/exchange/{REMOTE_IDENTITY}",
                    headers={"Authorization": f"Bearer {token}", "X-Request-Id": sent},
                    json={
                        "subject": d.subjects[i % len(d.subjects)],
                        "purpose": "SOCIAL_INTEGRATION",
                    },
                )
            except httpx.TransportError:
                return  # the asking hub is gone: this request was promised nothing
            if answer.status_code == 200:
                answered.append((sent, answer.json()["request_id"]))
            i += 1


@pytest.mark.parametrize("victim", ["asking", "answering"])
def test_a_hub_killed_under_cross_hub_load_loses_no_acknowledged_exchange(two_hubs, victim):
    a, b = two_hubs
    token = a.token(0)
    answered: list[tuple[str, str]] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(a, token, answered, stop, w)) for w in range(6)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answered) >= 150, timeout=90, what="cross-hub load to be under way")
    killed = a if victim == "asking" else b
    killed.kill(0)
    if victim == "answering":  # the asking hub goes on answering (refusals) for a moment
        time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(15)
    assert len(answered) >= 150
    killed.start(0)

    sent_ids = {sent for sent, _ in answered}
    rids = {rid for _, rid in answered}
    missing_a = sent_ids - a.logged_client_request_ids()
    assert not missing_a, f"{len(missing_a)} acknowledged exchanges not in A's log"
    b_records = _by_request_id(b.audit_records())
    missing_b = rids - set(b_records)
    assert not missing_b, f"{len(missing_b)} acknowledged exchanges not in B's log"
    assert all(b_records[rid]["outcome"] == "ok" for rid in rids)
    for d in (a, b):
        wait_for(
            lambda d=d: d.head(0).get("tree_size", 0) >= len(answered),
            what="the hub to sequence its log",
        )
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # Federation resumes once the killed hub is back.
    wait_for(lambda: _ask(a, a.token(0), a.subjects[3]).status_code == 200, what="resumption")


def _token(d: Deployment, client: str) -> dict:
    key = json.loads(client_key_path(d.data_dir, client).read_text())
    answer = httpx.post(
        f"{d.url(0)}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_client_assertion(client, f"{d.issuer}/oauth/token", key),
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_member_of_one_hub_receives_a_mutation_published_in_the_other(two_hubs):
    a, b = two_hubs
    with httpx.Client(timeout=10) as http:
        local = federate_mutations(
            _side(a, "A"),
            _side(b, "B"),
            WELFARE_NUMBER,
            "person.address-change",
            "SOCIAL_INTEGRATION",
            http,
        )
        assert local == "b.person.address-change"
        # The member subscribes at its own hub, under its own hub's authorization.
        welfare_at_a = _token(a, f"{WELFARE_NUMBER}:case-app")
        subscribed = http.post(
            f"{a.url(0)}/v1/subscriptions",
            headers=welfare_at_a,
            json={"mutation_type": local, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert subscribed.status_code == 201, subscribed.text
        person = a.subjects[5]
        published = http.post(
            f"{b.url(0)}/v1/mutations/person.address-change",
            headers=_token(b, f"{NATIONAL_REGISTER}:register-app"),
            json={
                "id": "addr-across-1",
                "subject": person,
                "effective_date": "2026-11-30",
                "payload": {"street": "Rue Haute 1", "postcode": "1000", "city": "Bruxelles"},
            },
        )
        assert published.status_code == 201, published.text

        def received():
            box = http.get(f"{a.url(0)}/v1/mailbox", headers=welfare_at_a).json()
            mine = [m["event"] for m in box["messages"] if m["event"]["id"] == "addr-across-1"]
            return mine[0] if mine else None

        event = wait_for(received, timeout=30, what="the mutation to cross to hub A")
    assert event["type"] == "be.crossroads.b.person.address-change.v1"
    assert event["source"] == f"urn:crossroads:institution:{PEER_NUMBER}"
    assert event["data"]["city"] == "Bruxelles"
    b_log = b.audit_records()
    pushed = [
        r
        for r in b_log
        if r.get("action") == "mutation.deliver" and r.get("target") == "addr-across-1"
    ]
    assert any(r["application"] == "peer.A" and r["consumer"] == WELFARE_NUMBER for r in pushed)
    a_log = a.audit_records()
    assert any(
        r.get("action") == "mutation.publish" and r.get("consumer") == PEER_NUMBER for r in a_log
    )
    for d in (a, b):
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_subscribing_hub_killed_while_mutations_cross_loses_none(two_hubs):
    """B pushes to A's inbox and counts a batch delivered only once A has stored its
    publication: mutations B accepted while A was killed and down reach A's member after A is
    back, each once."""
    a, b = two_hubs
    with httpx.Client(timeout=10) as http:
        local = federate_mutations(
            _side(a, "A"),
            _side(b, "B"),
            WELFARE_NUMBER,
            "person.address-change",
            "SOCIAL_INTEGRATION",
            http,
        )
        welfare_at_a = _token(a, f"{WELFARE_NUMBER}:case-app")
        assert (
            http.post(
                f"{a.url(0)}/v1/subscriptions",
                headers=welfare_at_a,
                json={"mutation_type": local, "purpose": "SOCIAL_INTEGRATION"},
            ).status_code
            == 201
        )
        register = _token(b, f"{NATIONAL_REGISTER}:register-app")

        def publish(n: int) -> None:
            answer = http.post(
                f"{b.url(0)}/v1/mutations/person.address-change",
                headers=register,
                json={
                    "id": f"kill-{n}",
                    "subject": a.subjects[n % len(a.subjects)],
                    "effective_date": "2026-11-30",
                    "payload": {"city": f"City {n}"},
                },
            )
            assert answer.status_code == 201, answer.text

        for n in range(20):
            publish(n)
        a.kill(0)  # while B's pushes are in flight
        for n in range(20, 40):
            publish(n)  # accepted by B while A is down
        a.start(0)
        welfare_at_a = _token(a, f"{WELFARE_NUMBER}:case-app")

        def all_received():
            box = http.get(
                f"{a.url(0)}/v1/mailbox", headers=welfare_at_a, params={"limit": 1000}
            ).json()
            ids = [
                m["event"]["id"] for m in box["messages"] if m["event"]["id"].startswith("kill-")
            ]
            return ids if len(set(ids)) == 40 else None

        ids = wait_for(all_received, timeout=90, what="every mutation to reach A's member")
    assert len(ids) == len(set(ids)) == 40  # each once in the mailbox
    for d in (a, b):
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_person_known_by_another_identifier_crosses_under_the_linked_one(two_hubs):
    """Hub A's operator pins B as keeping another identifier scheme, with A's national register
    as the authority for the links. A member of A asking B about a person needs an authorization
    for the built-in service federation.identifiers too, and a link; B is then asked, and its
    mutations arrive, under the identifier B knows; every lookup is in A's log."""
    a, b = two_hubs
    side_a = _side(a, "A")
    pin = side_a.folder.peers()["B"]
    side_a.folder.write_pin(replace(pin, identifier_authority=NATIONAL_REGISTER))
    mine = a.subjects[6]
    # The identifier B knows this person by: another person of the demo, whose identity B's
    # register answers differently (a birth date of its own), so the answer shows who B was asked.
    theirs = next(
        s
        for s in a.subjects[7:]
        if country.identity(s)["birth_date"] != country.identity(mine)["birth_date"]
    )
    unlinked = a.subjects[8] if a.subjects[8] != theirs else a.subjects[9]
    with httpx.Client(timeout=10) as http:
        welfare = {"Authorization": f"Bearer {a.token(0)}"}

        def refused_without_authorization():
            answer = http.post(
                f"{a.url(0)}/v1/exchange/{REMOTE_IDENTITY}",
                headers=welfare,
                json={"subject": mine, "purpose": "SOCIAL_INTEGRATION"},
            )
            return answer if answer.json().get("code") == "no_authorization" else None

        # A's processes see the new pin within a second or two.
        refused = wait_for(refused_without_authorization, what="A to read the new pin")
        assert refused.status_code == 403 and "federation.identifiers" in refused.json()["message"]
        assert refused.json()["request_id"] not in _by_request_id(b.audit_records())

        # A's operator authorizes the member to use the links, as for the remote service.
        remote = next(
            x
            for x in http.get(f"{a.url(0)}/admin/authorizations", headers=a.operator).json()
            if x["service"] == REMOTE_IDENTITY and x["consumer"] == WELFARE_NUMBER
        )
        put = http.put(
            f"{a.url(0)}/admin/authorizations/{remote['reference']}-ID",
            headers=a.operator,
            json={
                **{k: remote[k] for k in ("consumer", "purpose", "legal_basis", "valid_from")},
                "service": "federation.identifiers",
                "required_capacities": remote["required_capacities"],
                "allowed_fields": ["peer", "identifier", "authority"],
                "valid_to": remote["valid_to"],
            },
        )
        assert put.status_code in (200, 201), put.text
        link_ref = f"{remote['reference']}-ID"

        def refused_without_link():
            answer = http.post(
                f"{a.url(0)}/v1/exchange/{REMOTE_IDENTITY}",
                headers=welfare,
                json={"subject": mine, "purpose": "SOCIAL_INTEGRATION"},
            )
            return answer if answer.json().get("code") == "no_identifier_link" else None

        no_link = wait_for(refused_without_link, what="A to see the authorization")
        assert no_link.status_code == 404
        rid = no_link.json()["request_id"]
        assert _by_request_id(a.audit_records())[rid]["outcome"] == "no_identifier_link"
        assert rid not in _by_request_id(b.audit_records())

        # Only the authority records links: the member may not; A's register may.
        link = {"subject": mine, "identifier": theirs}
        by_member = http.post(f"{a.url(0)}/v1/identifiers/B/links", headers=welfare, json=link)
        assert by_member.status_code == 403
        assert by_member.json()["code"] == "not_identifier_authority"
        register = _token(a, f"{NATIONAL_REGISTER}:register-app")
        recorded = http.post(f"{a.url(0)}/v1/identifiers/B/links", headers=register, json=link)
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["authority"] == NATIONAL_REGISTER

        answer = http.post(
            f"{a.url(0)}/v1/exchange/{REMOTE_IDENTITY}",
            headers=welfare,
            json={"subject": mine, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert answer.status_code == 200, answer.text
        [only] = answer.json()["answers"]
        assert only["data"]["birth_date"] == country.identity(theirs)["birth_date"]
        rid = answer.json()["request_id"]
        record = _by_request_id(a.audit_records())[rid]
        assert record["detail"] == {
            "peers": ["B"],
            "identifiers": {"B": {"authority": NATIONAL_REGISTER, "authorization": link_ref}},
        }
        assert _by_request_id(b.audit_records())[rid]["outcome"] == "ok"

        # The member may look the link up itself, as a service, authorized and audited.
        looked = http.post(
            f"{a.url(0)}/v1/identifiers/B",
            headers=welfare,
            json={"subject": mine, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert looked.status_code == 200, looked.text
        assert looked.json()["answers"][0]["data"]["identifier"] == theirs
        looked_record = _by_request_id(a.audit_records())[looked.json()["request_id"]]
        assert looked_record["service"] == "federation.identifiers"
        assert looked_record["authorization"] == link_ref

        # Mutations B publishes about the person under B's identifier reach A's member under
        # A's; one about a person without a link is refused by A, and A logs both look-ups.
        local = federate_mutations(
            side_a,
            _side(b, "B"),
            WELFARE_NUMBER,
            "person.address-change",
            "SOCIAL_INTEGRATION",
            http,
        )
        welfare_app = _token(a, f"{WELFARE_NUMBER}:case-app")
        subscribed = http.post(
            f"{a.url(0)}/v1/subscriptions",
            headers=welfare_app,
            json={"mutation_type": local, "purpose": "SOCIAL_INTEGRATION"},
        )
        assert subscribed.status_code == 201, subscribed.text
        b_register = _token(b, f"{NATIONAL_REGISTER}:register-app")
        for mutation_id, subject in (("linked-1", theirs), ("unlinked-1", unlinked)):
            published = http.post(
                f"{b.url(0)}/v1/mutations/person.address-change",
                headers=b_register,
                json={
                    "id": mutation_id,
                    "subject": subject,
                    "effective_date": "2026-11-30",
                    "payload": {"city": "Tartu"},
                },
            )
            assert published.status_code == 201, published.text

        def received():
            box = http.get(f"{a.url(0)}/v1/mailbox", headers=welfare_app).json()
            return [m["event"] for m in box["messages"] if m["event"]["id"] == "linked-1"] or None

        [event] = wait_for(received, timeout=30, what="the linked mutation to cross")
        assert event["subject"] == mine

        def uses():
            found = {
                r["target"]: r
                for r in a.audit_records()
                if r.get("action") == "identifier_link.use"
            }
            return found if {"linked-1", "unlinked-1"} <= set(found) else None

        logged = wait_for(uses, timeout=30, what="A to log both look-ups")
    assert logged["linked-1"]["outcome"] == "ok"
    assert logged["linked-1"]["detail"] == {"peer": "B", "authority": NATIONAL_REGISTER}
    assert logged["unlinked-1"]["outcome"] == "no_identifier_link"
    box = httpx.get(f"{a.url(0)}/v1/mailbox", headers=welfare_app, timeout=10).json()
    assert not [m for m in box["messages"] if m["event"]["id"] == "unlinked-1"]
    for d in (a, b):
        checked = d.verify_log()
        assert checked.returncode == 0, checked.stdout + checked.stderr
