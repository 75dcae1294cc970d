"""What the portal's pages need to draw a decision's explanation (the person's rights, their
simulation): the rights' and the facts' names in the reader's language, and a person's decisions.
"""

from __future__ import annotations

from ...bootstrap import Hub
from ...templates.i18n import N_
from .portal_rights import RIGHT_NAMES

# How each fact of an explanation reads (its name otherwise).
FACT_NAMES = {
    "child": N_("You are a child of the household"),
    "household_adults": N_("Adults in the household"),
    "household_children": N_("Children in the household"),
    "integration_income": N_("The integration income"),
    "income_guarantee_elderly": N_("The income guarantee for the elderly"),
    "disability_allowance": N_("A disability allowance"),
    "household_income": N_("Gross taxable income of the household, per year"),
    "household_benefits": N_("Someone else in the household receives one of these benefits"),
    "children_to_come": N_("Children to come"),
    "income_ending": N_("Yearly wages of a job that ends"),
}


def explained() -> dict:
    """What the templates need to draw an explanation."""
    return {"names": RIGHT_NAMES, "fact_names": FACT_NAMES}


async def rights_of(hub: Hub, identifier: str) -> list[dict] | None:
    """The person's decisions with their explanations; None when the hub has no engine."""
    if hub.rights is None:
        return None
    return [d.explanation() for d in await hub.rights.of_person(identifier)]
