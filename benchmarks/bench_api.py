"""The REST API under load, next to the same operations called in-process.

    python benchmarks/bench_api.py --db URL [--seconds 20] [--connections 16]

The register must exist and hold customers (a demo register: ``custmdm demo``). The
script gives the acting user a token, starts ``custmdm serve`` (uvicorn, one process)
on a free loopback port and loads it from a second process with ``wrk`` (apt-get
install wrk), each request drawing one of 2,000 codes (or queries) picked from the
register (seeded):

* ``GET /customers/{code}``: throughput and latency percentiles;
* ``GET /search?q=`` with legal names' trade names;
* ``POST /duplicates/check`` with registered customers' legal names and regions;
* ``POST /customers`` with new demo customers (the demo generator's numbers after those
  already registered), each with its own Idempotency-Key; the register grows by what
  is registered. Likely duplicates of registered customers are refused (409) and
  counted apart.

The peer, in this process: ``Register.find`` / ``search`` / ``check_duplicates`` /
``register_once`` over the same kind of inputs, one after another, so what HTTP, JSON
and the server add is visible.
Prints JSON lines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from custmdm import open_register
from custmdm.core.customers import CustomerDraft, validate_draft
from custmdm.demo.generator import DemoGenerator
from custmdm.domain.names import parse_name
from custmdm.errors import Conflict
from custmdm.register import Register
from custmdm.store.tables import customer, customer_code

CLI = "import sys; from custmdm.cli.main import app; sys.argv[0] = 'custmdm'; app()"
LUA = """
local inputs = {}
for line in io.lines("%(inputs)s") do inputs[#inputs + 1] = line end
local threads = {}
local started = 0
function setup(thread)
  started = started + 1
  thread:set("id", started)
  threads[#threads + 1] = thread
end
local i = 0
created, refused = 0, 0
request = function()
  i = i + 1
  -- the threads take turns through the inputs: none sends what another sent
  local item = inputs[((i * %(threads)d + id - 1) %% #inputs) + 1]
  %(request)s
end
%(response)s
function done(summary, latency, requests)
  local made, dup = 0, 0
  for _, t in ipairs(threads) do made = made + t:get("created"); dup = dup + t:get("refused") end
  io.write(string.format("p95_us %%d\\ncreated %%d\\nrefused %%d\\n",
                         latency:percentile(95), made, dup))
end
"""
REQUESTS = {
    "get": 'return wrk.format("GET", "/customers/" .. item)',
    "search": 'return wrk.format("GET", "/search?limit=10&q=" .. item)',
    "check": 'local h = {} for k, v in pairs(wrk.headers) do h[k] = v end '
             'h["Content-Type"] = "application/json" '
             'return wrk.format("POST", "/duplicates/check", h, item)',
    # A new customer per request, with an Idempotency-Key, as a careful client sends.
    "register": 'local h = {} for k, v in pairs(wrk.headers) do h[k] = v end '
                'h["Content-Type"] = "application/json" '
                'h["Idempotency-Key"] = "bench-%(run)s-" .. id .. "-" .. i '
                'return wrk.format("POST", "/customers", h, item)',
}
#: Counts registrations (201) and refusals as likely duplicates (409) per thread.
COUNT_STATUSES = """
function response(status, headers, body)
  if status == 201 then created = created + 1 elseif status == 409 then refused = refused + 1 end
end
"""
THREADS = 2


def pick(reg: Register, count: int, seed: int) -> list[tuple[str, str, str | None, str]]:
    """``count`` active customers: (code, legal name, region, kind)."""
    rng = random.Random(seed)
    with reg.store.read() as conn:
        top = int(conn.execute(select(func.max(customer.c.id))).scalar_one())
        ids = rng.sample(range(1, top + 1), min(count * 2, top))
        rows = conn.execute(
            select(customer_code.c.value, customer.c.legal_name, customer.c.region,
                   customer.c.kind)
            .join(customer, customer.c.id == customer_code.c.customer_id)
            .where(customer.c.id.in_(ids), customer_code.c.status == "active")).all()
    return [tuple(r) for r in rows][:count]  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, token: str, inputs: list[str], request: str, seconds: int,
        connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        listing = Path(work) / "inputs.txt"
        listing.write_text("\n".join(inputs) + "\n", encoding="utf-8")
        script = Path(work) / "load.lua"
        script.write_text(LUA % {
            "inputs": listing, "threads": THREADS,
            "request": REQUESTS[request] % {"run": f"{time.time():.0f}"},
            "response": COUNT_STATUSES if request == "register" else ""})
        out = subprocess.run(
            ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
             str(script), "-H", f"Authorization: Bearer {token}", url],
            capture_output=True, text=True, check=True).stdout
    found: dict[str, Any] = {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}
    for p in ("50", "90", "99"):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        found[f"p{p}_ms"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    p95 = re.search(r"p95_us (\d+)", out)
    found["p95_ms"] = int(p95[1]) / 1000 if p95 else None
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    found["non_2xx"] = int(errors[1]) if errors else 0
    if request == "register":
        counted = {k: int(v) for k, v in re.findall(r"^(created|refused) (\d+)$", out, re.M)}
        found["registered"] = counted["created"]
        found["refused_as_duplicates"] = counted["refused"]
        found["registered_per_second"] = round(found["registered"] / seconds, 1)
    return found


def body(draft: CustomerDraft) -> str:
    """A draft as the JSON a client posts to /customers (one line)."""
    return json.dumps({
        "kind": draft.kind, "legal_name": draft.legal_name, "region": draft.region,
        "industry": draft.industry, "size": draft.size, "grade": draft.grade,
        "identifiers": [{"scheme": i.scheme, "value": i.value}
                        for i in validate_draft(draft).identifiers],
        "names": [{"kind": k, "text": t} for k, t in draft.names],
        "phones": list(draft.phones), "emails": list(draft.emails),
        "address": draft.address, "legal_representative": draft.legal_representative,
    }, ensure_ascii=False)


def in_process(reg: Register, calls: list[Any]) -> dict[str, Any]:
    times = []
    for call in calls:
        started = time.perf_counter()
        with contextlib.suppress(Conflict):  # a likely duplicate, refused after its check
            call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"calls_per_second": round(len(times) / (sum(times) / 1000), 1),
            "p50_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(len(times) * 0.9)], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--new", type=int, default=30_000,
                        help="new customers made ready for the registration load")
    parser.add_argument("--only", nargs="*", choices=[*REQUESTS], default=[*REQUESTS])
    args = parser.parse_args()
    reg = open_register(args.db)
    token = reg.create_token(reg.ctx.actor.name, "bench_api", days=1).token
    customers = pick(reg, 2000, args.seed)
    codes = [c[0] for c in customers]
    queries = [urllib.request.quote(parse_name(c[1]).trade_name or c[1]) for c in customers]
    drafts = [json.dumps({"kind": c[3], "legal_name": c[1], "region": c[2]},
                         ensure_ascii=False) for c in customers]
    with reg.store.read() as conn:
        first_new = int(conn.execute(select(func.max(customer.c.id))).scalar_one()) + 1
    generator = DemoGenerator(seed=2026)
    new = list(generator.customers(args.new + 3_000, start=first_new))
    warm, peer_new, load_new = new[:1_000], new[1_000:3_000], new[3_000:]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", CLI, "--db", args.db, "serve",
                               "--port", str(port), "--workers", str(args.workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/openapi.json", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        loads = {"get": (codes, codes[:200]), "search": (queries, queries[:200]),
                 "check": (drafts, drafts[:200]),
                 "register": ([body(d) for d in load_new], [body(d) for d in warm])}
        for name in args.only:
            inputs, warming = loads[name]
            wrk(url, token, warming, name, 3, args.connections)  # warm up
            result = wrk(url, token, inputs, name, args.seconds, args.connections)
            print(json.dumps({"benchmark": f"api-{name}", "workers": args.workers,
                              "connections": args.connections,
                              "seconds": args.seconds, "register": len(customers) and
                              reg.overview().to_dict().get("customers"), **result}),
                  flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    peers: dict[str, list[Any]] = {
        "get": [lambda c=c: reg.find(c) for c in codes],
        "search": [lambda q=q: reg.search(urllib.request.unquote(q), 10) for q in queries],
        "check": [lambda c=c: reg.check_duplicates(CustomerDraft(c[3], c[1], region=c[2]))
                  for c in customers],
        "register": [lambda d=d, n=n: reg.register_once(d, f"bench-peer-{first_new}-{n}")
                     for n, d in enumerate(peer_new)],
    }
    for name in args.only:
        calls = peers[name]
        print(json.dumps({"benchmark": f"in-process-{name}", **in_process(reg, calls)}),
              flush=True)
    reg.close()


if __name__ == "__main__":
    main()
