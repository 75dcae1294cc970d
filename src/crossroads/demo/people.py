"""The persons of a demo country and what its authentic sources say of them, derived from their
numbers: the same code for every country the demo has (demo/country.py: Belgium;
demo/estonia.py: Estonia), each giving its identifier scheme, its institutions and its names.

Everything is derived from a seed, so the same `--persons N` always makes the same people, and
the simulated sources answer for any person without a database of their own.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property


@dataclass(frozen=True)
class Member:
    key: str
    number: str
    name: str
    port_offset: int | None = None  # providers listen on base port + offset
    served_by_hub: bool = False  # its services are the hub's own declarations source


@dataclass(frozen=True)
class DemoCountry:
    """One country of the demo: how it numbers persons and enterprises, who its institutions are
    (the same keys, ports and roles in every country), and the names and places it draws from.

    `declarations_and_rights`: the country also has the demo's employers' declarations (DIMONA,
    DmfA), its rights engine and the people's own access, which are modelled on Belgian law and
    institutions; a country without them has the registers, funds, welfare office, directory and
    mutations.
    """

    code: str  # the hub's CROSSROADS_COUNTRY, whose identifier scheme the numbers pass
    enterprise_number: Callable[[int], str]  # a valid enterprise number from a base number
    person_number: Callable[[date, int], str]  # a valid person number: birth date, daily serial
    birth_date: Callable[[str], date]
    is_male: Callable[[str], bool]
    members: tuple[Member, ...]
    surnames: tuple[str, ...]
    given_names: tuple[str, ...]
    streets: tuple[str, ...]
    towns: tuple[tuple[str, str], ...]  # (postcode, town)
    declarations_and_rights: bool = False

    @cached_property
    def by_key(self) -> dict[str, Member]:
        return {m.key: m for m in self.members}

    def persons(self, count: int, seed: int = 1) -> list[str]:
        """`count` distinct valid person numbers, about a fifth of them children."""
        rng = random.Random(seed)
        found: set[str] = set()
        result = []
        while len(result) < count:
            child = rng.random() < 0.2
            start = date(2008, 1, 1) if child else date(1945, 1, 1)
            span = 5800 if child else 20000
            birth = start + timedelta(days=rng.randrange(span))
            number = self.person_number(birth, rng.randrange(1, 998))
            if number not in found:
                found.add(number)
                result.append(number)
        return result

    def is_child(self, subject: str) -> bool:
        return self.birth_date(subject).year >= 2000

    def directory_lines(self, subjects: list[str]) -> list[dict]:
        """The directory of the country: who holds whom, in which capacity, since when."""
        by_key = self.by_key
        lines = []
        for subject in subjects:
            rng = _rng(subject, "directory")
            fund = "fund_a" if rng.random() < 0.55 else "fund_b"
            born = self.birth_date(subject)
            lines.append(
                {
                    "subject": subject,
                    "institution": by_key[fund].number,
                    "capacity": "HEALTH_INSURED",
                    "start": max(born, date(2000, 1, 1)).isoformat(),
                }
            )
            if self.is_child(subject):
                lines.append(
                    {
                        "subject": subject,
                        "institution": by_key["childben"].number,
                        "capacity": "CHILD_BENEFICIARY",
                        "start": born.isoformat(),
                    }
                )
                continue
            if rng.random() < 0.3:
                lines.append(
                    {
                        "subject": subject,
                        "institution": by_key["unemployment"].number,
                        "capacity": "JOB_SEEKER",
                        "start": date(2023, 1, 1).isoformat(),
                    }
                )
            if rng.random() < 0.25:
                phase = "provisional" if rng.random() < 0.2 else "definitive"
                lines.append(
                    {
                        "subject": subject,
                        "institution": by_key["welfare"].number,
                        "capacity": "SOCIAL_ASSISTANCE",
                        "start": date(2024, 1, 1).isoformat(),
                        "phase": phase,
                    }
                )
        return lines

    def held_by(self, subjects: list[str], key: str) -> list[str]:
        """The persons member `key` holds definitively, in the directory's order."""
        number = self.by_key[key].number
        return [
            line["subject"]
            for line in self.directory_lines(subjects)
            if line["institution"] == number and line.get("phase") != "provisional"
        ]

    def identity(self, subject: str) -> dict:
        rng = _rng(subject, "identity")
        return {
            "name": rng.choice(self.surnames),
            "first_names": [rng.choice(self.given_names), rng.choice(self.given_names)],
            "birth_date": self.birth_date(subject).isoformat(),
            "gender": "M" if self.is_male(subject) else "F",
            "nationality": self.code,
            "death_date": None,
        }

    def current_address(self, subject: str) -> dict:
        """The register's current state for `person.address-change`: the mutation payload's
        shape."""
        where = self.address(subject)["address"]
        return {
            "street": f"{where['street']} {where['number']}",
            "postcode": where["postcode"],
            "city": where["municipality"],
        }

    def address(self, subject: str) -> dict:
        rng = _rng(subject, "address")
        postcode, town = rng.choice(self.towns)
        return {
            "address": {
                "street": rng.choice(self.streets),
                "number": str(rng.randrange(1, 200)),
                "postcode": postcode,
                "municipality": town,
                "country": self.code,
            }
        }

    def household(self, subject: str) -> dict:
        """Who lives with the person, as the register records it: the person, and a few
        others."""
        rng = _rng(subject, "household")
        me = self.identity(subject)
        members = [{"name": me["name"], "first_names": me["first_names"], "relation": "REF"}]
        for relation in rng.sample(["PARTNER", "CHILD", "CHILD", "PARENT"], rng.randrange(0, 3)):
            members.append(
                {
                    "name": me["name"],
                    "first_names": [rng.choice(self.given_names)],
                    "relation": relation,
                }
            )
        return {"members": members}

    def employment(self, subject: str) -> dict:
        rng = _rng(subject, "employment")
        if self.is_child(subject):
            return {"periods": []}
        periods = []
        start = date(2010, 1, 1) + timedelta(days=rng.randrange(3000))
        for _ in range(rng.randrange(0, 4)):
            end = start + timedelta(days=rng.randrange(90, 1500))
            periods.append(
                {
                    "employer": self.enterprise_number(4_000_000 + rng.randrange(90_000)),
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "joint_committee": rng.choice(["200", "124", "302", "330"]),
                }
            )
            start = end + timedelta(days=rng.randrange(1, 200))
        return {"periods": periods}

    def unemployment(self, subject: str) -> dict:
        rng = _rng(subject, "unemployment")
        if rng.random() < 0.6:
            return {"status": "none", "since": None, "daily_amount": None}
        return {
            "status": rng.choice(["full", "partial"]),
            "since": "2023-01-01",
            "daily_amount": round(rng.uniform(40, 95), 2),
        }

    def affiliation(self, subject: str, fund_key: str) -> dict:
        rng = _rng(subject, "affiliation")
        return {
            "fund": self.by_key[fund_key].name,
            "since": max(self.birth_date(subject), date(2000, 1, 1)).isoformat(),
            "preferential_rate": rng.random() < 0.2,
        }

    def child_benefit(self, subject: str) -> dict:
        child = self.is_child(subject)
        return {"entitled": child, "monthly_amount": 181.61 if child else 0.0}


def _rng(subject: str, salt: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{salt}:{subject}".encode()).digest())
