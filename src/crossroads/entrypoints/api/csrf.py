"""CSRF protection for the portal's forms: a token kept in the signed session cookie, written
into every form as a hidden field (`csrf`), and checked on every POST with the browser's own
word on where the request comes from (`Sec-Fetch-Site`, else `Origin`).

The session cookies are SameSite=Lax, which already keeps them off a cross-site POST in today's
browsers; the token is the defence that does not depend on the browser's policy.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import parse_qsl

from fastapi import Request

from ...domain.errors import Refusal
from .form_upload import announced_size

FIELD = "csrf"
MAX_FORM_BYTES = 65_536  # the portal's forms are a few fields; a batch file is not a form field


def csrf_token(request: Request) -> str:
    """The session's token, made when the session has none yet."""
    held = request.session.get(FIELD)
    if not isinstance(held, str):
        held = secrets.token_urlsafe(32)
        request.session[FIELD] = held
    return held


def same_origin(request: Request, issuer: str) -> bool:
    """Whether the browser says the request comes from the hub's own pages: `Sec-Fetch-Site`,
    else `Origin` against the issuer. A client that sends neither is not a browser, which is
    what a cross-site forgery needs."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == issuer


def check(request: Request, sent: str | None, issuer: str) -> None:
    """Refuse (`csrf_failed`) a form whose token is not the session's, or that another site
    posted."""
    expected = request.session.get(FIELD)
    if (
        not isinstance(expected, str)
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
        or not same_origin(request, issuer)
    ):
        raise _forged()


def check_before_body(request: Request, issuer: str) -> None:
    """Refuse (`csrf_failed`) what `check` would refuse without the token: a session that has no
    token, a post from another site. For a form too large to read before refusing it (a batch
    file), whose token is then checked as soon as it arrives."""
    if not isinstance(request.session.get(FIELD), str) or not same_origin(request, issuer):
        raise _forged()


def _too_large() -> Refusal:
    return Refusal("payload_too_large", f"a form is at most {MAX_FORM_BYTES} bytes.")


def _forged() -> Refusal:
    return Refusal(
        "csrf_failed",
        "this form was not sent from the page the hub gave you (or your session ended): "
        "open the page again and resend it.",
    )


async def checked_form(request: Request, issuer: str) -> dict[str, str]:
    """The posted form's fields (application/x-www-form-urlencoded), once its token is checked.
    What can be refused without the body (another site's post, a session with no token, a body
    larger than a form) is refused before it is read, and a body is read no further than a
    form's size."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form: dict[str, str] = {}
    body = b""
    if media == "application/x-www-form-urlencoded":  # anything else carries no token
        check_before_body(request, issuer)
        if announced_size(request) > MAX_FORM_BYTES:
            raise _too_large()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise _too_large()
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    check(request, form.pop(FIELD, None), issuer)
    _check_text(body)  # after the token: a forged form learns nothing from what is wrong with it
    return form


# Text a person types: line breaks and tabs, never the other C0 controls or DEL (PostgreSQL's
# text cannot hold U+0000, which the JSON API refuses too; no form field means any of the others).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_text(body: bytes) -> None:
    """Refuse a form whose fields are not UTF-8 once percent-decoded, or hold a control
    character: replacing or dropping what was sent would store something else than the person
    wrote, without telling them."""
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Refusal("malformed_request", "the form's text is not UTF-8.") from None
    for name, value in fields:
        if _CONTROL.search(value):
            raise Refusal(
                "malformed_request",
                f"{name[:64]} holds a control character; write it as plain text.",
                name[:64],
            )
