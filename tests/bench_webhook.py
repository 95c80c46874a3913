"""Webhook accept path vs a bare Odoo route, on a running server.

    bash tools/bench.sh webhook [--duration 10] [--connections 8]

Both routes get the same signed Shopify ``orders/create`` body from wrk (a
second process on loopback), alternately, for the same duration and number
of connections. Each webhook request carries a new X-Shopify-Webhook-Id, so
every one is a new event (202: verified, stored, job enqueued); the bare route
(tests/bench_addons) only answers 200. Prints requests/s, latency percentiles
and the ratio; then checks that every accepted delivery is stored.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
import uuid
import xmlrpc.client

from tests.simulators.webhook_sender import ShopifySender

SECRET = "bench-secret"

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Shopify-Hmac-Sha256"] = "{hmac}"
wrk.headers["X-Shopify-Topic"] = "orders/create"
wrk.headers["X-Shopify-Shop-Domain"] = "bench.myshopify.com"
local counter = 0
local prefix = "{prefix}"
local thread_id = 0
local threads = 0
function setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
end
function init(args)
   thread_id = tid
end
request = function()
   counter = counter + 1
   wrk.headers["X-Shopify-Webhook-Id"] = prefix .. "-" .. thread_id .. "-" .. counter
   return wrk.format(nil, nil)
end
local bad = 0
response = function(status, headers, body)
   if status ~= {expected} then bad = bad + 1 end
end
done = function(summary, latency, requests)
   io.write(string.format("BAD %d\\n", bad))
end
"""

ORDER = {
    "id": 820982911946154508,
    "name": "#1001",
    "email": "jon@example.com",
    "updated_at": "2026-11-20T12:00:00-05:00",
    "currency": "CAD",
    "total_price": "24.15",
    "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 2, "price": "11.50"}],
}


def setup_backend(url, db):
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(db, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kw):
        return models.execute_kw(db, uid, "admin", model, method, list(args), kw)

    found = call("dsync.backend", "search", [["name", "=", "Benchmark store"]])
    if found:
        backend_id = found[0]
    else:
        backend_id = call(
            "dsync.backend",
            "create",
            {
                "name": "Benchmark store",
                "backend_type": "shopify",
                "inbound_rate_limit": 0,
            },
        )
    call("dsync.backend", "write", [backend_id], {"webhook_secret": SECRET})
    token = call("dsync.backend", "read", [backend_id], ["token"])[0]["token"]
    return call, backend_id, token


def run_wrk(url, body, expected, duration, connections, threads=2):
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    script = LUA.format(
        body=json.dumps(body.decode()),
        hmac=digest.decode(),
        prefix=uuid.uuid4().hex[:12],
        expected=expected,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "--latency",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{duration}s",
                "-s",
                handle.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    return parse_wrk(out)


def _ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    for pct in ("50", "75", "90", "99"):
        result[f"p{pct}"] = _ms(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))
    result["bad"] = int(re.search(r"BAD (\d+)", out).group(1))
    errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = errors.group(1) if errors else "none"
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--workers", type=int, default=0, help="the server's HTTP workers (printed)"
    )
    args = parser.parse_args()

    call, backend_id, token = setup_backend(args.url, args.db)
    webhook_url = f"{args.url}/dsync/shopify/{token}/webhook"
    bare_url = f"{args.url}/dsync_bench/bare"
    body = json.dumps(ORDER, separators=(",", ":")).encode()
    # sanity: one signed delivery through the real sender is accepted
    check = ShopifySender(args.url, token, SECRET).deliver(ORDER, "orders/create")
    assert check.status_code == 202, check.text
    before = call("dsync.event", "search_count", [["backend_id", "=", backend_id]])

    # warm both paths (workers load the registry, caches fill)
    run_wrk(bare_url, body, 200, 2, args.connections)
    run_wrk(webhook_url, body, 202, 2, args.connections)
    before = call("dsync.event", "search_count", [["backend_id", "=", backend_id]])

    results = {"bare": [], "webhook": []}
    for _round in range(args.rounds):
        results["bare"].append(
            run_wrk(bare_url, body, 200, args.duration, args.connections)
        )
        results["webhook"].append(
            run_wrk(webhook_url, body, 202, args.duration, args.connections)
        )
    # latency below saturation
    light = {
        "bare": run_wrk(bare_url, body, 200, args.duration, 2),
        "webhook": run_wrk(webhook_url, body, 202, args.duration, 2),
    }
    after = call("dsync.event", "search_count", [["backend_id", "=", backend_id]])

    def summary(rows):
        total = sum(r["requests"] for r in rows)
        return {
            "requests": total,
            "rps": sum(r["rps"] for r in rows) / len(rows),
            "p50": max(r["p50"] for r in rows),
            "p90": max(r["p90"] for r in rows),
            "p99": max(r["p99"] for r in rows),
            "bad": sum(r["bad"] for r in rows),
        }

    bare, hook = summary(results["bare"]), summary(results["webhook"])
    print(
        f"{args.rounds} rounds x {args.duration}s each, "
        f"{args.connections} connections, "
        f"{args.workers or '?'} Odoo workers, wrk on the same "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'route':<10}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'non-2xx':>9}"
    )
    for name, row in (("bare 200", bare), ("webhook", hook)):
        print(
            f"{name:<10}{row['requests']:>10}{row['rps']:>10.1f}{row['p50']:>9.1f}"
            f"{row['p90']:>9.1f}{row['p99']:>9.1f}{row['bad']:>9}"
        )
    print(
        f"webhook / bare throughput: {hook['rps'] / bare['rps'] * 100:.1f} % "
        "(goal >= 70 %)"
    )
    print(
        f"webhook p99 at saturation ({args.connections} connections): "
        f"{hook['p99']:.1f} ms"
    )
    for name in ("bare", "webhook"):
        row = light[name]
        print(
            f"2 connections, {name:<8}: {row['rps']:.1f} req/s, "
            f"p50 {row['p50']:.1f} ms, p90 {row['p90']:.1f} ms, "
            f"p99 {row['p99']:.1f} ms (goal for webhook < 50 ms)"
        )
    stored = after - before
    accepted = hook["requests"] - hook["bad"] + light["webhook"]["requests"]
    # wrk does not count requests still in flight when it stops: stored >= accepted
    print(f"events stored during the measured rounds: {stored} (accepted: {accepted})")


if __name__ == "__main__":
    main()
