"""The README's tour counts what the demo seeds (institutions, capacities, services, mutation
types, authorizations, applications, subscriptions): counted here in a seeded store, so that a
change to the demo's seed that the README does not follow fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..conftest import start_demo_hub

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[2] / "README.md"
WORDS = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60}


def number(word: str) -> int:
    tens, _, unit = word.partition("-")
    if tens in TENS:
        return TENS[tens] + (WORDS.index(unit) if unit else 0)
    return WORDS.index(word)


def readme_counts() -> dict[str, int]:
    tour = README.read_text().split("## A five-minute tour of the demo")[1].split("```")[0]
    tour = " ".join(tour.split())
    kinds = (
        "institutions|capacities|services|mutation types|authorizations|applications|subscriptions"
    )
    found = {
        kind: number(word.lower())
        for word, kind in re.findall(rf"\b([A-Za-z]+(?:-[a-z]+)?) ({kinds})\b", tour)
        if word.lower().partition("-")[0] in WORDS + list(TENS)
    }
    assert len(found) == 7, found
    return found


async def test_the_readme_counts_what_the_demo_seeds(tmp_path):
    demo = await start_demo_hub(tmp_path, persons=20)
    try:
        registry, mutations = demo.hub.store.registry, demo.hub.store.mutations
        seeded = {
            "institutions": len(await registry.list_institutions()),
            "capacities": len(await registry.list_capacities()),
            "services": len(await registry.list_services()),
            "mutation types": len(await mutations.list_types()),
            "authorizations": len(await registry.find_authorizations()),
            "applications": len(await registry.list_applications()),
            "subscriptions": len(await mutations.subscriptions()),
        }
    finally:
        await demo.hub.close()
    assert readme_counts() == seeded
