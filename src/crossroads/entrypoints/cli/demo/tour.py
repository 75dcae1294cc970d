"""The tour `crossroads demo` prints once its hub answers: commands to try, written so that each
one works when copied as printed.

Each command starts the way the demo itself was started (`.venv/bin/crossroads` when that is how
the README has it run, plain `crossroads` when that is on the PATH), names `--data-dir` when the
demo's folder is not the default one, and needs no `--hub`: the client commands read the hub's
address from the demo's folder (cli/hub_client.py). The curl examples name the hub's URL.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ....demo import country, employers
from ....demo.seed import example_subject
from ..hub_client import DEFAULT_DATA_DIR

END_OF_TOUR = "Stop the demo with Ctrl-C: it stops the hub and the authentic sources."


def command_prefix(argv0: str | None = None) -> str:
    """How to run `crossroads` again from the same shell: as this process was started."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    path = Path(argv0)
    if path.suffix == ".py" or not path.is_file():  # python -m crossroads.entrypoints.cli
        return f"{shlex.quote(sys.executable)} -m crossroads.entrypoints.cli"
    on_path = shutil.which(path.name)
    if on_path is not None and Path(on_path).resolve() == path.resolve():
        return path.name
    return shlex.quote(argv0)


def path_hint(prefix: str) -> str:
    """How to put `crossroads` on the PATH, when the tour's commands name it by its path."""
    activate = Path(shlex.split(prefix)[0]).parent / "activate"
    if " -m " in prefix or not activate.is_file():
        return ""
    return f"(`source {shlex.quote(str(activate))}` puts `crossroads` on your PATH.)\n"


@dataclass(frozen=True)
class TourPeople:
    """Who the tour's examples are about, chosen from the seeded country."""

    subject: str  # a person the welfare centre holds
    stranger: str  # a person it does not hold (the refusal)
    worker: str  # an adult not yet employed (the DIMONA IN)

    @classmethod
    def of(cls, subjects: list[str]) -> TourPeople:
        welfare = country.BY_KEY["welfare"].number
        held = {
            line["subject"]
            for line in country.directory_lines(subjects)
            if line["institution"] == welfare
        }
        employed = {s for s, *_ in employers.employed(subjects)}
        return cls(
            example_subject(subjects),
            next(s for s in subjects if s not in held),
            next(s for s in subjects if s not in employed and not country.is_child(s)),
        )


def data_dir_option(data_dir: Path) -> str:
    """What the tour's client commands add to name the demo's folder (nothing for the default)."""
    return "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {shlex.quote(str(data_dir))}"


def store_option(data_dir: Path) -> str:
    """What the operator's commands (`registry`, `audit`, `backup`…) add to name the demo's
    folder: always, since their default is the hub's folder (var), not the demo's."""
    return f" --data-dir {shlex.quote(str(data_dir))}"


def seeded(data_dir: Path, prefix: str, start: str, store_url: str | None) -> str:
    """What `crossroads demo --seed-only` prints: what it did, and how to start the hub on it
    (`start`: the demo's options again, without --seed-only)."""
    cli = f"CROSSROADS_STORE_URL={shlex.quote(store_url)} {prefix}" if store_url else prefix
    where = store_url or str(data_dir / "crossroads.sqlite3")
    return f"""
Seeded the demo's store ({where}) and keys ({data_dir}); no hub runs.
Start the hub and the authentic sources on it (the commands to try are printed then):
  {prefix} demo{start}
Or look at what was seeded:
  {cli} registry list services{store_option(data_dir)}
  {cli} audit verify{store_option(data_dir)}
"""


def tour(hub: str, data_dir: Path, people: TourPeople, prefix: str) -> str:
    cli = prefix
    where = data_dir_option(data_dir)
    welfare = f"{country.BY_KEY['welfare'].number}:case-app"
    payroll = f"{country.BY_KEY['payroll'].number}:payroll-app"
    fund = f"{country.BY_KEY['fund_a'].number}:rights-app"
    subject = people.subject
    ask = (
        f"{cli} ask {{service}} {{subject}} --purpose SOCIAL_INTEGRATION --client {welfare}{where}"
    )
    dimona = json.dumps(
        employers.dimona_in(people.worker, employers.EMPLOYERS[0][0], date.today(), "OTH")
    )
    return f"""
Crossroads demo hub on {hub}  (API docs: {hub}/docs)
Operator token for the admin API: {data_dir / "secrets.json"}
{path_hint(prefix)}
Ask, as the welfare centre's application, about a person it holds:
  {ask.format(service="person.identity", subject=subject)}
  {ask.format(service="health.affiliation", subject=subject)}
  {ask.format(service="directory.holders", subject=subject)}

Or with curl:
  TOKEN=$({cli} token --client {welfare}{where})
  curl -s {hub}/v1/exchange/person.identity -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"subject": "{subject}", "purpose": "SOCIAL_INTEGRATION"}}'

A refusal, with its code: ask about someone the centre does not hold:
  {ask.format(service="person.identity", subject=people.stranger)}

The registers publish a mutation (a move, a job, a birth, a death) every second or so. The welfare
centre reads its mailbox; the employment office and the child benefit fund have theirs pushed:
  {cli} mailbox --client {welfare}{where} --ack --follow

Rights granted without asking (docs/rights.md): the rights engine scans the population for persons
who meet a right's conditions but do not receive it, and tells the competent fund alone, which
confirms or refuses each decision (`{cli} rights confirm ID --client {fund}{where}`):
  {cli} rights scan{where}
  {cli} rights non-take-up --client {fund}{where}
  {cli} rights simulate --income 18000 --adults 1 --children 2{where}

The payroll office declares an employment (DIMONA IN, JSON form of the official XML); the answer's
Location gives its status (A, W or B) and anomalies (docs/declarations.md):
  TOKEN=$({cli} token --client {payroll}{where})
  curl -si {hub}/v1/declarations/dimona -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{dimona}'

The portal, in Dutch, French, German or English (docs/portal.md); no sign-in needed:
  Open {hub}/portal/ for the front door.
  Open {hub}/portal/services for the services and their fields.
  Open {hub}/portal/authorizations for who may receive what, why, and on which legal basis.
  Open {hub}/portal/mutations for the changes the registers publish.
  Open {hub}/portal/declarations for DIMONA and DmfA, and what each anomaly code means.
  Open {hub}/portal/rights for which rights a household's situation gives, and why (nothing kept).

The citizen's view: who consulted my data, each entry with its proof in the signed audit log.
  Open {hub}/citizen/ and sign in as {subject} at the development identity provider (demo only).
  Then "My data": their data as the authentic sources hold it, and a way to report what is wrong;
  "My rights": the rights their own situation gives, as the sources know it.

Signing in for an organisation, as a persona of the development identity provider (docs/portal.md):
  Open {hub}/portal/signin and choose an employer, a payroll office or an institution's staff.
  An employer or a payroll office then declares a DIMONA, uploads a DmfA, follows each declaration.

An institution's staff: the persons it holds (look up, integrate, end), its subscriptions and
mailboxes, its exchanges and refusals in charts, its authorizations and legal bases.
  Open {hub}/portal/institution/ and sign in as the welfare centre's manager or viewer.

The operator's commands work on the demo's folder (docs/operations.md), e.g. the registry:
  {cli} registry list services{store_option(data_dir)}

The operator: health and throughput in charts, members, applications and keys, services,
capacities, authorizations, integration rights, mutation types, dead letters, the audit log.
  Open {hub}/operator/ and sign in as the hub's operator (demo-operator, an admin).

{END_OF_TOUR}
"""
