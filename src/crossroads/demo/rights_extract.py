"""The demo's pseudonymised extract for the non-take-up scan, made from the synthetic country.

In a real country this is a warehouse extract (the authentic sources' facts, keyed by a
pseudonym); here it is derived from the same functions the demo's simulated sources answer
with. Each extract has a fresh pseudonym key, so pseudonyms do not link one scan to the next;
the key stays in this object, the only way back from a pseudonym to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy

from ..domain.subjects import SubjectHasher
from ..services.ports import Extract, ExtractSource, Population, RightsRepository
from . import country, household_facts, rights

POPULATION_FILE = "rights-population.json"  # in data_dir: written by the seed (demo/seed.py)


class DemoExtract(ExtractSource):
    def __init__(
        self, population: Path, decisions: RightsRepository, hasher: SubjectHasher
    ) -> None:
        """`population`: the file listing the persons the engine examines (the seeded country),
        read at each extract, so that a hub started after seeding finds them."""
        self._population = population
        self._decisions = decisions
        self._hasher = hasher
        self._key = secrets.token_bytes(32)
        self._back: dict[str, str] = {}

    def _pseudonym(self, subject: str) -> str:
        return hmac.new(self._key, subject.encode(), hashlib.sha256).hexdigest()[:32]

    async def extract(self) -> Extract:
        self._key = secrets.token_bytes(32)
        self._back = {}
        household, child, flags, incomes, pseudonyms, reimbursed = [], [], [], [], [], []
        subjects = json.loads(self._population.read_text()) if self._population.exists() else []
        for index, subject in enumerate(subjects):
            composition = household_facts.household(subject)
            own_child = composition["child"]
            members = [own_child]
            members += [False] * max(composition["adults"] - (not own_child), 0)
            members += [True] * max(composition["children"] - own_child, 0)
            pseudonym = self._pseudonym(subject)
            self._back[pseudonym] = subject
            # The person's benefits, then the other adults' as the register knows them.
            known = [household_facts.benefits(subject)]
            known += household_facts.household_benefits(subject)["members"]
            for position, is_child in enumerate(members):
                household.append(index)
                child.append(is_child)
                flags.append(
                    tuple(known[position].values()) if position < len(known) else (False,) * 3
                )
                pseudonyms.append(pseudonym if position == 0 else "")
                # The funds' preferential rate: who already receives the increased reimbursement
                reimbursed.append(
                    position > 0 or country.affiliation(subject, "fund_a")["preferential_rate"]
                )
            incomes.append(household_facts.income(subject)["yearly_income"])
        columns = numpy.array(flags, dtype=bool).reshape(-1, 3)
        others = numpy.array([p == "" for p in pseudonyms])
        receives = {}
        for code in rights.RIGHTS:
            held = await self._decisions.holders(code)
            keys = numpy.array(
                [p != "" and self._hasher.key(self._back[p]) in held for p in pseudonyms]
            )
            receives[code] = keys | others
        receives["increased-reimbursement"] |= numpy.array(reimbursed)
        return Extract(
            pseudonyms,
            Population(
                household=numpy.array(household),
                child=numpy.array(child),
                integration_income=columns[:, 0],
                income_guarantee_elderly=columns[:, 1],
                disability_allowance=columns[:, 2],
                household_income=numpy.array(incomes, dtype=float),
            ),
            receives,
        )

    async def reidentify(self, pseudonyms: Sequence[str]) -> dict[str, str]:
        return {p: self._back[p] for p in pseudonyms if p in self._back}
