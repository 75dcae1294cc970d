"""The hub's signing keys through their life (next, current, previous, retired) in a real folder,
as two hub processes reading it see them; the key history that endorses each new key; and the
trust a witness builds from it (never a key the history merely lists)."""

from __future__ import annotations

import json
import time

import pytest

from crossroads.adapters.key_folder import KeyFolder, KeyLifecycleError, NoHubKey
from crossroads.adapters.keys import HubKeys
from crossroads.key_history import follow_key_history, signing_kid
from crossroads.services.hub_key_trust import HubKeyTrust
from crossroads.services.transparency import TREE_HEAD_TYPE
from crossroads.verifier import ProofError, tree_head_bytes, verify_tree_head


def states(keys: HubKeys) -> list[str]:
    return [entry["state"] for entry in keys.key_history()["keys"]]


def head(keys: HubKeys, size: int) -> dict:
    root, at = bytes([size]) * 32, int(time.time() * 1000)
    import base64

    return {
        "tree_size": size,
        "root_hash": base64.b64encode(root).decode(),
        "timestamp": at,
        "signature": keys.sign_detached(tree_head_bytes(size, root, at), {"typ": TREE_HEAD_TYPE}),
    }


def test_a_folder_without_a_key_is_refused_unless_the_signing_hub_creates_the_first(tmp_path):
    with pytest.raises(NoHubKey):
        HubKeys.load(tmp_path / "keys")
    assert not (tmp_path / "keys").exists()
    made = HubKeys.load_or_create(tmp_path / "keys")
    assert states(made) == ["current"] and HubKeys.load(tmp_path / "keys").kid == made.kid
    with pytest.raises(KeyLifecycleError):
        KeyFolder(tmp_path / "keys").create_first()


def test_a_next_key_is_published_before_it_signs_and_retired_keys_stay_published(tmp_path):
    folder = KeyFolder(tmp_path / "keys")
    one = HubKeys.load_or_create(folder.directory, reload_seconds=0)
    other = HubKeys.load(folder.directory, reload_seconds=0)  # another hub process
    first = one.kid
    old_head = head(one, 3)
    old_token = one.issue_token({"iat": int(time.time()), "exp": int(time.time()) + 60})

    nxt = folder.publish_next()
    for process in (one, other):
        assert process.kid == first  # published, not signing
        assert {k["kid"] for k in process.jwks()["keys"]} == {first, nxt.kid}
        assert states(process) == ["current", "next"]

    folder.activate()
    for process in (one, other):
        assert process.kid == nxt.kid and states(process) == ["previous", "current"]
        assert process.verify_token(old_token, time.time())["exp"]  # still valid until retired

    (retired,) = folder.retire()
    on_disk = json.loads(retired.path.read_text())
    assert "d" not in on_disk["jwk"] and on_disk["retired_at"]  # the private part is gone
    for process in (one, other):
        assert states(process) == ["retired", "current"]
        assert len(process.jwks()["keys"]) == 2  # published forever
        verify_tree_head(old_head, process.jwks())  # old proofs still check
        with pytest.raises(Exception, match="not signed by this hub"):
            process.verify_token(old_token, time.time())  # but no token counts any more
    with pytest.raises(KeyLifecycleError):
        folder.retire(nxt.kid)  # the current key never retires


def test_a_scheduled_key_becomes_current_at_its_time_without_a_reload(tmp_path):
    keys = HubKeys.load_or_create(tmp_path / "keys", reload_seconds=3600)
    first = keys.kid
    nxt = KeyFolder(tmp_path / "keys").publish_next(activates_at=time.time() + 0.3)
    keys._load_at = 0  # the publication itself is read at the next reload
    assert keys.kid == first
    time.sleep(0.35)
    assert keys.kid == nxt.kid


