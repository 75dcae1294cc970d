"""The demo country's rules as code: an OpenFisca country package (entities, variables with
their formulas, dated parameters), modelled on the Belgian rules and citing them.

`system.py` builds the tax-benefit system; `rules.py` is the adapter the rights services call.
"""
