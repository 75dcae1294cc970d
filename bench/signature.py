"""The CPU of the signature every exchange puts on its forward to the provider, in one run.

    crossroads bench signature [--signatures N] [--rounds R] [--json]

`hub` is HubKeys.sign_detached as the hub runs it (the compact JWS with a detached payload,
signed by libsodium through PyNaCl); `cryptography` is the same JWS signed by the `cryptography`
package's OpenSSL, as the hub did before (docs/benchmarks.md, "The exchange's signature"). Both
use one key, over the exchange's kind of payload and protected header, R rounds alternated of N
signatures each; the figure is this thread's CPU a signature (`time.thread_time`), one a round,
and the minimum over the rounds. The two give the same bytes (Ed25519 is deterministic): checked
before the rounds.
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from report import print_figures  # bench/report.py, beside this script

from crossroads.adapters.keys import HubKeys

PAYLOAD = (
    b'{"request_id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","service":"person.identity",'
    b'"version":"1","subject":"79122212345","purpose":"SOCIAL_INTEGRATION"}'
)
PROTECTED = {"aud": "http://127.0.0.1:8001/v1/person.identity", "rid": "1b4e28ba", "iat": 1}


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def with_cryptography(keys: HubKeys) -> Callable[[bytes, dict], str]:
    private = keys.signing_key.private_key

    def sign(payload: bytes, protected: dict) -> str:
        head = b64url(orjson.dumps({"alg": "EdDSA", "kid": keys.kid, **protected}))
        signature = private.sign(head + b"." + b64url(payload))
        return f"{head.decode()}..{b64url(signature).decode()}"

    return sign


def cpu_us_per_signature(sign: Callable[[bytes, dict], str], count: int) -> float:
    started = time.thread_time()
    for _ in range(count):
        sign(PAYLOAD, PROTECTED)
    return round((time.thread_time() - started) / count * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signatures", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keys = HubKeys.load_or_create(Path(folder) / "keys")
        signers = {"hub": keys.sign_detached, "cryptography": with_cryptography(keys)}
        if signers["hub"](PAYLOAD, PROTECTED) != signers["cryptography"](PAYLOAD, PROTECTED):
            raise SystemExit("the two signatures differ")
        rounds: dict[str, list[float]] = {name: [] for name in signers}
        for sign in signers.values():  # a warm-up
            cpu_us_per_signature(sign, args.signatures // 10)
        for _ in range(args.rounds):
            for name, sign in signers.items():
                rounds[name].append(cpu_us_per_signature(sign, args.signatures))
    result: dict = {"signatures": args.signatures, "rounds": args.rounds}
    for name, figures in rounds.items():
        result[f"{name}_cpu_us_per_signature"] = figures
        result[f"{name}_cpu_us_per_signature_min"] = min(figures)
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
