"""Purposes, and the hub's own entries in a citizen's list, by their name in the reader's language.

The registry records a purpose as a code in authorizations and subscriptions (`SOCIAL_INTEGRATION`)
and has no name for it; the portal shows these, the purposes the hub's sectors use, by a label
from the gettext catalogues, and any other code as it is.
"""

from __future__ import annotations

from ...templates.i18n import N_

PURPOSES = {
    "SOCIAL_INTEGRATION": N_("Right to social integration"),
    "SOCIAL_ASSISTANCE": N_("Social assistance"),
    "UNEMPLOYMENT_BENEFIT": N_("Unemployment benefits"),
    "CHILD_BENEFIT": N_("Child benefit"),
    "HEALTH_INSURANCE": N_("Health insurance"),
    "PENSION": N_("Pension"),
}


def purpose_label(code: str | None) -> str | None:
    """The message id naming the purpose, or None when the catalogues have no name for it."""
    return PURPOSES.get(code) if code else None


# The hub's own services and records, which the registry does not name: the citizen's list reads
# them in the reader's language (the capacity code follows, as `capacity`).
HUB_ENTRIES = {
    "directory.integrate": N_("Reference directory: holds a file on you (%(capacity)s)"),
    "directory.end": N_("Reference directory: ended its file on you (%(capacity)s)"),
    "directory.remove": N_("Reference directory: removed its file on you (%(capacity)s)"),
    "directory.holders": N_("Who holds a file on the person (the reference directory)"),
}


def hub_entry_label(kind: str, action: str | None, service: str | None) -> str | None:
    """The message id naming a directory change or the holders look-up, else None."""
    if kind == "directory" and action in HUB_ENTRIES:
        return HUB_ENTRIES[action]
    if service and service.partition("/")[0] == "directory.holders":
        return HUB_ENTRIES["directory.holders"]
    return None
