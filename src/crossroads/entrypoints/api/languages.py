"""The language a caller asks for, from its Accept-Language header (RFC 9110, section 12.5.4).

An HTTP concern: the use cases take a language code and never see a header. Written by hand
because none of the hub's dependencies parses the header (Babel negotiates among locales it is
given, Starlette does not parse it), and the rule is a dozen lines.
"""

from __future__ import annotations

from ...services.declarations import LANGUAGES


def language_of(
    header: str | None, default: str = "nl", offered: tuple[str, ...] = LANGUAGES
) -> str:
    """The first of `offered` (the glossaries' LANGUAGES unless told) the header accepts, by
    decreasing weight (`q`), then by order; `default` (Dutch, the glossaries' language) when it
    names none of them."""
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate((header or "").split(",")):
        tag, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.lower().split("-")[0]
        if weight > 0 and primary in offered:
            ranked.append((-weight, order, primary))
    return min(ranked)[2] if ranked else default
