"""What an accepted declaration of any kind tells the network: the mutations it causes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Event:
    """A mutation the declarations service publishes once the declaration is stored."""

    type: str  # employment.started | employment.ended | employment.changed | employment.cancelled |
    # wages.declared | social-risk.declared
    subject: str
    effective: date
    payload: dict
