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
