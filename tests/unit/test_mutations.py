"""Who receives a mutation: the domain rule, checked against the exchange's own access check."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.directory import Holding, Integration, Phase, check_access
from crossroads.domain.errors import Refusal
from crossroads.domain.mutations import Subscription, entitled
from crossroads.domain.periods import Period
from crossroads.domain.registry import Authorization

INSTITUTIONS = ["0200000142", "0200000439", "0200000736"]
CAPACITIES = ["INSURED", "JOB_SEEKER", "ASSISTED"]
TYPES = ["person.address", "person.death"]
DAY0 = date(2024, 1, 1)
days = st.integers(0, 60).map(lambda n: DAY0 + timedelta(days=n))


@st.composite
def periods(draw):
    start = draw(days)
    length = draw(st.one_of(st.none(), st.integers(0, 30)))
    return Period(start, None if length is None else start + timedelta(days=length))


integrations = st.builds(
    lambda i, c, p, ph: Integration(b"k" * 16, i, c, ph, p),
    st.sampled_from(INSTITUTIONS),
    st.sampled_from(CAPACITIES),
    periods(),
    st.sampled_from(list(Phase)),
)


@st.composite
def authorizations(draw, reference: str):
    validity = draw(periods())
    return Authorization(
        reference,
        draw(st.sampled_from(INSTITUTIONS)),
        draw(st.sampled_from(TYPES)),
        "P",
        "law",
        tuple(draw(st.lists(st.sampled_from(CAPACITIES), min_size=1, max_size=2, unique=True))),
        ("city",),
        validity.start,
        validity.end,
        draw(st.booleans()),
    )


@st.composite
def worlds(draw):
    decisions = {f"A{n}": draw(authorizations(f"A{n}")) for n in range(draw(st.integers(0, 4)))}
    references = [*sorted(decisions), "missing"]
    subscriptions = [
        Subscription(
            f"s{n}",
            draw(st.sampled_from(INSTITUTIONS)),
            "app",
            draw(st.sampled_from(TYPES)),
            draw(st.sampled_from(references)),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    rights = draw(
        st.lists(st.tuples(st.sampled_from(INSTITUTIONS), st.sampled_from(CAPACITIES)), max_size=9)
    )
    granted: dict[str, set[str]] = {}
    for institution, capacity in rights:
        granted.setdefault(institution, set()).add(capacity)
    return decisions, subscriptions, draw(st.lists(integrations, max_size=8)), granted


@given(world=worlds(), mutation_type=st.sampled_from(TYPES), effective=days, today=days)
def test_recipients_are_exactly_those_the_exchange_would_let_ask_about_the_person_that_day(
    world, mutation_type, effective, today
):
    decisions, subscriptions, holders, granted = world
    chosen = {
        s.id
        for s, _ in entitled(
            subscriptions,
            decisions,
            [Holding.of(i) for i in holders],
            mutation_type,
            effective,
            today,
            granted,
        )
    }
    for subscription in subscriptions:
        decision = decisions.get(subscription.authorization)
        may = (
            decision is not None
            and decision.service == mutation_type == subscription.mutation_type
            and decision.consumer == subscription.institution
            and decision.is_valid_on(today)
            and decision.covers(Period.day(effective), today)
        )
        if may:
            held = [i for i in holders if i.institution == subscription.institution]
            try:
                check_access(
                    held,
                    subscription.institution,
                    decision.required_capacities,
                    Period.day(effective),
                    granted.get(subscription.institution, set()),
                    decision.accepts_provisional,
                )
            except Refusal:
                may = False
        assert (subscription.id in chosen) == may


def test_an_integration_ended_the_day_before_entitles_nobody():
    decision = Authorization(
        "A", INSTITUTIONS[0], TYPES[0], "P", "law", ("ASSISTED",), ("city",), DAY0
    )
    subscription = Subscription("s", INSTITUTIONS[0], "app", TYPES[0], "A")
    held = [
        Holding.of(
            Integration(
                b"k" * 16,
                INSTITUTIONS[0],
                "ASSISTED",
                Phase.DEFINITIVE,
                Period(DAY0, DAY0 + timedelta(days=9)),
            )
        )
    ]
    granted = {INSTITUTIONS[0]: {"ASSISTED"}}
    on_last_day = entitled(
        [subscription], {"A": decision}, held, TYPES[0], DAY0 + timedelta(days=9), DAY0, granted
    )
    after = entitled(
        [subscription], {"A": decision}, held, TYPES[0], DAY0 + timedelta(days=10), DAY0, granted
    )
    assert [s.id for s, _ in on_last_day] == ["s"] and after == []
