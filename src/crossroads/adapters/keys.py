"""The hub's signing keys, and every JOSE operation the hub performs, with joserfc.

- Access tokens: JWTs the hub signs for applications (RFC 9068 shape), verified on every call.
- Client assertions: JWTs applications sign with their registered key (RFC 7523 private_key_jwt).
- Request signatures: a JWS with detached payload over each forwarded request (RFC 7515 App. F).

The hub's keys live in a folder (key_folder.py: next, current, previous, retired); every key ever
used is published in the JWKS, so that tokens, signatures, tree heads and archive segments made
before a rotation still verify, and the key history says which key endorsed which.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from pathlib import Path

import orjson
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet, OKPKey
from nacl.bindings import crypto_sign, crypto_sign_BYTES, crypto_sign_seed_keypair

from ..domain import unique_keys
from ..domain.errors import Refusal
from ..key_history import public_part

# The request signatures' format is the provider kit's, which verifies them at the institutions.
from ..providerkit.signatures import ALGORITHMS
from ..providerkit.signatures import verify_detached as verify_detached  # re-exported
from ..services.ports import Signer
from .key_folder import CURRENT, NEXT, RETIRED, KeyFolder, NoHubKey, StoredKey, states

log = logging.getLogger("crossroads.keys")
# Clocks of applications and hub processes drift apart by a few seconds; a minute is generous.
CLOCK_SKEW_SECONDS = 60
_TIMES = ("exp", "iat", "nbf")
_LATEST_TIME = (
    10**10
)  # seconds since 1970: the year 2286, past any token's life, and exact as a float


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def check_claims(
    claims: dict, now: float, essential: tuple[str, ...], refusal: tuple[str, str | None]
) -> None:
    """RFC 7519's registered claims checked for type as well as value, with joserfc's registry:
    `exp`, `iat` and `nbf` are finite JSON numbers (not NaN, an infinity, a boolean or a string),
    `exp` is in the future, `iat` and `nbf` are not (but for clock skew), and all three lie
    between 1970 and 2286; `iss`, `sub` and `jti` are strings.

    Every comparison with NaN is false, so a lifetime check on values alone let `iat: NaN` pass.
    `refusal` is the (code, field) of the Refusal raised, with a sentence naming the claim."""
    code, field_name = refusal
    registry = jwt.JWTClaimsRegistry(
        now=int(now), leeway=CLOCK_SKEW_SECONDS, **{name: {"essential": True} for name in essential}
    )
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
            raise Refusal(
                code, f"the {what}'s {name} is not a time between 1970 and 2286.", field_name
            )
    if (
        "exp" in claims and claims["exp"] <= now
    ):  # the skew is allowed for the issuer's clock, not after expiry
        raise Refusal(code, f"the {what} has expired.", field_name)


class HubKeys(Signer):
    """The hub's keys as a process sees them: the folder (key_folder.py) read again every
    `reload_seconds`, and at the moment a scheduled next key becomes current, so that a key
    published, activated or retired by `crossroads keys` reaches every running process."""

    def __init__(self, folder: KeyFolder, reload_seconds: float = 30.0) -> None:
        self._folder = folder
        self._reload_seconds = reload_seconds
        self._load_at = 0.0
        self._load(folder.read(), time.time())

    @classmethod
    def load(cls, directory: Path, reload_seconds: float = 30.0) -> HubKeys:
        """The keys in `directory`; NoHubKey when it holds none (only `load_or_create`, for the
        hub that signs, makes the first)."""
        return cls(KeyFolder(directory), reload_seconds)

    @classmethod
    def load_or_create(cls, directory: Path, reload_seconds: float = 30.0) -> HubKeys:
        """The keys in `directory`, the first one created when there is none."""
        folder = KeyFolder(directory)
        try:
            folder.read()
        except NoHubKey:
            folder.create_first()
        return cls(folder, reload_seconds)

    def _load(self, stored: list[StoredKey], now: float) -> None:
        found = states(stored, now)
        current = [k for k in stored if found[k.kid] == CURRENT]
        if not current:
            raise NoHubKey(f"no current signing key in {self._folder.directory}")
        self.signing_key = OKPKey.import_key(current[0].jwk)
        self._sodium_key = _sodium_key(self.signing_key)
        # Access tokens only from keys not retired: a key is retired after the longest token
        # life, or at once when it leaked; either way no token it signed may count any more.
        self.key_set = KeySet([OKPKey.import_key(k.jwk) for k in stored if found[k.kid] != RETIRED])
        self._public = [public_part(k.jwk) for k in stored]
        self._history = [
            {
                "kid": k.kid,
                "jwk": public_part(k.jwk),
                "state": found[k.kid],
                "endorsement": k.endorsement,
            }
            for k in stored
        ]
        scheduled = [
            k.activates_at
            for k in stored
            if found[k.kid] == NEXT and k.activates_at is not None and k.activates_at > now
        ]
        self._load_at = min([now + self._reload_seconds, *scheduled])

    def _fresh(self) -> None:
        now = time.time()
        if now < self._load_at:
            return
        try:
            self._load(self._folder.read(), now)
        except Exception:  # the keys already loaded still sign: a bad folder is logged, retried
            log.exception("the hub's keys could not be read again from %s", self._folder.directory)
            self._load_at = now + self._reload_seconds

    @property
    def kid(self) -> str:
        self._fresh()
        return self.signing_key.kid or ""

    def jwks(self) -> dict:
        """Every key the hub ever used, retired ones included (its JWKS history)."""
        self._fresh()
        return {"keys": list(self._public)}

    def key_history(self) -> dict:
        """The keys in the order they were made, with their state and their endorsement (the
        transition statement by the key current before; see key_history.py)."""
        self._fresh()
        return {"keys": list(self._history)}

    # --- access tokens -------------------------------------------------------------------------

    def issue_token(self, claims: dict) -> str:
        header = {"alg": "EdDSA", "kid": self.kid, "typ": "at+jwt"}  # self.kid refreshes
        return jwt.encode(header, claims, self.signing_key, algorithms=ALGORITHMS)

    def verify_token(self, token: str, now: float) -> dict:
        """Claims of a token this hub signed, current at `now` (`check_claims`, with `exp` and
        `iat` required); Refusal("unauthenticated") otherwise."""
        self._fresh()
        try:
            claims = jwt.decode(token, self.key_set, algorithms=["EdDSA"]).claims
        except (JoseError, ValueError, TypeError, KeyError):
            raise Refusal(
                "unauthenticated", "the access token is malformed or was not signed by this hub."
            ) from None
        check_claims(claims, now, ("exp", "iat"), ("unauthenticated", None))
        return claims

    # --- request signatures ------------------------------------------------------------------

    def sign_detached(self, payload: bytes, protected: dict) -> str:
        """RFC 7515's compact JWS over `payload`, the payload left out (Appendix F): the same
        bytes joserfc's `serialize_compact` makes. Every exchange signs its forward; joserfc's
        header registry and key wrappers cost more CPU than the Ed25519 signature itself (61
        against 35 µs a signature), and the verifying side, the provider kit's
        `verify_detached`, still checks the header with joserfc. The signature is libsodium's
        (PyNaCl): 24.5-26.3 µs of CPU, the JWS included, against 37.2-38.7 with the
        `cryptography` package's OpenSSL on the same key (`crossroads bench signature`);
        Ed25519 is deterministic, so the bytes are the same."""
        header = orjson.dumps({"alg": "EdDSA", "kid": self.kid, **protected})  # kid refreshes
        head = _b64url(header)
        signed = crypto_sign(head + b"." + _b64url(payload), self._sodium_key)
        return f"{head.decode()}..{_b64url(signed[:crypto_sign_BYTES]).decode()}"

    def verify_client_assertion(self, assertion: str, jwks: dict, now: float) -> dict:
        return verify_client_assertion(assertion, jwks, now)


def _sodium_key(key: OKPKey) -> bytes:
    """libsodium's secret key (the seed and the public key) of an Ed25519 JWK."""
    _, secret = crypto_sign_seed_keypair(key.private_key.private_bytes_raw())
    return secret


