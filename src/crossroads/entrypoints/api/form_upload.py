"""A file sent from a portal form (multipart/form-data), read with the standard library's MIME
parser: the form's text fields and its one file, each by name.

The body's size is bounded before it is read (BodyLimit in app.py allows the batch forms' paths
what the API allows a batch file, and a little more for the form's own parts).
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from fastapi import Request

from ...domain.errors import Refusal

FORM_OVERHEAD_BYTES = 65_536  # the parts' headers, the CSRF token and the other fields


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]
    file: bytes
    filename: str
    content_type: str


async def read_upload(request: Request, file_field: str) -> Upload:
    """The form's fields and the file in `file_field`; `malformed_request` when there is none."""
    media = request.headers.get("content-type", "")
    if not media.lower().startswith("multipart/form-data"):
        raise Refusal("unsupported_media_type", "send the file from the page's form.")
    body = await request.body()
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + media.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    found: Upload | None = None
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if name == file_field and part.get_filename() is not None:
            found = Upload({}, payload, part.get_filename() or "", part.get_content_type())
        else:
            fields[name] = payload.decode("utf-8", "replace")
    if found is None or not found.file:
        raise Refusal("malformed_request", "choose the file to send.", file_field)
    return Upload(fields, found.file, found.filename, found.content_type)
