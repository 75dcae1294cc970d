"""A hub asks its peer, signed with its own key, to subscribe one of its members to a mutation type
the peer publishes (docs/federation.md, "Mutations across hubs"): what `crossroads federation
subscribe` and the demo's second hub do, as this hub's operator."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import orjson

from .keys import HubKeys


def subscribe_across(
    instance: str,
    keys_folder: Path,
    peer_url: str,
    member: str,
    code: str,
    purpose: str,
    http: httpx.Client,
) -> int:
    """POST the signed request to the peer; its status (201, or 409 when the member is subscribed
    already). RuntimeError with the peer's answer otherwise."""
    url = f"{peer_url}/v1/federation/{instance}/subscriptions"
    rid = str(uuid.uuid4())
    body = orjson.dumps(
        {"request_id": rid, "consumer": member, "mutation_type": code, "purpose": purpose}
    )
    keys = HubKeys.load(keys_folder)
    signature = keys.sign_detached(body, {"aud": url, "rid": rid, "iat": int(time.time())})
    answer = http.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", "X-Crossroads-Signature": signature},
    )
    if answer.status_code not in (201, 409):
        raise RuntimeError(f"POST {url} answered {answer.status_code}: {answer.text}")
    return answer.status_code