def test_the_key_history_endorses_each_key_from_the_one_before_and_nothing_else(tmp_path):
    folder = KeyFolder(tmp_path / "keys")
    keys = HubKeys.load_or_create(folder.directory, reload_seconds=0)
    pinned = keys.jwks()
    for _ in range(3):  # three rotations, each retiring the key before
        folder.publish_next()
        folder.activate()
        folder.retire()
    history = keys.key_history()
    assert [e["state"] for e in history["keys"]] == ["retired"] * 3 + ["current"]
    assert history["keys"][0]["endorsement"] is None
    assert all(
        signing_kid(e["endorsement"]) == history["keys"][i]["kid"]
        for i, e in enumerate(history["keys"][1:])
    )
    followed = follow_key_history(pinned, history)
    assert [k["kid"] for k in followed["keys"]] == [e["kid"] for e in history["keys"]]

    # A key dropped into the folder by hand (or listed by a hub that lies) has no endorsement
    # from a trusted key: it is published, never believed.
    stranger = HubKeys.load_or_create(tmp_path / "elsewhere").key_history()["keys"][0]
    forged = {"keys": [*history["keys"], {**stranger, "endorsement": None}]}
    assert stranger["kid"] not in {k["kid"] for k in follow_key_history(pinned, forged)["keys"]}
    # Nor does an endorsement moved onto another key count.
    moved = {"keys": [{**stranger, "endorsement": history["keys"][1]["endorsement"]}]}
    assert follow_key_history(pinned, moved) == follow_key_history(pinned, {"keys": []})
    # Trusting nothing of this hub, nothing of its history is believed.
    other = HubKeys.load_or_create(tmp_path / "other").jwks()
    assert follow_key_history(other, history)["keys"] == other["keys"]


class History:
    """The hub's key history as a witness fetches it (from this process: no network here)."""

    def __init__(self, keys: HubKeys) -> None:
        self.keys, self.asked = keys, 0

    def fetch(self) -> dict:
        self.asked += 1
        return self.keys.key_history()


def test_a_witness_learns_an_endorsed_key_when_a_head_names_it_at_most_once_per_interval(
    tmp_path,
):
    folder = KeyFolder(tmp_path / "keys")
    keys = HubKeys.load_or_create(folder.directory, reload_seconds=0)
    history = History(keys)
    now = [1000.0]
    trust = HubKeyTrust(keys.jwks(), history, min_interval_seconds=30, clock=lambda: now[0])
    before = head(keys, 1)
    assert trust.jwks_for(before["signature"]) is trust.jwks() and history.asked == 0
    folder.publish_next()
    folder.activate()
    after = head(keys, 2)
    verify_tree_head(after, trust.jwks_for(after["signature"]))
    assert history.asked == 1
    # Heads signed by a key nobody endorsed make the witness ask again only after the interval,
    # and are refused whatever the history says.
    stranger = HubKeys.load_or_create(tmp_path / "stranger")
    forged = head(stranger, 3)
    now[0] += 31
    for _ in range(5):
        with pytest.raises(ProofError):
            verify_tree_head(forged, trust.jwks_for(forged["signature"]))
    assert history.asked == 2
    now[0] += 31
    trust.jwks_for(forged["signature"])
    assert history.asked == 3


def test_key_files_of_an_older_version_count_as_activated_in_the_order_of_their_names(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    made = [HubKeys.load_or_create(tmp_path / f"old{n}") for n in range(2)]
    for n, keys in enumerate(made):  # a bare private JWK per file, as earlier versions wrote
        (stored,) = KeyFolder(tmp_path / f"old{n}").read()
        (folder / f"2025010{n + 1}T000000-{keys.kid[:8]}.jwk.json").write_text(
            json.dumps(stored.jwk)
        )
    keys = HubKeys.load(folder, reload_seconds=0)
    assert keys.kid == made[1].kid and states(keys) == ["previous", "current"]
    KeyFolder(folder).retire()
    assert states(keys) == ["retired", "current"] and len(keys.jwks()["keys"]) == 2
