"""The admin API's employers' register and mandates: who may be declared for, and which payroll
office may declare for whom. Written through the declarations service (validated and audited),
listed a page at a time through its query service, like the mailbox (`after`, `limit`,
`next_after`): a country has hundreds of thousands of employers.
"""

from __future__ import annotations

from datetime import date

from fastapi import Depends, Query, Response

from ...domain.declarations.employers import Employer
from ...domain.declarations.records import Mandate
from ...domain.errors import Refusal
from .answer_models import EmployerOut, Employers, Mandates
from .dependencies import ActorDep, DeclarationQueriesDep, DeclarationsDep
from .errors import openapi_errors
from .hub_router import HubRouter
from .json_input import JSONRoute
from .openapi_models import answers
from .schemas import EmployerIn, MandateIn
from .security import operator

router = HubRouter(
    route_class=JSONRoute, prefix="/admin", tags=["admin"], dependencies=[Depends(operator)]
)
ERRORS = openapi_errors(
    "unauthenticated",
    "forbidden",
    "malformed_request",
    "invalid_identifier",
    "invalid_period",
    "not_found",
    "payload_too_large",
)
LIMIT = Query(100, ge=1, le=1000, description="At most this many (paging).")


def _employer_out(employer: Employer) -> dict:
    return {
        "company_id": employer.company_id,
        "noss": employer.noss,
        "name": employer.name,
        "active": employer.active,
    }


def _mandate_out(mandate: Mandate) -> dict:
    return {
        "office": mandate.office,
        "employer": mandate.employer,
        "valid_from": mandate.valid_from.isoformat(),
        "valid_to": mandate.valid_to.isoformat() if mandate.valid_to else None,
    }


def mandate_cursor(mandate: Mandate) -> str:
    return f"{mandate.office}/{mandate.employer}/{mandate.valid_from.isoformat()}"


def parse_mandate_cursor(cursor: str) -> tuple[str, str, date]:
    office, _, rest = cursor.partition("/")
    employer, _, day = rest.partition("/")
    try:
        return office, employer, date.fromisoformat(day)
    except ValueError:
        raise Refusal(
            "malformed_request",
            "after is a page's next_after: OFFICE/EMPLOYER/YYYY-MM-DD.",
            "after",
        ) from None


@router.put(
    "/employers/{company_id}",
    responses=answers(EmployerOut, ERRORS, also=(201,)),
    summary="Register or update an employer in the employers' register",
)
async def put_employer(
    company_id: str,
    body: EmployerIn,
    declarations: DeclarationsDep,
    actor: ActorDep,
    response: Response,
) -> dict:
    employer, created = await declarations.put_employer(
        company_id, body.noss, body.name, body.active, actor.id
    )
    response.status_code = 201 if created else 200
    return _employer_out(employer)


@router.get(
    "/employers",
    responses=answers(Employers, ERRORS),
    summary="The employers' register, by enterprise number, a page at a time",
)
async def list_employers(
    queries: DeclarationQueriesDep,
    after: str = Query(
        "",
        max_length=10,
        description="Only employers after this enterprise number (a page's next_after).",
    ),
    limit: int = LIMIT,
) -> dict:
    employers = await queries.employers(after, limit)
    return {
        "employers": [_employer_out(e) for e in employers],
        "next_after": employers[-1].company_id if employers else after,
    }


@router.get(
    "/employers/{company_id}",
    responses=answers(EmployerOut, ERRORS),
    summary="One employer of the employers' register",
)
async def get_employer(company_id: str, queries: DeclarationQueriesDep) -> dict:
    return _employer_out(await queries.employer(company_id))


@router.put(
    "/mandates",
    responses=ERRORS,
    status_code=204,
    summary="Give a payroll office a mandate to declare for an employer over a period",
)
async def put_mandate(body: MandateIn, declarations: DeclarationsDep, actor: ActorDep) -> Response:
    await declarations.put_mandate(
        body.office, body.employer, body.valid_from, body.valid_to, actor.id
    )
    return Response(status_code=204)


@router.get(
    "/mandates",
    responses=answers(Mandates, ERRORS),
    summary="Mandates by office, employer and start (of one office or employer), a page at a time",
)
async def list_mandates(
    queries: DeclarationQueriesDep,
    office: str | None = Query(None, max_length=64, description="Only this payroll office's."),
    employer: str | None = Query(None, max_length=64, description="Only for this employer."),
    after: str | None = Query(None, max_length=100, description="A page's next_after."),
    limit: int = LIMIT,
) -> dict:
    mandates = await queries.mandates(
        office, employer, parse_mandate_cursor(after) if after else None, limit
    )
    return {
        "mandates": [_mandate_out(m) for m in mandates],
        "next_after": mandate_cursor(mandates[-1]) if mandates else after,
    }
