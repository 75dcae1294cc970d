"""The demo's authentic sources publishing mutations at a steady rate, over the hub's API.

The national register publishes moves, births (about each parent) and deaths, the employment
register the start and end of jobs, about the demo's persons, as their own applications would:
with an access token from a signed client assertion, one mutation per request, each with its own
id. Deaths are rare; a dead person's later mutations are published anyway (the demo does not keep
state between publications).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx

from ..adapters.keys import token_request
from . import country
from .seed import client_key_path

log = logging.getLogger("crossroads.demo")
REGISTER = "register-app"
CITIES = [
    ("1000", "Brussels"),
    ("2000", "Antwerp"),
    ("4000", "Liège"),
    ("5000", "Namur"),
    ("9000", "Ghent"),
]
STREETS = ["Rue Haute", "Kerkstraat", "Avenue Louise", "Stationsstraat", "Rue de la Loi"]
EMPLOYERS = ["Demoville City", "Acme Logistics", "Brasserie du Coin", "Hospital Saint-Luc"]


def next_mutation(rng: random.Random, subjects: list[str], today: date) -> tuple[str, str, dict]:
    """(publisher member key, mutation type, body) of one plausible change about a random person."""
    subject = rng.choice(subjects)
    # A fresh id each time: the content repeats from one run of the demo to the next (a seeded
    # generator), and the hub would take the same ids again for retries of mutations it has.
    body = {"id": f"demo-{uuid.uuid4()}", "subject": subject, "effective_date": today.isoformat()}
    roll = rng.random()
    if roll < 0.55:
        postcode, city = rng.choice(CITIES)
        return (
            "nr",
            "person.address-change",
            {
                **body,
                "payload": {
                    "street": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
                    "postcode": postcode,
                    "city": city,
                },
            },
        )
    if roll < 0.90:
        day = today - timedelta(days=rng.randint(0, 20))
        return (
            "employment",
            "employment.change",
            {
                **body,
                "effective_date": day.isoformat(),
                "payload": {
                    "event": rng.choice(["start", "end"]),
                    "employer": rng.choice(EMPLOYERS),
                    "date": day.isoformat(),
                    "joint_committee": str(rng.choice([100, 118, 200, 302])),
                },
            },
        )
    if roll < 0.98:
        return "nr", "person.birth", {**body, "payload": {"child_birth_date": today.isoformat()}}
    return "nr", "person.death", {**body, "payload": {"date_of_death": today.isoformat()}}


class DemoPublisher:
    def __init__(
        self, hub: str, data_dir: Path, subjects: list[str], every_seconds: float, seed: int = 5
    ) -> None:
        self._hub = hub.rstrip("/")
        self._data_dir = data_dir
        self._subjects = subjects
        self._every = every_seconds
        self._rng = random.Random(seed)
        self._tokens: dict[str, str] = {}
        self.published = 0

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await self._hub_ready(http)
            while True:
                member, kind, body = next_mutation(self._rng, self._subjects, date.today())
                try:
                    await self._publish(http, member, kind, body)
                except (httpx.TransportError, RuntimeError) as exc:  # the hub restarts: keep going
                    log.warning("could not publish %s: %s", kind, exc)
                await asyncio.sleep(self._every)

    async def _hub_ready(self, http: httpx.AsyncClient) -> None:
        """The sources start before the hub answers; they begin publishing once it does."""
        while True:
            try:
                if (await http.get(f"{self._hub}/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)

    async def _publish(self, http: httpx.AsyncClient, member: str, kind: str, body: dict) -> None:
        for _ in range(2):  # a second time with a fresh token when the first has expired
            answer = await http.post(
                f"{self._hub}/v1/mutations/{kind}",
                json=body,
                headers={"Authorization": f"Bearer {await self._token(http, member)}"},
            )
            if answer.status_code == 401:
                self._tokens.pop(member, None)
                continue
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"the hub refused it: {answer.text[:200]}")
            self.published += 1
            return

    async def _token(self, http: httpx.AsyncClient, member: str) -> str:
        if member not in self._tokens:
            client = f"{country.BY_KEY[member].number}:{REGISTER}"
            key = json.loads(client_key_path(self._data_dir, client).read_text())
            metadata = (
                await http.get(f"{self._hub}/.well-known/oauth-authorization-server")
            ).json()
            answer = await http.post(
                f"{self._hub}/oauth/token",
                data=token_request(client, metadata["token_endpoint"], key),
            )
            if answer.status_code != 200:
                raise RuntimeError(f"no token for {client}: {answer.text[:200]}")
            self._tokens[member] = answer.json()["access_token"]
        return self._tokens[member]
