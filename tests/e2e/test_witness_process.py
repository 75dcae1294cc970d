"""A real witness process (`crossroads witness`) countersigning the heads of a real hub process."""

from __future__ import annotations

import json
import signal
import subprocess

import httpx

from crossroads.demo.launch import free_port_block, wait_ready
from crossroads.services.witness import verify_cosignature
from crossroads.verifier import verify_consistency, verify_tree_head

from .processes import CLI, Deployment, wait_for


def test_a_running_hub_publishes_its_heads_to_a_witness_and_a_folder(tmp_path):
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'hub' / 'crossroads.sqlite3'}")
    port = free_port_block(1)
    witness = subprocess.Popen([*CLI, "witness", "--hub-jwks", str(deployment.data_dir / "hub-jwks.json"),
                                "--data", str(tmp_path / "witness"), "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/witness/.well-known/jwks.json", witness)
        deployment.env["CROSSROADS_WITNESS_URLS"] = json.dumps([f"http://127.0.0.1:{port}"])
        deployment.env["CROSSROADS_TREE_HEAD_PUBLISH_DIR"] = str(tmp_path / "published")
        deployment.start(0)
        latest = f"http://127.0.0.1:{port}/witness/v1/tree-heads/latest"
        first = wait_for(lambda: httpx.get(latest).status_code == 200 and httpx.get(latest).json(), what="a countersigned head")
        token = deployment.token(0)
        for i in range(5):  # the log grows: the witness must see it grow consistently
            httpx.post(f"{deployment.url(0)}/v1/exchange/person.identity", timeout=10, headers={"Authorization": f"Bearer {token}"},
                       json={"subject": deployment.subjects[i], "purpose": "SOCIAL_INTEGRATION"})
        second = wait_for(lambda: (h := httpx.get(latest).json())["tree_size"] > first["tree_size"] and h, what="a later head")
        witness_jwks = httpx.get(f"http://127.0.0.1:{port}/witness/.well-known/jwks.json").json()
        for head in (first, second):
            verify_cosignature(head, witness_jwks)
            verify_tree_head(head, deployment.jwks(0))
        old, new = verify_tree_head(first, deployment.jwks(0)), verify_tree_head(second, deployment.jwks(0))
        verify_consistency(old[0], new[0], old[1], new[1], deployment.consistency(0, old[0], new[0]))
        assert "crossroads_tree_head_publish_failures_total 0.0" in httpx.get(f"{deployment.url(0)}/metrics").text
        # The hub serves its latest head with the witness's countersignature once it has one.
        served = wait_for(lambda: (h := httpx.get(f"{deployment.url(0)}/v1/audit/tree-head", headers=deployment.operator).json())
                          ["cosignatures"] and h, what="a head served with its cosignature")
        assert served["cosignatures"][0]["witness"] == f"http://127.0.0.1:{port}"
        verify_cosignature({**served, "cosignature": served["cosignatures"][0]["cosignature"]}, witness_jwks)
        published = sorted((tmp_path / "published").glob("tree-head-*.json"))
        assert published and verify_tree_head(json.loads(published[-1].read_text()), deployment.jwks(0))
    finally:
        witness.send_signal(signal.SIGTERM)
        witness.wait(20)
        deployment.stop_all()