def verify_client_assertion(assertion: str, jwks: dict, now: float) -> dict:
    """Claims of an application's client assertion, checked against its registered keys and
    current at `now` (`check_claims`, with `exp` and `jti` required, RFC 7523 §3); its header and
    claims name each key once (domain/unique_keys.py: joserfc keeps the last of two)."""
    try:
        unique_keys.check_jws(assertion)
        key_set = KeySet.import_key_set(jwks)
        claims = jwt.decode(assertion, key_set, algorithms=ALGORITHMS).claims
    except unique_keys.DuplicateKey as exc:
        raise Refusal(
            "invalid_client", f"the client assertion: {exc}.", "client_assertion"
        ) from None
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise Refusal(
            "invalid_client",
            "the client assertion does not verify against the application's registered keys"
            f" ({exc.__class__.__name__}).",
            "client_assertion",
        ) from None
    check_claims(claims, now, ("exp", "jti"), ("invalid_client", "client_assertion"))
    return claims


def make_client_assertion(
    client_id: str, audience: str, private_jwk: dict, lifetime: int = 60
) -> str:
    """What an application does to obtain a token; used by the CLI, the demo and the tests."""
    now = int(time.time())
    key = KeySet.import_key_set({"keys": [private_jwk]}).keys[0]
    alg = "ES256" if private_jwk.get("kty") == "EC" else "EdDSA"
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    header = {"alg": alg, **({"kid": private_jwk["kid"]} if "kid" in private_jwk else {})}
    return jwt.encode(header, claims, key, algorithms=ALGORITHMS)


def token_request(client_id: str, token_endpoint: str, private_jwk: dict) -> dict:
    """The form an application posts to the token endpoint (client credentials, RFC 7523
    assertion)."""
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": make_client_assertion(client_id, token_endpoint, private_jwk),
    }


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
