"""The rights engine wakes when a change reaches its mailbox through another hub process
(services/arrivals.py, adapters/sql/arrival_bells.py: NOTIFY on PostgreSQL, datagrams on SQLite):
two real `crossroads serve` processes on one store, the engine's loop polling once an hour, and
each change published through the process that does not run it is decided within a minute."""

from __future__ import annotations

import json

import httpx

from crossroads.demo import country, household_facts, rights
from crossroads.demo.seed import client_key_path

from ..support import token_form
from .processes import PERSONS, wait_for

REGISTER = f"{country.BY_KEY['benefits'].number}:register-app"
ENGINE = country.BY_KEY["rights"].number


def modest_adults() -> list[str]:
    """Adults without benefits whose household income is under the increased reimbursement's
    ceiling: the engine grants it at their first evaluation."""
    found = []
    for subject in country.persons(PERSONS):
        if country.is_child(subject) or any(household_facts.benefits(subject).values()):
            continue
        composition = household_facts.household(subject)
        size = composition["adults"] + composition["children"]
        if household_facts.income(subject)["yearly_income"] <= 25_794.82 + 4_775.50 * (size - 1):
            found.append(subject)
    return found


def test_a_change_published_through_another_hub_process_wakes_the_engine(deployment):
    d = deployment
    d.env.update(
        CROSSROADS_RIGHTS_ENGINE=rights.ENGINE_CLIENT,
        CROSSROADS_RIGHTS_PURPOSE=rights.PURPOSE,
        CROSSROADS_RIGHTS_POLL_SECONDS="3600",  # only a bell can wake it within the test
    )
    d.start(0)
    wait_for(lambda: d.leader(0), 30, "the first hub to lead (and run the engine)")
    d.start(1)
    assert not d.leader(1)
    key = json.loads(client_key_path(d.data_dir, REGISTER).read_text())
    token = httpx.post(
        f"{d.url(1)}/oauth/token",
        data=token_form(REGISTER, key, f"{d.issuer}/oauth/token"),
        timeout=10,
    ).json()["access_token"]
    decisions = "SELECT count(*) FROM rights_decisions WHERE subject = ?"
    waiting = (
        "SELECT count(*) FROM deliveries d JOIN subscriptions s ON s.id = d.subscription"
        " WHERE s.institution = ? AND s.application = 'engine-app' AND d.acked_at_ms IS NULL"
    )
    for n, subject in enumerate(modest_adults()[:3]):
        assert d.scalar(decisions, (subject,)) == 0
        published = httpx.post(
            f"{d.url(1)}/v1/mutations/benefit.change",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "id": f"wake-{n}",
                "subject": subject,
                "effective_date": "2026-01-01",
                "payload": {
                    "benefit": "disability_allowance",
                    "event": "end",
                    "date": "2026-01-01",
                },
            },
            timeout=30,
        )
        assert published.status_code == 201, published.text
        # A minute on a busy machine; an hour (the poll) without the bell from the other process.
        wait_for(lambda s=subject: d.scalar(decisions, (s,)) > 0, 60, f"a decision for {n}")
        wait_for(lambda: d.scalar(waiting, (ENGINE,)) == 0, 60, f"change {n} acknowledged")
