"""The Belgian social security's reference files shipped with the hub: the DIMONA and DmfA
schemas, their zone glossaries (each anomaly with its severity), and the code lists.

Loaded once at start-up (about a second), then read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..domain.declarations.anomalies import Glossary, Zone
from ..domain.declarations.codelists import CodeList
from ..domain.declarations.dmfa import RateTable
from .official_schema import OfficialSchema
from .safe_xml import parse_trusted

FILES = Path(str(resources.files("crossroads"))) / "reference" / "be_socialsecurity"


@dataclass(frozen=True)
class BelgianReference:
    dimona: OfficialSchema
    dmfa: OfficialSchema
    joint_committees: CodeList
    remuneration: CodeList
    working_time: CodeList
    worker_codes: CodeList
    rates: RateTable


def load_glossary(*names: str) -> Glossary:
    """Anomaly code -> (severity, labels) from the zone and functional-block glossaries, with
    our French, English and German labels added; and each zone's title and element."""
    labels = json.loads((FILES / "anomaly_labels.json").read_text())
    entries: dict[str, tuple[str, dict[str, str]]] = {}
    zones: dict[str, Zone] = {}
    for name in names:
        for entry in parse_trusted(str(FILES / name)).getroot():
            zone = (entry.findtext("Code") or "").strip()
            if zone and zone not in zones:
                zones[zone] = Zone(
                    zone,
                    " ".join((entry.findtext("Titel") or "").split()).capitalize(),
                    (entry.findtext("XmlLabel") or "").strip(),
                    " ".join((entry.findtext("Omschrijving") or "").split()),
                )
            for anomaly in entry.findall("Anomalie"):
                code = (anomaly.findtext("AnomalieCode") or "").strip()
                if not code or code in entries or "-" not in code:
                    continue
                number = code.split("-", 1)[1]
                text = {
                    "nl": (anomaly.findtext("AnomalieTitel") or "").strip(),
                    **labels["by_number"].get(number, {}),
                    **labels["by_code"].get(code, {}),
                }
                entries[code] = ((anomaly.findtext("AnomalieErnst") or "B").strip(), text)
    return Glossary(entries, zones)


def load_code_list(name: str, file: str, integer_codes: bool = False, width: int = 0) -> CodeList:
    """Any of the official code lists: each entry has a <code>, a begin and end validity (year,
    quarter), descriptions in nl/fr, and Yes/No markers (DMFA…) kept as flags."""
    validity: dict[str, list[tuple[int, int]]] = {}
    texts: dict[str, dict[str, str]] = {}
    flags: dict[str, set[str]] = {}
    for entry in parse_trusted(str(FILES / file)).getroot():
        code = (entry.findtext("code") or "").strip()
        if not code or (integer_codes and not code.isdigit()):
            continue
        if (
            integer_codes
        ):  # "001" and "1" are the same remuneration code; worker codes keep 3 digits
            code = str(int(code)).zfill(width)
        first = _quarter(entry.find("begin-validity"), 19001)
        last = _quarter(entry.find("end-validity"), 99994)
        validity.setdefault(code, []).append((first, last))
        description = entry.find("description")
        if description is not None and code not in texts:
            texts[code] = {
                lang: " ".join((description.findtext(lang) or "").split()) for lang in ("nl", "fr")
            }
        flags.setdefault(code, set()).update(
            child.tag for child in entry if (child.text or "").strip() == "Yes"
        )
    return CodeList(
        name,
        {c: tuple(v) for c, v in validity.items()},
        texts,
        {c: frozenset(f) for c, f in flags.items()},
    )


def _quarter(node, default: int) -> int:
    if node is None:
        return default
    year, quarter = node.findtext("year"), node.findtext("quarter")
    if not (year and quarter and year.strip().isdigit() and quarter.strip().isdigit()):
        return default
    return int(year) * 10 + int(quarter)


def load_rates(path: Path | None) -> RateTable:
    data = json.loads((path or FILES / "dmfa_rates.json").read_text())
    return RateTable(
        subject_codes=frozenset(str(int(c)) for c in data["subject_remuneration_codes"]),
        rates={str(k).zfill(3): float(v) for k, v in data["rates"].items()},
        uplift={str(k).zfill(3): float(v) for k, v in data.get("uplift", {}).items()},
        default_rate=float(data["default_rate"]),
    )


@lru_cache(maxsize=4)
def load_reference(rates_path: Path | None = None) -> BelgianReference:
    """The reference files; cached, since every hub in a process (and every test) reads the same."""
    dimona_glossary = load_glossary("Zones_Dimona20233NL.xml", "FBDimona20233NL.xml")
    dmfa_glossary = load_glossary("Zones_dmfa20233NL.xml", "FBDMFA20233NL.xml")
    return BelgianReference(
        dimona=OfficialSchema.load(FILES / "Dimona_20231.xsd", "Dimona", dimona_glossary),
        dmfa=OfficialSchema.load(FILES / "DmfAOriginal_20223.xsd", "DmfAOriginal", dmfa_glossary),
        joint_committees=load_code_list("joint committees", "JointCommittee2019-1_26.xml"),
        remuneration=load_code_list(
            "remuneration codes", "Renumeration2021-4_7.xml", integer_codes=True
        ),
        working_time=load_code_list(
            "working-time codes", "WorkingTimeCodes2022-2_8.xml", integer_codes=True
        ),
        worker_codes=load_code_list(
            "worker codes", "EmployeeCodes2022-2_2.xml", integer_codes=True, width=3
        ),
        rates=load_rates(rates_path),
    )
