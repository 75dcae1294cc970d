"""The demo country's variables: the facts the hub's services provide (inputs) and the rights
computed from them (formulas), each with the legal basis it applies (`reference`).

Every variable is defined by month: a right is decided for a month, from the facts known for it.
Formulas work on whole arrays (one value per person or household), so that one calculation
decides a million persons as cheaply as one.
"""

from __future__ import annotations

import numpy
from openfisca_core.periods import DateUnit
from openfisca_core.variables import Variable

from .entities import Household, Person

MONTH = DateUnit.MONTH
CBSS_LAW = "Law of 15 January 1990 on the Crossroads Bank for Social Security, art. 11bis"
HEALTH_LAW = "Coordinated law of 14 July 1994 on compulsory health care insurance, art. 37, §19"
ENERGY_LAW = "Law of 29 April 1999 on the organisation of the electricity market, art. 20, §2"
FAMILY_DECREE = "Decree of 27 April 2018 on family benefits, art. 14-16"


def in_cents(amount: numpy.ndarray) -> numpy.ndarray:
    """OpenFisca keeps amounts as float32, whose 25,794.82 is 25,794.8203: an income equal to a
    ceiling would be over it. Rounded back to cents in float64, it compares as written (exact
    below 131,072 euros, where float32's step is under half a cent, far above any ceiling)."""
    return numpy.round(amount.astype(numpy.float64), 2)


class integration_income(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "Receives the integration income"
    reference = "Law of 26 May 2002 on the right to social integration"


class income_guarantee_elderly(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "Receives the income guarantee for the elderly"
    reference = "Law of 22 March 2001 on the income guarantee for the elderly"


class disability_allowance(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "Receives a disability allowance"
    reference = "Law of 27 February 1987 on allowances for persons with a disability"


class household_income(Variable):
    value_type = float
    entity = Household
    definition_period = MONTH
    label = "Gross taxable income of the household, yearly (the last assessment known)"


class automatic_category(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "Receives a benefit that gives its rights automatically"
    reference = (CBSS_LAW, HEALTH_LAW)

    def formula(person, period, parameters):
        return (
            person("integration_income", period)
            + person("income_guarantee_elderly", period)
            + person("disability_allowance", period)
        )


class under_reimbursement_ceiling(Variable):
    value_type = bool
    entity = Household
    definition_period = MONTH
    label = "The household's income is under the increased reimbursement's ceiling"
    reference = HEALTH_LAW

    def formula(household, period, parameters):
        rules = parameters(period).increased_reimbursement
        members = household.nb_persons()
        ceiling = rules.income_ceiling + rules.increase_per_member * (members - 1)
        return in_cents(household("household_income", period)) <= ceiling


class increased_reimbursement(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "Increased reimbursement of health care"
    reference = (HEALTH_LAW, CBSS_LAW)

    def formula(person, period, parameters):
        by_income = person.household("under_reimbursement_ceiling", period)
        return person("automatic_category", period) + by_income


class social_energy_tariff(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "Social energy tariff"
    reference = (ENERGY_LAW, CBSS_LAW)

    def formula(person, period, parameters):
        household = person.household
        categories = household.any(person("automatic_category", period))
        extended = parameters(period).social_energy_tariff.for_increased_reimbursement
        reimbursed = household.any(person("increased_reimbursement", period))
        return categories + reimbursed * extended


class child_social_supplement(Variable):
    value_type = float
    entity = Person
    definition_period = MONTH
    label = "Social supplement to the child benefit, monthly"
    unit = "currency-EUR"
    reference = FAMILY_DECREE

    def formula(person, period, parameters):
        rules = parameters(period).child_supplement
        household = person.household
        child = person.has_role(Household.CHILD)
        children = household.nb_persons(Household.CHILD)
        under = in_cents(household("household_income", period)) <= rules.income_ceiling
        amount = numpy.where(children >= 3, rules.amount_large_family, rules.amount_small_family)
        return child * under * amount


VARIABLES = [
    integration_income,
    income_guarantee_elderly,
    disability_allowance,
    household_income,
    automatic_category,
    under_reimbursement_ceiling,
    increased_reimbursement,
    social_energy_tariff,
    child_social_supplement,
]
