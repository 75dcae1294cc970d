"""Access tokens (services/auth.py) through the token service, on the fakes: issued for a
signed client assertion, refused when the assertion is replayed, and revoked with the
application's credential epoch."""

from __future__ import annotations

import pytest

from crossroads.adapters.keys import generate_application_key, public_jwk, token_request
from crossroads.domain.errors import Refusal
from crossroads.domain.registry import Application, Institution
from crossroads.services.auth import RevokedCredential, TokenService
from crossroads.services.clock import Clock

from .conftest import ISSUER, WELFARE

pytestmark = pytest.mark.anyio
CLIENT = f"{WELFARE}:case-app"


@pytest.fixture
async def signed_in(world):
    """The token service on the real clock (a client assertion carries the real time), and
    the welfare centre's application with its key pair."""
    key = generate_application_key()
    await world.store.registry.put_institution(Institution(WELFARE, "Welfare centre"))
    await world.store.registry.put_application(
        Application(WELFARE, "case-app", "Case files", {"keys": [public_jwk(key)]}))
    tokens = TokenService(world.store.registry, world.store.replay, world.store.audit, world.keys,
                          Clock(), issuer=ISSUER, token_ttl=300, max_assertion_lifetime=300)
    return tokens, key


async def test_a_signed_assertion_gets_a_token_that_authenticates_its_application(world, signed_in):
    tokens, key = signed_in
    issued = await tokens.issue(token_request(CLIENT, tokens.token_endpoint, key))
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 300
    caller = await tokens.authenticate(issued["access_token"])
    assert (caller.institution, caller.application) == (WELFARE, "case-app")
    assert world.records("auth") == []  # only refusals are audited here


async def test_a_replayed_assertion_is_refused_and_audited_with_the_client_it_claims(
        world, signed_in):
    tokens, key = signed_in
    form = token_request(CLIENT, tokens.token_endpoint, key)
    await tokens.issue(form, "r-1")
    with pytest.raises(Refusal) as refused:
        await tokens.issue(form, "r-2")
    assert refused.value.code == "invalid_client" and "replayed" in refused.value.message
    [record] = world.records("auth")
    assert (record.outcome, record.request_id, record.target) == ("invalid_client", "r-2", CLIENT)


async def test_disabling_the_application_revokes_its_tokens_for_good(world, signed_in):
    tokens, key = signed_in
    token = (await tokens.issue(token_request(CLIENT, tokens.token_endpoint, key)))["access_token"]
    application = await world.store.registry.get_application(WELFARE, "case-app")
    await world.store.registry.put_application(
        Application(WELFARE, "case-app", "Case files", application.jwks, active=False))
    with pytest.raises(RevokedCredential):
        await tokens.authenticate(token)
    await world.store.registry.put_application(application)  # enabled again
    with pytest.raises(RevokedCredential):
        await tokens.authenticate(token)
    fresh = (await tokens.issue(token_request(CLIENT, tokens.token_endpoint, key)))["access_token"]
    assert (await tokens.authenticate(fresh)).application == "case-app"
