"""The audit log across real hub processes: one sequencer elected among them, take-over when it is
killed, and nothing acknowledged lost when a hub is killed under load (SIGKILL, no clean-up)."""

from __future__ import annotations

import threading
import time

import httpx

from crossroads.verifier import verify_consistency, verify_tree_head

from .processes import wait_for


def ask(base: str, token: str, subject: str, request_id: str) -> int:
    return httpx.post(
        f"{base}/v1/exchange/person.identity",
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id},
        json={"subject": subject, "purpose": "SOCIAL_INTEGRATION"},
    ).status_code


def test_one_sequencer_among_hub_processes_and_take_over_when_it_is_killed(deployment):
    d = deployment
    d.start(1)
    d.start(2)
    wait_for(lambda: [d.leader(1), d.leader(2)].count(True) == 1, what="exactly one sequencer")
    first, second = (1, 2) if d.leader(1) else (2, 1)
    tokens = {n: d.token(n) for n in (1, 2)}
    for i, subject in enumerate(d.subjects[:10]):
        assert ask(d.url(1 + i % 2), tokens[1 + i % 2], subject, f"before-{i}") == 200
    size_before = wait_for(
        lambda: (h := d.head(second)).get("tree_size", 0) >= 10 and h["tree_size"],
        what="a head over the first exchanges",
    )
    head_before = d.head(second)

    d.kill(first)
    wait_for(lambda: d.leader(second), what="the surviving process to take over")
    for i, subject in enumerate(d.subjects[10:20]):
        assert ask(d.url(second), tokens[second], subject, f"after-{i}") == 200
    wait_for(
        lambda: d.head(second)["tree_size"] >= size_before + 10,
        what="a head over the later exchanges",
    )

    head_after = d.head(second)
    jwks = d.jwks(second)
    old_size, old_root = verify_tree_head(head_before, jwks)
    new_size, new_root = verify_tree_head(head_after, jwks)
    verify_consistency(
        old_size, new_size, old_root, new_root, d.consistency(second, old_size, new_size)
    )
    assert {f"before-{i}" for i in range(10)} | {
        f"after-{i}" for i in range(10)
    } <= d.logged_client_request_ids()
    checked = d.verify_log()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_hub_killed_under_load_loses_nothing_it_answered(deployment):
    d = deployment
    d.start(1)
    token = d.token(1)
    answered: list[str] = []
    heads: list[dict] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(timeout=5) as http:
            i = 0
            while not stop.is_set():
                request_id = f"load-{worker}-{i}"
                try:
                    status = http.post(
                        f"{d.url(1)}/v1/exchange/person.identity",
                        headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id},
                        json={
                            "subject": d.subjects[i % len(d.subjects)],
                            "purpose": "SOCIAL_INTEGRATION",
                        },
                    ).status_code
                except httpx.TransportError:
                    return  # the hub is gone: this request got no answer, so it promised nothing
                if status == 200:
                    answered.append(request_id)
                i += 1

    def watch_heads() -> None:
        while not stop.is_set():
            try:
                heads.append(d.head(1))
            except httpx.TransportError:
                return
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)] + [
        threading.Thread(target=watch_heads)
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answered) >= 300, timeout=60, what="load to be under way")
    d.kill(1)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(answered) >= 300

    d.start(1)
    wait_for(
        lambda: d.head(1).get("tree_size", 0) >= len(answered),
        what="the restarted hub to sequence the log",
    )
    missing = set(answered) - d.logged_client_request_ids()
    assert not missing, (
        f"{len(missing)} answered exchanges are not in the log, e.g. {sorted(missing)[:3]}"
    )

    latest = d.head(1)
    jwks = d.jwks(1)
    new_size, new_root = verify_tree_head(latest, jwks)
    signed_before = {h["tree_size"]: h for h in heads if "tree_size" in h}
    assert signed_before, "no tree head was seen before the kill"
    # Every head shown before the crash is a prefix of the log now.
    for head in signed_before.values():
        old_size, old_root = verify_tree_head(head, jwks)
        verify_consistency(
            old_size, new_size, old_root, new_root, d.consistency(1, old_size, new_size)
        )
    checked = d.verify_log()
    assert checked.returncode == 0, checked.stdout + checked.stderr
