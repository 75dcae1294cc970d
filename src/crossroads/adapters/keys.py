"""The hub's signing keys, and every JOSE operation the hub performs, with joserfc.

- Access tokens: JWTs the hub signs for applications (RFC 9068 shape), verified on every call.
- Client assertions: JWTs applications sign with their registered key (RFC 7523 private_key_jwt).
- Request signatures: a JWS with detached payload over each forwarded request (RFC 7515 App. F).

Keys live as JWK files in a directory; the newest is the signing key, all are published in the
JWKS so that tokens and signatures made before a rotation still verify until they expire.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet, OKPKey

from ..domain.errors import Refusal
# The request signatures' format is the provider kit's, which verifies them at the institutions.
from ..providerkit.signatures import ALGORITHMS, SIGNATURE_REGISTRY as _SIGNATURE_REGISTRY
from ..providerkit.signatures import verify_detached as verify_detached  # re-exported
from ..services.ports import Signer
# Clocks of applications and hub processes drift apart by a few seconds; a minute is generous.
CLOCK_SKEW_SECONDS = 60
_TIMES = ("exp", "iat", "nbf")
_LATEST_TIME = 10**10  # seconds since 1970: the year 2286, past any token's life, and exact as a float


def check_claims(claims: dict, now: float, essential: tuple[str, ...], refusal: tuple[str, str | None]) -> None:
    """RFC 7519's registered claims checked for type as well as value, with joserfc's registry:
    `exp`, `iat` and `nbf` are finite JSON numbers (not NaN, an infinity, a boolean or a string),
    `exp` is in the future, `iat` and `nbf` are not (but for clock skew), and all three lie
    between 1970 and 2286; `iss`, `sub` and `jti` are strings.

    Every comparison with NaN is false, so a lifetime check on values alone let `iat: NaN` pass.
    `refusal` is the (code, field) of the Refusal raised, with a sentence naming the claim."""
    code, field_name = refusal
    registry = jwt.JWTClaimsRegistry(now=int(now), leeway=CLOCK_SKEW_SECONDS,
                                     **{name: {"essential": True} for name in essential})
    what = "client assertion" if code == "invalid_client" else "access token"
    try:
        registry.validate(claims)
    except MissingClaimError as exc:
        names = exc.description.rpartition(": ")[2].strip("'")
        raise Refusal(code, f"the {what} lacks the {names} claim.", field_name) from None
    except ExpiredTokenError:
        raise Refusal(code, f"the {what} has expired.", field_name) from None
    except InvalidClaimError as exc:
        raise Refusal(code, f"the {what} is invalid: {exc.description}.", field_name) from None
    for name in _TIMES:
        if name in claims and not 0 <= claims[name] < _LATEST_TIME:
            raise Refusal(code, f"the {what}'s {name} is not a time between 1970 and 2286.", field_name)
    if "exp" in claims and claims["exp"] <= now:  # the skew is allowed for the issuer's clock, not after expiry
        raise Refusal(code, f"the {what} has expired.", field_name)


class HubKeys(Signer):
    def __init__(self, keys: list[OKPKey]) -> None:
        if not keys:
            raise ValueError("the hub needs at least one signing key")
        self._keys = keys
        self.signing_key = keys[-1]
        self.key_set = KeySet(keys)

    @property
    def kid(self) -> str:
        return self.signing_key.kid or ""

    @classmethod
    def load_or_create(cls, directory: Path) -> "HubKeys":
        """Load every `*.jwk.json` in `directory` (oldest first); create one if there is none."""
        directory.mkdir(parents=True, exist_ok=True)
        files = sorted(directory.glob("*.jwk.json"))
        if not files:
            files = [cls.rotate(directory)]
        keys = [OKPKey.import_key(json.loads(f.read_text())) for f in files]
        return cls(keys)

    @staticmethod
    def rotate(directory: Path) -> Path:
        """Write a new Ed25519 key; it signs from the next start, older keys stay published."""
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        key = OKPKey.generate_key("Ed25519", parameters={"use": "sig", "alg": "EdDSA"})
        kid = key.thumbprint()
        key = OKPKey.import_key(key.as_dict(private=True), parameters={"kid": kid, "use": "sig", "alg": "EdDSA"})
        path = directory / f"{stamp}-{kid[:8]}.jwk.json"
        path.write_text(json.dumps(key.as_dict(private=True)))
        path.chmod(0o600)
        return path

    def jwks(self) -> dict:
        return {"keys": [k.as_dict(private=False) for k in self._keys]}

    # --- access tokens -------------------------------------------------------------------------

    def issue_token(self, claims: dict) -> str:
        header = {"alg": "EdDSA", "kid": self.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.signing_key, algorithms=ALGORITHMS)

    def verify_token(self, token: str, now: float) -> dict:
        """Claims of a token this hub signed, current at `now` (`check_claims`, with `exp` and
        `iat` required); Refusal("unauthenticated") otherwise."""
        try:
            claims = jwt.decode(token, self.key_set, algorithms=["EdDSA"]).claims
        except (JoseError, ValueError, TypeError, KeyError):
            raise Refusal("unauthenticated", "the access token is malformed or was not signed by this hub.") from None
        check_claims(claims, now, ("exp", "iat"), ("unauthenticated", None))
        return claims

    # --- request signatures ------------------------------------------------------------------

    def sign_detached(self, payload: bytes, protected: dict) -> str:
        header = {"alg": "EdDSA", "kid": self.kid, **protected}
        compact = jws.serialize_compact(header, payload, self.signing_key, registry=_SIGNATURE_REGISTRY)
        head, _, signature = compact.split(".")
        return f"{head}..{signature}"

    def verify_client_assertion(self, assertion: str, jwks: dict, now: float) -> dict:
        return verify_client_assertion(assertion, jwks, now)


def verify_client_assertion(assertion: str, jwks: dict, now: float) -> dict:
    """Claims of an application's client assertion, checked against its registered keys and
    current at `now` (`check_claims`, with `exp` and `jti` required, RFC 7523 §3)."""
    try:
        key_set = KeySet.import_key_set(jwks)
        claims = jwt.decode(assertion, key_set, algorithms=ALGORITHMS).claims
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise Refusal("invalid_client", f"the client assertion does not verify against the application's registered keys ({exc.__class__.__name__}).", "client_assertion") from None
    check_claims(claims, now, ("exp", "jti"), ("invalid_client", "client_assertion"))
    return claims


def make_client_assertion(client_id: str, audience: str, private_jwk: dict, lifetime: int = 60) -> str:
    """What an application does to obtain a token; used by the CLI, the demo and the tests."""
    now = int(time.time())
    key = KeySet.import_key_set({"keys": [private_jwk]}).keys[0]
    alg = "ES256" if private_jwk.get("kty") == "EC" else "EdDSA"
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}
    header = {"alg": alg, **({"kid": private_jwk["kid"]} if "kid" in private_jwk else {})}
    return jwt.encode(header, claims, key, algorithms=ALGORITHMS)


def token_request(client_id: str, token_endpoint: str, private_jwk: dict) -> dict:
    """The form an application posts to the token endpoint (client credentials, RFC 7523 assertion)."""
    return {"grant_type": "client_credentials", "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": make_client_assertion(client_id, token_endpoint, private_jwk)}


def generate_application_key(kind: str = "Ed25519") -> dict:
    """A new private JWK for an application (Ed25519 or ES256)."""
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256") if kind == "ES256" else OKPKey.generate_key("Ed25519")
    data = key.as_dict(private=True)
    data["kid"] = key.thumbprint()
    return data


def client_key_path(data_dir: Path, client_id: str) -> Path:
    """Where an application's private key is kept in a data folder (the demo writes its own there;
    `crossroads token` and `ask` read it by default)."""
    return data_dir / "clients" / f"{client_id.replace(':', '_')}.jwk.json"


def public_jwk(private_jwk: dict) -> dict:
    return {k: v for k, v in private_jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}

