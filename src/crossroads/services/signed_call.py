"""A request the hub sends to an institution's server: signed with the hub's key, answered in JSON.

Exchanges forward requests to providers this way, and initial synchronisation asks publishers for
a person's current state; both refuse alike when the answer is an error status or not JSON.
"""

from __future__ import annotations

import orjson

from ..domain import unique_keys
from ..domain.audit import untrusted_text
from ..domain.errors import Refusal
from .clock import Clock
from .ports import ProviderClient, Signer


async def ask_signed(
    client: ProviderClient,
    signer: Signer,
    clock: Clock,
    url: str,
    body: bytes,
    request_id: str,
    who: str,
) -> object:
    """POST `body` to `url` with the hub's detached signature (`aud` the URL, `rid`, `iat`) and
    return the decoded JSON answer. `who` names the institution in refusals ("provider 0200…")."""
    signature = signer.sign_detached(body, {"aud": url, "rid": request_id, "iat": int(clock.now())})
    reply = await client.post(
        url,
        body,
        {
            "Content-Type": "application/json",
            "X-Crossroads-Signature": signature,
            "X-Request-Id": request_id,
        },
    )
    if reply.status >= 400:
        raise Refusal(
            "provider_error", f"{who} answered with HTTP status {reply.status}{_said(reply.body)}."
        )
    try:
        return unique_keys.loads(reply.body)
    except unique_keys.DuplicateKey as exc:
        # Checked against the service's schema and then sent on as read: an answer read one way
        # here and another by the consumer's parser would carry a value no schema checked.
        raise Refusal(
            "invalid_provider_response", f"{who} answered JSON naming a key twice: {exc}."
        ) from None
    except orjson.JSONDecodeError:
        raise Refusal("invalid_provider_response", f"{who} did not answer JSON.") from None


def _said(body: bytes) -> str:
    """The code and sentence of an error in the hub's own format (a peer hub's, or a provider
    kit's), kept to a safe alphabet: what the caller needs to tell whose check refused."""
    try:
        error = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return ""
    return f" ({untrusted_text(error['code'], 40)}: {untrusted_text(error.get('message'), 200)})"
