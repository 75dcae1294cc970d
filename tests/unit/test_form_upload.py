"""The portal's multipart reader (entrypoints/api/form_upload.py), fed as a server would: the
same form cut at every place gives the same fields and file; a form that is not whole, or whose
parts besides the file pass their bound, is refused; the file's content is not read when the
check made at its start refuses."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from crossroads.domain.errors import Refusal
from crossroads.entrypoints.api.form_upload import FORM_OVERHEAD_BYTES, MAX_PARTS, read_upload

pytestmark = pytest.mark.anyio
BOUNDARY = "----form-boundary-7MA4YWxk"
MEDIA = f"multipart/form-data; boundary={BOUNDARY}"
FILE = b"<Dimona>\r\n--not-the-boundary\r\n\r\n</Dimona>\r\n-" * 3


def part(headers: str, content: bytes) -> bytes:
    return f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"


FORM = (
    b"a preamble, ignored\r\n"
    + part('Content-Disposition: form-data; name="csrf"', "tökén".encode())
    + part(
        'Content-Disposition: form-data; name="file"; filename="forms.xml"\r\n'
        "Content-Type: application/xml",
        FILE,
    )
    + f"--{BOUNDARY}--\r\nan epilogue, ignored".encode()
)


class Sent:
    """A body received in `pieces`, counting those read."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)
        self.read = 0

    async def receive(self) -> dict:
        self.read += 1
        more = self.read < len(self.pieces)
        return {"type": "http.request", "body": self.pieces[self.read - 1], "more_body": more}


def request(sent: Sent, media: str = MEDIA) -> Request:
    headers = [(b"content-type", media.encode())]
    return Request({"type": "http", "method": "POST", "headers": headers}, sent.receive)


async def read(*pieces: bytes, seen: list | None = None):
    return await read_upload(
        request(Sent(*pieces)), "file", (seen if seen is not None else []).append
    )


async def test_a_form_cut_anywhere_reads_the_same():
    for cut in range(1, len(FORM)):
        seen: list[dict[str, str]] = []
        upload = await read(FORM[:cut], FORM[cut:], seen=seen)
        assert (upload.file, upload.filename, upload.content_type) == (
            FILE,
            "forms.xml",
            "application/xml",
        ), cut
        assert upload.fields == {"csrf": "tökén"} and seen == [{"csrf": "tökén"}], cut
    for size in (1, 2, 3, 7, 64):
        pieces = [FORM[i : i + size] for i in range(0, len(FORM), size)]
        assert (await read(*pieces)).file == FILE


async def test_a_form_that_is_not_whole_or_has_no_file_is_refused():
    for cut in (10, FORM.index(b"<Dimona>") + 3, len(FORM) - len("--\r\nan epilogue, ignored")):
        with pytest.raises(Refusal) as refused:
            await read(FORM[:cut])
        assert refused.value.code == "malformed_request" and refused.value.field is None, cut
    empty = part('Content-Disposition: form-data; name="file"; filename=""', b"")
    for body in (
        part('Content-Disposition: form-data; name="csrf"', b"x") + f"--{BOUNDARY}--".encode(),
        empty + f"--{BOUNDARY}--".encode(),
    ):
        with pytest.raises(Refusal) as refused:
            await read(body)
        assert (refused.value.code, refused.value.field) == ("malformed_request", "file")
    for media in ("multipart/form-data", f"multipart/form-data; boundary={'b' * 71}"):
        with pytest.raises(Refusal) as refused:
            await read_upload(request(Sent(FORM), media), "file", lambda fields: None)
        assert refused.value.code == "malformed_request"
    for media in ("application/json", f"multipart/form-data-x; boundary={BOUNDARY}"):
        with pytest.raises(Refusal) as refused:
            await read_upload(request(Sent(FORM), media), "file", lambda fields: None)
        assert refused.value.code == "unsupported_media_type"


async def test_a_part_that_is_not_well_formed_is_refused():
    """The parser's own errors (python-multipart's) are the caller's mistake: a header line
    without its colon, a header name with a space, a delimiter followed by more than padding."""
    file = part('Content-Disposition: form-data; name="file"; filename="f.xml"', FILE)
    for broken in (
        part("Content-Disposition form-data", b"x") + file,
        part('Content Disposition: form-data; name="csrf"', b"x") + file,
        f"--{BOUNDARY} and more\r\n\r\nx\r\n".encode() + file,
    ):
        with pytest.raises(Refusal) as refused:
            await read(broken + f"--{BOUNDARY}--".encode())
        assert (refused.value.code, refused.value.field) == ("malformed_request", None)


_NOISE = st.sampled_from([b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b":", b";", b'"', b"\xff"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(FORM)), st.integers(0, 4), _NOISE | st.binary(max_size=3)),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, len(FORM)),
)
def test_whatever_the_body_the_answer_is_the_form_or_a_refusal(edits, cut):
    """Never a 500: a form with bytes dropped or put anywhere is read or refused."""
    body = bytearray(FORM)
    for at, dropped, put in edits:
        body[at : at + dropped] = put
    try:
        asyncio.run(read(bytes(body[:cut]), bytes(body[cut:])))
    except Refusal as refused:
        assert refused.code in ("malformed_request", "payload_too_large"), refused


async def test_the_parts_besides_the_file_are_bounded():
    big = part('Content-Disposition: form-data; name="note"', b"x" * FORM_OVERHEAD_BYTES)
    with pytest.raises(Refusal) as refused:
        await read(big, FORM)
    assert refused.value.code == "payload_too_large"
    endless_headers = f"--{BOUNDARY}\r\nX-Padding: ".encode() + b"x" * FORM_OVERHEAD_BYTES
    with pytest.raises(Refusal) as refused:
        await read(endless_headers)
    assert refused.value.code == "payload_too_large"
    many = part('Content-Disposition: form-data; name="n"', b"1") * MAX_PARTS
    with pytest.raises(Refusal) as refused:
        await read(many, FORM)
    assert refused.value.code == "malformed_request"


async def test_a_refusal_at_the_files_start_reads_none_of_its_content():
    start = FORM.index(b"<Dimona>")
    sent = Sent(FORM[:start], FORM[start:])

    def refuse(fields: dict[str, str]) -> None:
        raise Refusal("csrf_failed", "no.")

    with pytest.raises(Refusal):
        await read_upload(request(sent), "file", refuse)
    assert sent.read == 1
