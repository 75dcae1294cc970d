"""Identifier schemes: validation and normalisation of person and enterprise identifiers.

A deployment chooses one scheme (Belgium by default). Validation is python-stdnum's; this module
only chooses which stdnum module answers for which kind of identifier, and normalises to the
compact form used everywhere inside the hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from stdnum.be import bis as be_bis
from stdnum.be import nn as be_nn
from stdnum.be import vat as be_vat
from stdnum.ee import ik as ee_ik
from stdnum.ee import registrikood as ee_registrikood
from stdnum.exceptions import ValidationError

from .errors import Refusal


class NumberModule(Protocol):
    """What the hub uses of a python-stdnum number module (stdnum.be.nn, stdnum.ee.ik, ...)."""

    def validate(self, number: str) -> str: ...

    def is_valid(self, number: str) -> bool: ...


@dataclass(frozen=True, eq=False)  # one instance per country: identity is equality, and hashes fast
class IdentifierScheme:
    """How one country spells its person and enterprise identifiers.

    `person_kind` names the kind of a valid person number (e.g. "national_register" or "bis"),
    which the hub keeps alongside a decision but never uses for access control.
    """

    country: str
    person_modules: tuple[tuple[str, NumberModule], ...]
    enterprise_module: NumberModule
    person_label: str
    enterprise_label: str

    def normalise_person(self, value: object, field: str = "subject") -> str:
        return _normalise_person(self, _as_text(value, field, self.person_label), field)

    def person_from_claim(self, value: str) -> str:
        """The person an identity provider vouched for, from an ID token claim (see
        `identifier_from_claim`); a `Refusal` when it is not a valid person number of this
        country."""
        return self.normalise_person(identifier_from_claim(value, self.country))

    def person_or_none(self, value: str) -> str | None:
        """The normalised person number, or None when it fails its checks (the declarations'
        rules report that as an anomaly rather than a refusal). Official forms write it as a
        number, so a dropped leading zero is put back."""
        try:
            return self.normalise_person(value.zfill(11) if value.isdigit() else value, "INSS")
        except Refusal:
            return None

    def enterprise_is_valid(self, value: str) -> bool:
        try:
            self.normalise_enterprise(value, "enterprise")
            return True
        except Refusal:
            return False

    def person_kind(self, value: str) -> str:
        for kind, module in self.person_modules:
            if module.is_valid(value):
                return kind
        raise Refusal("invalid_identifier", f"{value!r} is not a valid {self.person_label}.")

    def normalise_enterprise(self, value: object, field: str = "enterprise") -> str:
        return _normalise_enterprise(self, _as_text(value, field, self.enterprise_label), field)

    def normalise_member(self, value: object, field: str = "institution") -> str:
        """An institution's number in the registry and the directory: an enterprise number of
        this country or, for a member of a federated hub of another scheme (which this hub's
        operator registers, authorizes and lets receive mutations, docs/federation.md), of
        another country this module knows. The schemes' enterprise numbers do not overlap (ten
        digits in Belgium, eight in Estonia), so a number is never read as another's."""
        try:
            return self.normalise_enterprise(value, field)
        except Refusal:
            text = _as_text(value, field, self.enterprise_label)
            for other in SCHEMES.values():
                if other is not self and other.enterprise_is_valid(text):
                    return other.normalise_enterprise(text, field)
            raise


def _as_text(value: object, field: str, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refusal(
            "invalid_identifier", f"{field} must be a {label} written as a string.", field
        )
    if len(value) > 64:
        raise Refusal("invalid_identifier", f"{field} is too long to be a {label}.", field)
    return value


# The same person number arrives on every line of a bulk import and in every exchange about that
# person; stdnum's validation costs ~20 µs, so the pure result is cached.
@lru_cache(maxsize=65536)
def _normalise_person(scheme: IdentifierScheme, value: str, field: str) -> str:
    last_error: ValidationError | None = None
    for _kind, module in scheme.person_modules:
        try:
            return module.validate(value)
        except ValidationError as exc:
            last_error = exc
    reason = _reason(last_error) if last_error else "unknown format"
    raise Refusal(
        "invalid_identifier", f"{field} is not a valid {scheme.person_label}: {reason}.", field
    )


# A few thousand institutions appear on millions of directory lines.
@lru_cache(maxsize=16384)
def _normalise_enterprise(scheme: IdentifierScheme, value: str, field: str) -> str:
    try:
        return scheme.enterprise_module.validate(value)
    except ValidationError as exc:
        raise Refusal(
            "invalid_identifier",
            f"{field} is not a valid {scheme.enterprise_label}: {_reason(exc)}.",
            field,
        ) from None


def _reason(error: ValidationError) -> str:
    # stdnum's concrete errors (InvalidFormat, InvalidChecksum, ...) carry a class-level
    # `message`; the ValidationError base they are caught as declares none.
    message: str = error.message  # type: ignore[attr-defined]
    return message.rstrip(".")


BELGIUM = IdentifierScheme(
    country="BE",
    person_modules=(("national_register", be_nn), ("bis", be_bis)),
    enterprise_module=be_vat,
    person_label="INSZ/NISS number",
    enterprise_label="KBO/BCE enterprise number",
)

ESTONIA = IdentifierScheme(
    country="EE",
    person_modules=(("isikukood", ee_ik),),
    enterprise_module=ee_registrikood,
    person_label="isikukood",
    enterprise_label="registrikood",
)

SCHEMES: dict[str, IdentifierScheme] = {"BE": BELGIUM, "EE": ESTONIA}


def scheme_for(country: str) -> IdentifierScheme:
    try:
        return SCHEMES[country.upper()]
    except KeyError:
        raise ValueError(
            f"no identifier scheme for country {country!r}; known: {sorted(SCHEMES)}"
        ) from None


def identifier_from_claim(value: str, country: str) -> str:
    """The national identifier in an ID token claim: eIDAS and Smart-ID style values carry the
    country in front ("EE38001085718", "PNOEE-38001085718"), which the identifier scheme does
    not."""
    return re.sub(rf"^(?:PNO)?{country}-?", "", value.strip(), flags=re.IGNORECASE)
