"""The demo country's tax-benefit system: its entities, variables and dated parameters, loaded
into OpenFisca (which rights it decides: catalogue.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from openfisca_core.taxbenefitsystems import TaxBenefitSystem

from .entities import ENTITIES
from .variables import VARIABLES

PARAMETERS = Path(__file__).parent / "parameters"


class DemoCountry(TaxBenefitSystem):
    def __init__(self) -> None:
        super().__init__(ENTITIES)
        self.add_variables(*VARIABLES)
        self.load_parameters(str(PARAMETERS))


@lru_cache(maxsize=1)
def demo_country() -> DemoCountry:
    """Built once per process: loading the parameters and variables takes tens of milliseconds."""
    return DemoCountry()
