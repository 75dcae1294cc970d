"""Declarations through real hub processes: a batch file acknowledged by a hub that is then killed
(SIGKILL) while it works through the file is finished by the next hub process, every form decided
exactly once, and every mutation it causes published."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date

import httpx
import orjson

from crossroads.demo import country, employers
from crossroads.demo.seed import client_key_path

from ..support import token_form
from .processes import CLI, wait_for

PAYROLL = f"{country.BY_KEY['payroll'].number}:payroll-app"


def payroll_token(d, n: int) -> str:
    key = json.loads(client_key_path(d.data_dir, PAYROLL).read_text())
    answer = httpx.post(f"{d.url(n)}/oauth/token", data=token_form(PAYROLL, key, f"{d.issuer}/oauth/token"), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def gauge(d, n: int, name: str) -> float:
    metrics = httpx.get(f"{d.url(n)}/metrics", timeout=5).text
    return float(re.search(rf"^{name} ([\d.]+)$", metrics, re.M).group(1))


def test_a_batch_survives_the_hub_that_acknowledged_it(deployment):
    d = deployment
    d.env["CROSSROADS_DECLARATIONS_SOURCE"] = country.BY_KEY["nsso"].number
    d.env["CROSSROADS_DECLARATION_INTERVAL_SECONDS"] = "0.05"
    d.start(1)
    token = payroll_token(d, 1)
    # New workers (national numbers of people born on 1 and 2 January 1990), one IN each.
    workers = [f"90010{day}{serial:03d}" for day in (1, 2) for serial in range(1, 501)]
    workers = [w + f"{97 - int(w) % 97:02d}" for w in workers]
    forms = [employers.dimona_in(w, employers.EMPLOYERS[n % 20][0], date.today(), "OTH") for n, w in enumerate(workers)]
    uploaded = httpx.post(f"{d.url(1)}/v1/declarations/batches/dimona", content=orjson.dumps(forms), timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert uploaded.status_code == 202, uploaded.text
    location = uploaded.headers["location"]
    batch_id = uploaded.json()["batchId"]

    def decided() -> int:
        return d.scalar("SELECT COUNT(*) FROM declarations WHERE batch_id = ?", (batch_id,))

    # Killed while it works through the file: once it has decided some forms, before all.
    wait_for(lambda: decided() > 0, timeout=60, every=0.02, what="the first hub deciding forms")
    d.kill(1)
    assert 0 < decided() < len(forms), "the first hub was killed before or after the file, not in it"
    assert d.scalar("SELECT status FROM declaration_batches WHERE id = ?", (batch_id,)) == "S"

    d.start(2)
    token = payroll_token(d, 2)
    auth = {"Authorization": f"Bearer {token}"}
    done = wait_for(lambda: (s := httpx.get(f"{d.url(2)}{location}", headers=auth, timeout=5).json())["result"] != "S" and s,
                    timeout=60, what="the batch to be finished by the second hub")
    assert done["result"] == "A", done
    ack = httpx.get(f"{d.url(2)}{location}/acknowledgement", headers=auth, timeout=5).json()
    assert ack["forms"] == 1000 and {x["result"] for x in ack["declarations"]} == {"A"}
    assert len({x["dimonaPeriodId"] for x in ack["declarations"]}) == 1000
    again = httpx.post(f"{d.url(2)}/v1/declarations/batches/dimona", content=orjson.dumps(forms), timeout=30,
                       headers={**auth, "Content-Type": "application/json"})
    assert again.status_code == 200 and again.headers["location"] == location
    wait_for(lambda: gauge(d, 2, "crossroads_declaration_events_pending") == 0, timeout=60,
             what="every declared mutation published")

    # The command line, as a payroll office would use it: one form, then a batch file.
    out = d.data_dir.parent / "out"
    out.mkdir()
    (out / "in.json").write_text(json.dumps(forms[0]))
    again = subprocess.run([*CLI, "declare", "dimona", str(out / "in.json"), "--client", PAYROLL, "--hub", d.url(2),
                            "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "90373-333" in again.stdout and "Duplicate Dimona period" in again.stdout
    (out / "batch.json").write_text(json.dumps(forms[:2]))
    batched = subprocess.run([*CLI, "declare", "dimona", str(out / "batch.json"), "--batch", "--client", PAYROLL,
                              "--hub", d.url(2), "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=60)
    assert batched.returncode == 1 and batched.stdout.count("90373-333") == 2, batched.stdout + batched.stderr
