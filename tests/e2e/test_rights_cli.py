"""`crossroads rights …` against `crossroads demo` running as its own process: the rules, an
operator's re-evaluation, the competent fund's list of decisions, its confirmation and refusal,
and what another fund and a second answer get (exit 1 with the hub's refusal)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crossroads.demo import country
from crossroads.entrypoints.cli import app

from ..browser.chromium import PERSONS
from ..browser.conftest import running_demo
from ..browser.test_citizen_rights import modest_adult

runner = CliRunner()
FUNDS = {
    country.BY_KEY[k].number: f"{country.BY_KEY[k].number}:rights-app" for k in ("fund_a", "fund_b")
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with running_demo(tmp_path_factory.mktemp("rights-cli") / "demo") as running:
        yield running


def crossroads(demo, *argv: str, code: int = 0) -> dict:
    base, data_dir = demo
    done = runner.invoke(app, [*argv, "--hub", base, "--data-dir", str(data_dir)])
    assert done.exit_code == code, done.output
    return json.loads(done.output)


def test_rules_lists_the_three_rights_with_their_legal_bases(demo):
    rules = crossroads(demo, "rights", "rules")
    assert len(rules["rights"]) == 3 and rules["rule_version"]
    assert all(r["legal_basis"] for r in rules["rights"])


def test_evaluate_decides_and_the_fund_lists_confirms_and_cannot_answer_twice(demo):
    subject = modest_adult(country.persons(PERSONS))
    made = crossroads(demo, "rights", "evaluate", subject)["decisions"]
    [bim] = [d for d in made if d["right"] == "increased-reimbursement"]
    assert bim["facts"] and bim["status"] == "pending"
    fund = FUNDS[bim["competent_institution"]]
    other = next(c for n, c in FUNDS.items() if n != bim["competent_institution"])
    pending = crossroads(demo, "rights", "decisions", "--client", fund, "--status", "pending")
    assert bim["id"] in [d["id"] for d in pending["decisions"]]
    theirs = crossroads(demo, "rights", "decisions", "--client", other)["decisions"]
    assert bim["id"] not in [d["id"] for d in theirs]
    assert all(d["competent_institution"] == other.split(":")[0] for d in theirs)
    refused = crossroads(demo, "rights", "confirm", bim["id"], "--client", other, code=1)
    assert refused["code"] == "forbidden"
    confirmed = crossroads(
        demo, "rights", "confirm", bim["id"], "--client", fund, "--reason", "seen"
    )
    assert (confirmed["status"], confirmed["answer_reason"]) == ("confirmed", "seen")
    again = crossroads(demo, "rights", "refuse", bim["id"], "--client", fund, code=1)
    assert again["code"] == "conflict"
    assert crossroads(demo, "rights", "evaluate", subject)["decisions"] == []  # nothing new


def test_refuse_keeps_the_reason_and_an_unknown_decision_is_not_found(demo):
    others = [s for s in country.persons(PERSONS) if s != modest_adult(country.persons(PERSONS))]
    for candidate in others:
        made = crossroads(demo, "rights", "evaluate", candidate)["decisions"]
        held = [d for d in made if d["competent_institution"] in FUNDS]
        if held:
            break
    else:
        raise AssertionError("no other person of the demo is granted a right a fund confirms")
    decision = held[0]
    fund = FUNDS[decision["competent_institution"]]
    answered = crossroads(
        demo, "rights", "refuse", decision["id"], "--client", fund, "--reason", "by hand"
    )
    assert (answered["status"], answered["answer_reason"]) == ("refused", "by hand")
    refused = crossroads(demo, "rights", "decisions", "--client", fund, "--status", "refused")
    assert decision["id"] in [d["id"] for d in refused["decisions"]]
    missing = crossroads(demo, "rights", "confirm", "0" * 32, "--client", fund, code=1)
    assert missing["code"] == "not_found"
    bad = crossroads(demo, "rights", "decisions", "--client", fund, "--status", "maybe", code=1)
    assert bad["code"] == "malformed_request"
