"""Anomalies in the social security's official form: zone, error code, severity, labels.

An anomaly code is the zone's glossary code and a three-digit error number (`00024-003`: zone
00024, the INSS, is invalid). The glossary gives each its severity: `B` blocks the declaration;
`P`, `NP` and `W` let it through with warnings (the status becomes `W`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BLOCKING = "B"

# Status of a declaration, as in the social security's DIMONA REST service.
ACCEPTED, WARNINGS, REFUSED, PROCESSING = "A", "W", "B", "S"


@dataclass(frozen=True)
class Anomaly:
    code: str  # ZZZZZ-NNN
    severity: str  # B, P, NP or W
    labels: dict[str, str] = field(default_factory=dict)  # language -> text
    path: str | None = None  # where in the form, e.g. /Dimona/Form/DimonaIn/StartingDate
    detail: str | None = None  # what was found, in English, for the integrator

    @property
    def zone(self) -> str:
        return self.code.split("-", 1)[0]

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def to_dict(self, language: str = "nl") -> dict[str, Any]:
        out = {
            "errorId": self.code,
            "zone": self.zone,
            "severity": self.severity,
            "label": self.labels.get(language) or self.labels.get("nl", ""),
            "labelNl": self.labels.get("nl", ""),
            "labelFr": self.labels.get("fr", ""),
            "labelEn": self.labels.get("en", ""),
        }
        if self.path:
            out["path"] = self.path
        if self.detail:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Anomaly:
        return cls(
            data["errorId"],
            data["severity"],
            {
                k: data[f"label{k.title()}"]
                for k in ("nl", "fr", "en")
                if data.get(f"label{k.title()}")
            },
            data.get("path"),
            data.get("detail"),
        )


def status_of(anomalies: list[Anomaly]) -> str:
    """A with no anomaly, W with only non-blocking ones, B as soon as one blocks."""
    if any(a.blocking for a in anomalies):
        return REFUSED
    return WARNINGS if anomalies else ACCEPTED


class UnknownAnomaly(KeyError):
    """A rule asked for an anomaly code that the glossary does not define (a bug, not bad input)."""


@dataclass(frozen=True)
class Zone:
    """A zone of a form, as its glossary describes it: the title and description are the official
    glossary's (Dutch), the XML element's name is the form's."""

    code: str
    title: str
    element: str
    description: str = ""


@dataclass
class Glossary:
    """Anomaly code -> (severity, labels), from the official zone glossaries and our
    translations; and the zones they belong to, for the portal's information pages."""

    entries: dict[str, tuple[str, dict[str, str]]]
    zones: dict[str, Zone] = field(default_factory=dict)

    def anomaly(self, code: str, path: str | None = None, detail: str | None = None) -> Anomaly:
        try:
            severity, labels = self.entries[code]
        except KeyError:
            raise UnknownAnomaly(code) from None
        return Anomaly(code, severity, labels, path, detail)

    def has(self, code: str) -> bool:
        return code in self.entries

    def anomalies_of(self, zone: str) -> list[Anomaly]:
        """The anomalies of one zone, by code."""
        prefix = zone + "-"
        return [self.anomaly(code) for code in sorted(self.entries) if code.startswith(prefix)]
