"""A file sent from a portal form (multipart/form-data), read as it arrives: the form's text
fields and its one file, each by name.

The body is parsed by python-multipart's streaming parser (the one Starlette's request.form()
uses), fed chunk by chunk as it is received: the event loop only looks for the form's boundary
in each chunk and memory holds the file once, which storing it needs, and at most
FORM_OVERHEAD_BYTES (and MAX_PARTS parts) of everything else. (The standard library's MIME
parser, used before, took the whole body at once on the event loop: about 0.15 s and 30 times
the body's size in memory per MB, so one 100 MB DmfA stopped the hub for 29 s. Starlette's
request.form() streams, but spools the file to a temporary file and checks nothing before the
file's content is read, hence the parser's callbacks here.)

`before_file` is called with the fields read so far when the file's part begins, before any of
its bytes are kept: the CSRF token, which the page's form sends before the file, is checked
there, so a forged upload is refused without its file being read.

The body's size is bounded as it arrives (BodyLimit in app.py allows the batch forms' paths what
the API allows a batch file, and FORM_OVERHEAD_BYTES more for the form's own parts).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

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
    media, options = parse_options_header(request.headers.get("content-type", ""))
    if media != b"multipart/form-data":
        raise Refusal("unsupported_media_type", "send the file from the page's form.")
    form = _Form(_boundary(options.get(b"boundary", b"")), file_field, before_file)
    async for chunk in request.stream():
        form.feed(chunk)
    return form.finish()


def announced_size(request: Request) -> int:
    """The body's size as its Content-Length announces it; 0 when it announces none (a chunked
    body) or no number (BodyLimit refuses that body when it is read)."""
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else 0


def _boundary(boundary: bytes) -> bytes:
    if not boundary or len(boundary) > _MAX_BOUNDARY or not boundary.isascii():
        raise Refusal("malformed_request", "the form's Content-Type names no valid boundary.")
    return boundary


class _Form:
    """A multipart body fed in chunks to python-multipart's MultipartParser, whose callbacks
    keep the text fields and the file and count the parts."""

    def __init__(
        self, boundary: bytes, file_field: str, before_file: Callable[[dict[str, str]], None]
    ) -> None:
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_end": self._end,
            },
            # Our bound on all the form's bytes but the file (FORM_OVERHEAD_BYTES, checked after
            # each chunk) governs the headers too, instead of the library's 4 KiB per line: a
            # header past it is `payload_too_large` like any other excess, not a parse error.
            max_header_size=sys.maxsize,
        )
        self._delimiter = b"\r\n--" + boundary
        self._file_field = file_field
        self._before_file = before_file
        self._preamble: bytes | None = b"\r\n"  # so that the first delimiter looks like the others
        self._received = 0  # the body's bytes so far, the file's among them
        self._file_size = 0
        self._parts = 0
        self._name_pieces: list[bytes] = []  # the current header's, as it arrives
        self._value_pieces: list[bytes] = []
        self._headers: dict[bytes, bytes] = {}
        self._fields: dict[str, bytearray] = {}
        self._kept: bytearray | None = None  # the current text field's content, if kept
        self._in_file = False
        self._file: list[bytes] = []
        self._file_meta: tuple[str, str] | None = None  # (filename, content type)
        self._ended = False

    def feed(self, chunk: bytes) -> None:
        if self._ended:
            return  # the epilogue, ignored as RFC 2046 says
        self._received += len(chunk)
        if self._preamble is not None:
            chunk = self._skip_preamble(chunk)
        try:
            self._parser.write(chunk)
        except FormParserError as error:
            raise Refusal(
                "malformed_request", "the form's body is not well-formed multipart/form-data."
            ) from error
        if not self._ended:  # the epilogue's bytes in this chunk are not the form's
            self._bound()

    def _bound(self) -> None:
        if self._received - self._file_size > FORM_OVERHEAD_BYTES:
            raise Refusal(
                "payload_too_large",
                f"the form's parts besides its file are at most {FORM_OVERHEAD_BYTES} bytes.",
            )

    def _skip_preamble(self, chunk: bytes) -> bytes:
        """What follows the preamble in `chunk`, once its end is found. Written by hand because
        python-multipart refuses a preamble, which RFC 2046 allows before the first delimiter
        (no browser sends one): the text up to it is skipped, keeping only the bytes that may
        begin the delimiter, and counted as part of the form's overhead."""
        assert self._preamble is not None
        seen = self._preamble + chunk
        at = seen.find(self._delimiter)
        if at < 0:
            self._preamble = seen[-(len(self._delimiter) - 1) :]
            self._bound()
            return b""
        self._preamble = None
        return seen[at + 2 :]  # from "--" and the boundary

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise Refusal("malformed_request", f"a form has at most {MAX_PARTS} parts.")
        self._headers = {}
        self._kept = None
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name_pieces.append(data[start:end])

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value_pieces.append(data[start:end])

    def _header_end(self) -> None:
        name, value = b"".join(self._name_pieces), b"".join(self._value_pieces)
        self._headers[name.lower()] = value.strip(b" \t")
        self._name_pieces.clear()
        self._value_pieces.clear()

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition"))
        name = _text(disposition.get(b"name"))
        filename = _text(disposition.get(b"filename"))
        if name == self._file_field and filename is not None and self._file_meta is None:
            self._before_file({k: v.decode("utf-8", "replace") for k, v in self._fields.items()})
            media, _ = parse_options_header(self._headers.get(b"content-type"))
            self._file_meta = (filename, media.decode("latin-1") or "text/plain")
            self._in_file = True
        elif name is not None:
            self._kept = self._fields[name] = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._file.append(data[start:end])
            self._file_size += end - start
        elif self._kept is not None:
            self._kept += data[start:end]

    def _end(self) -> None:
        self._ended = True

    def finish(self) -> Upload:
        if not self._ended:
            raise Refusal("malformed_request", "the form's body ended before its last boundary.")
        file = b"".join(self._file)
        self._file.clear()
        if self._file_meta is None or not file:
            raise Refusal("malformed_request", "choose the file to send.", self._file_field)
        fields = {k: v.decode("utf-8", "replace") for k, v in self._fields.items()}
        return Upload(fields, file, *self._file_meta)


def _text(value: bytes | None) -> str | None:
    # python-multipart gives a header's bytes as received; browsers send names in UTF-8.
    return None if value is None else value.decode("utf-8", "replace")
