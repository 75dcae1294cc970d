"""Each refusal code as the portal's reader is told it: one sentence per code of the error
catalogue (domain/errors.py), marked for the catalogues, so that a page in French says in French
what was refused. The refusal's own message (English, with the values concerned) stays beside
it for those who need the detail; tests/unit/test_refusal_sentences.py fails when a code has no
sentence here or a sentence no translation.
"""

from __future__ import annotations

from .i18n import N_

REFUSED = N_("The hub refused this request.")

SENTENCES = {
    "unauthenticated": N_("You are not signed in, or your sign-in was not accepted."),
    "sign_in_expired": N_("This sign-in has expired or was already used. Please sign in again."),
    "forbidden": N_("You may not do this."),
    "role_required": N_("None of your roles allows this."),
    "own_proposal": N_("You proposed this change: another operator must approve it."),
    "approver_not_person": N_(
        "A proposal is approved by a person signed in, not by a service account or the admin token."
    ),
    "related_operator": N_(
        "You were set up by this proposal's author, or set them up: another operator must "
        "approve it."
    ),
    "proposal_expired": N_("This proposal waited too long and has expired: propose it again."),
    "csrf_failed": N_(
        "The form was sent without this session's security token, or from another site. "
        "Reload the page and try again."
    ),
    "invalid_request": N_("The token request is incomplete."),
    "invalid_client": N_("The application's credentials were refused."),
    "unsupported_grant_type": N_("This kind of token request is not supported."),
    "no_authorization": N_("No authorization allows this exchange."),
    "authorization_expired": N_("The authorization for this is no longer valid."),
    "subject_not_in_directory": N_("The person is not in the institution's directory."),
    "capacity_mismatch": N_("The institution does not hold the person in the capacity required."),
    "period_outside_integration": N_(
        "The period is outside the institution's integration of this person."
    ),
    "provisional_not_accepted": N_("A provisional integration is not accepted for this."),
    "period_outside_authorization": N_("The period is outside the authorization's validity."),
    "no_integration_right": N_("The institution has no integration right for this."),
    "webhook_not_allowed": N_("This webhook address is not allowed."),
    "invalid_identifier": N_("This is not a valid number."),
    "invalid_period": N_("These days do not make a valid period."),
    "unknown_service": N_("No service of this name is registered."),
    "unknown_right": N_("No right of this name is known."),
    "unknown_mutation_type": N_("No kind of change of this name is registered."),
    "malformed_request": N_("A value sent is not accepted."),
    "unsupported_media_type": N_("This kind of content is not accepted."),
    "payload_too_large": N_("What was sent is too large."),
    "headers_too_large": N_("The request's headers are too large."),
    "request_timeout": N_("The request came too slowly."),
    "not_found": N_("Nothing was found."),
    "privacy_budget_exhausted": N_("The privacy budget for this is used up."),
    "pruned": N_("The details of this entry were removed after their retention period."),
    "method_not_allowed": N_("This address does not accept this kind of request."),
    "conflict": N_("This conflicts with what the hub holds."),
    "no_provider": N_("No source answers this service."),
    "provider_unavailable": N_("The source cannot be reached now."),
    "provider_timeout": N_("The source did not answer in time."),
    "provider_error": N_("The source answered with an error."),
    "invalid_provider_response": N_("The source's answer was not valid."),
    "unknown_peer": N_("This hub is not known here."),
    "peer_untrusted": N_("This hub is not trusted."),
    "peer_document_expired": N_("The other hub's document has expired."),
    "not_offered": N_("This is not offered here."),
    "not_peer_member": N_("This institution is not recorded here as a member of that hub."),
    "no_identifier_link": N_("No link between these identifiers is known."),
    "not_identifier_authority": N_("This institution may not link identifiers."),
    "invalid_tree_head": N_("The signed tree head is not valid."),
    "stale_tree_head": N_("The signed tree head is out of date."),
    "split_view": N_("Two different histories of the log were seen."),
    "invalid_restore_declaration": N_("The restore declaration is not valid."),
    "malformed_xml": N_("The file is not well-formed XML, or not the form expected here."),
    "forbidden_xml": N_("The file uses XML features that are not allowed."),
    "no_mandate": N_("No mandate allows you to declare for this employer."),
    "quota_exceeded": N_("Too many requests: the quota is used up. Try again later."),
    "batch_failed": N_("The file could not be processed."),
    "simulations_busy": N_("Too many simulations are running. Try again in a moment."),
    "member_busy": N_("Your institution has too many exchanges under way. Try again in a moment."),
    "not_ready": N_("The hub is not ready. Try again in a moment."),
    "warehouse_unavailable": N_("The statistics cannot be read now."),
    "internal_error": N_("Something went wrong on the hub; it is logged."),
}


def sentence(code: str) -> str:
    """The message id that tells a reader what `code` means (a general one for a code that is
    not the hub's, e.g. a source's own)."""
    return SENTENCES.get(code, REFUSED)
