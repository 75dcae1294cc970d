"""A file sent from a portal form (multipart/form-data), read as it arrives: the form's text
fields and its one file, each by name.

The body is parsed chunk by chunk while it is received, so the event loop only looks for the
form's boundary in each chunk (bytes.find) and memory holds the file once, which storing it
needs, and at most FORM_OVERHEAD_BYTES of everything else. (The standard library's MIME parser,
used before, took the whole body at once on the event loop: about 0.15 s and 30 times the
body's size in memory per MB, so one 100 MB DmfA stopped the hub for 29 s.)

`before_file` is called with the fields read so far when the file's part begins, before any of
its bytes are kept: the CSRF token, which the page's form sends before the file, is checked
there, so a forged upload is refused without its file being read.

The body's size is bounded as it arrives (BodyLimit in app.py allows the batch forms' paths what
the API allows a batch file, and FORM_OVERHEAD_BYTES more for the form's own parts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser

from fastapi import Request

from ...domain.errors import Refusal

FORM_OVERHEAD_BYTES = 65_536  # the parts' headers, the CSRF token and the other fields
MAX_PARTS = 16  # the page's form has two
_MAX_BOUNDARY = 70  # RFC 2046


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]
    file: bytes
    filename: str
    content_type: str


async def read_upload(
    request: Request, file_field: str, before_file: Callable[[dict[str, str]], None]
) -> Upload:
    """The form's fields and the file in `file_field`; `malformed_request` when there is none
    (with the field `file_field`) or when the body is not a whole multipart form."""
    media = request.headers.get("content-type", "")
    if not media.lower().startswith("multipart/form-data"):
        raise Refusal("unsupported_media_type", "send the file from the page's form.")
    form = _Form(_boundary(media), file_field, before_file)
    async for chunk in request.stream():
        form.feed(chunk)
    return form.finish()


def announced_size(request: Request) -> int:
    """The body's size as its Content-Length announces it; 0 when it announces none (a chunked
    body) or no number (BodyLimit refuses that body when it is read)."""
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else 0


def _boundary(media: str) -> bytes:
    header = Message()
    header["content-type"] = media
    boundary = header.get_boundary()
    if not boundary or len(boundary) > _MAX_BOUNDARY or not boundary.isascii():
        raise Refusal("malformed_request", "the form's Content-Type names no valid boundary.")
    return boundary.encode("ascii")


class _Form:
    """A multipart body fed in chunks (RFC 7578): the delimiter is CRLF, "--" and the boundary;
    a part is its headers, a blank line and its content up to the next delimiter; "--" after a
    delimiter ends the form."""

    def __init__(
        self, boundary: bytes, file_field: str, before_file: Callable[[dict[str, str]], None]
    ) -> None:
        self._delimiter = b"\r\n--" + boundary
        self._file_field = file_field
        self._before_file = before_file
        self._buffer = b"\r\n"  # so that the first delimiter, at the start, looks like the others
        self._state = "preamble"
        self._other_bytes = 0  # everything but the file's content, bounded
        self._parts = 0
        self._fields: dict[str, bytes] = {}
        self._part: str | None = None  # the current field's name; None for one not kept
        self._in_file = False
        self._file: list[bytes] = []
        self._file_meta: tuple[str, str] | None = None  # (filename, content type)

    def feed(self, chunk: bytes) -> None:
        if self._state == "end":
            return  # the epilogue, ignored as RFC 2046 says
        self._buffer += chunk
        while self._step():
            pass

    def _step(self) -> bool:
        """Move on as far as the buffer allows; whether to look again."""
        if self._state in ("preamble", "content"):
            at = self._buffer.find(self._delimiter)
            keep = len(self._buffer) - len(self._delimiter) + 1 if at < 0 else at
            if keep > 0:
                self._take(self._buffer[:keep])
            if at < 0:
                self._buffer = self._buffer[max(keep, 0) :]
                return False
            self._end_part()
            self._buffer = self._buffer[at + len(self._delimiter) :]
            self._state = "delimiter"
            return True
        if self._state == "delimiter":
            if self._buffer.startswith(b"--"):
                self._state = "end"
                return False
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                self._bound(len(self._buffer))
                return False
            if self._buffer[:line_end].strip(b" \t"):
                raise Refusal("malformed_request", "the form's boundary line is not one.")
            self._buffer = self._buffer[line_end + 2 :]
            self._state = "headers"
            return True
        if self._state == "headers":
            if self._buffer.startswith(b"\r\n"):
                end = 0  # a part without headers
            else:
                found = self._buffer.find(b"\r\n\r\n")
                if found < 0:
                    self._bound(len(self._buffer))
                    return False
                end = found + 2  # the last header's line end is the headers'
            self._other_bytes += end + 2
            self._bound(0)
            self._begin_part(self._buffer[:end])
            self._buffer = self._buffer[end + 2 :]
            self._state = "content"
            return True
        return False

    def _bound(self, pending: int) -> None:
        if self._other_bytes + pending > FORM_OVERHEAD_BYTES:
            raise Refusal(
                "payload_too_large",
                f"the form's parts besides its file are at most {FORM_OVERHEAD_BYTES} bytes.",
            )

    def _begin_part(self, headers: bytes) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise Refusal("malformed_request", f"a form has at most {MAX_PARTS} parts.")
        parsed = BytesHeaderParser(policy=policy.HTTP).parsebytes(headers + b"\r\n")
        name = parsed.get_param("name", header="content-disposition")
        filename = parsed.get_filename()
        self._part = name if isinstance(name, str) else None
        if self._part == self._file_field and filename is not None and self._file_meta is None:
            self._before_file({k: v.decode("utf-8", "replace") for k, v in self._fields.items()})
            self._file_meta = (filename, parsed.get_content_type())
            self._in_file = True
        elif self._part is not None:
            self._fields[self._part] = b""

    def _take(self, data: bytes) -> None:
        if self._in_file:
            self._file.append(data)
            return
        self._other_bytes += len(data)
        self._bound(0)
        if self._state == "content" and self._part is not None:
            self._fields[self._part] += data

    def _end_part(self) -> None:
        self._in_file = False
        self._part = None

    def finish(self) -> Upload:
        if self._state != "end":
            raise Refusal("malformed_request", "the form's body ended before its last boundary.")
        file = b"".join(self._file)
        self._file.clear()
        if self._file_meta is None or not file:
            raise Refusal("malformed_request", "choose the file to send.", self._file_field)
        fields = {k: v.decode("utf-8", "replace") for k, v in self._fields.items()}
        return Upload(fields, file, *self._file_meta)
