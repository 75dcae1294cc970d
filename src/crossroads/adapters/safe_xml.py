"""Parsing XML from outside the hub without letting it reach anything or grow without bound.

lxml (libxml2) is told not to resolve entities, not to load any DTD, not to touch the network,
and to keep its default limits on depth and text size (`huge_tree=False`). On top, a document
carrying a document type declaration or an entity is refused outright: no declaration needs
one, and refusing them leaves nothing for an entity-expansion bomb or an external entity to use.
"""

from __future__ import annotations

from lxml import etree

from ..domain.errors import Refusal

_FORBIDDEN_MARKERS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


def _parser(recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        recover=recover,
    )


def parse_untrusted(data: bytes, max_bytes: int) -> etree._ElementTree:
    """Parse a document from a declarant; refuse it with a clear error rather than ever crash."""
    if len(data) > max_bytes:
        raise Refusal("payload_too_large", f"the XML document is larger than {max_bytes} bytes.")
    if any(marker in data for marker in _FORBIDDEN_MARKERS):
        raise Refusal(
            "forbidden_xml",
            "the document carries a DOCTYPE or an ENTITY declaration; send the form without one.",
        )
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        raise Refusal(
            "malformed_xml", f"the document is not well-formed XML: {_first_line(exc)}"
        ) from None
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise Refusal("malformed_xml", f"the document cannot be read: {exc}") from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        # Reached only by a declaration the byte scan missed, e.g. in UTF-16.
        raise Refusal(
            "forbidden_xml",
            "the document carries a document type declaration; send the form without one.",
        )
    return tree


def parse_trusted(path: str) -> etree._ElementTree:
    """Parse one of the reference files shipped with the hub (schemas, glossaries, code lists),
    with the same restrictions: they are data, never a reason to fetch anything.

    The official files are read in libxml2's recovery mode: one of them as published
    (Renumeration2021-4_7.xml, line 171: <quarter>…</quater>) is not well formed, and the
    recovered tree is the one its authors meant."""
    return etree.parse(path, _parser(recover=True))


def _first_line(exc: etree.XMLSyntaxError) -> str:
    return str(exc).splitlines()[0][:200]
