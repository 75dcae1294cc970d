"""What an operator's form is made of: its fields, each with a label, a kind and whether it must
be filled, and the permission (the admin API's, for the same change) a reader needs to see it.

The forms themselves are listed by page in operator_forms.py (the registry's first pages),
operator_catalogue_forms.py (services, capacities, routed providers) and
operator_register_forms.py (operators, employers, mandates).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.operators import Permission
from ...templates.i18n import N_


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, date, textarea, select, checkbox
    required: bool = False
    options: str = ""  # for a select: the name of the option list the page loads
    hint: str = ""
    default: str = ""  # what a new form holds


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    action: str
    fields: tuple[Field, ...]
    submit: str
    permission: Permission = Permission.EDIT


# Labels several forms share.
INSTITUTION = N_("Institution")
LEGAL_BASIS = N_("Legal basis")
LIST_HINT = N_("Separated by commas.")

# A registry text in the portal's other languages (domain/wording.py): one field per language,
# named FIELD_LANGUAGE (name_nl); one left blank gives that language none, and the default text
# stands in for it on the portal. English readers read the default field itself.
WORDING_LANGUAGES = ("nl", "fr", "de")
NAME_IN = (N_("Name in Dutch"), N_("Name in French"), N_("Name in German"))
DESCRIPTION_IN = (
    N_("Description in Dutch"),
    N_("Description in French"),
    N_("Description in German"),
)
LEGAL_BASIS_IN = (
    N_("Legal basis in Dutch"),
    N_("Legal basis in French"),
    N_("Legal basis in German"),
)


def wording_fields(
    name: str, labels: tuple[str, str, str], kind: str = "text"
) -> tuple[Field, ...]:
    """The fields of `name`'s text in Dutch, French and German."""
    return tuple(
        Field(f"{name}_{language}", label, kind)
        for language, label in zip(WORDING_LANGUAGES, labels, strict=True)
    )
