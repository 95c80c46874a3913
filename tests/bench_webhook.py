"""Webhook accept path vs a bare Odoo route, on a running server.

    bash tools/bench.sh webhook [--duration 10] [--connections 8]

Three routes get the same signed Shopify ``orders/create`` body from wrk (a
second process on loopback), in turn, for the same duration and number of
connections: the bare route (tests/bench_addons, it only answers 200), the
webhook of a backend that waits for the disk before each 202 (the default),
and the webhook of a backend with fast accept of order topics. Each webhook
request carries a new X-Shopify-Webhook-Id, so every one is a new event (202:
verified, stored, dispatch checked). Prints the disk's commit cost,
requests/s, latency percentiles and the ratios; then checks that every
accepted delivery is stored.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
import xmlrpc.client

import psycopg2

from tests.simulators.webhook_sender import ShopifySender

SECRET = "bench-secret"

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Shopify-Hmac-Sha256"] = "{hmac}"
wrk.headers["X-Shopify-Topic"] = "orders/create"
wrk.headers["X-Shopify-Shop-Domain"] = "{shop}"
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

SHOP_DOMAIN = "bench.myshopify.com"
ORDER = {
    "id": 820982911946154508,
    "name": "#1001",
    "email": "jon@example.com",
    "updated_at": "2026-11-20T12:00:00-05:00",
    "currency": "CAD",
    "total_price": "24.15",
    "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 2, "price": "11.50"}],
}


def setup_backend(url, db, name="Benchmark store", fast=False):
    """The benchmark's Shopify backend ``name`` (created once). ``fast``: with
    fast accept of order topics, and an API token so that the recovery job
    could fetch orders again (the benchmark server runs no cron)."""
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(db, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kw):
        return models.execute_kw(db, uid, "admin", model, method, list(args), kw)

    found = call("dsync.backend", "search", [["name", "=", name]])
    if found:
        backend_id = found[0]
    else:
        backend_id = call(
            "dsync.backend",
            "create",
            {"name": name, "backend_type": "shopify", "inbound_rate_limit": 0},
        )
    values = {
        "webhook_secret": SECRET,
        "fast_accept": fast,
        "shopify_shop_domain": SHOP_DOMAIN,
    }
    if fast:
        values["api_secret"] = "shpat_benchmark"
    call("dsync.backend", "write", [backend_id], values)
    token = call("dsync.backend", "read", [backend_id], ["token"])[0]["token"]
    return call, backend_id, token


def run_wrk(url, body, expected, duration, connections, threads=2):
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    script = LUA.format(
        body=json.dumps(body.decode()),
        hmac=digest.decode(),
        prefix=uuid.uuid4().hex[:12],
        expected=expected,
        shop=SHOP_DOMAIN,
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


def commit_latency(db, count=300, rounds=3):
    """Median milliseconds of a one-row insert and its commit, waiting for the
    WAL flush and not: what a durable 202 pays over a fast one on this
    machine's disk. Alternated blocks of ``count`` commits each, on a scratch
    table of the benchmark database, dropped afterwards."""
    connection = psycopg2.connect(dbname=db)
    # a real table, not a temporary one: only WAL-logged rows make a commit
    # wait for the flush
    table = "dsync_bench_commit_probe"
    times = {"on": [], "off": []}
    try:
        with connection.cursor() as cr:
            cr.execute(f"CREATE TABLE IF NOT EXISTS {table} (at timestamp)")
            connection.commit()
            for _round in range(rounds):
                for mode in times:
                    cr.execute(f"SET synchronous_commit TO {mode}")
                    connection.commit()
                    for _ in range(count):
                        start = time.perf_counter()
                        cr.execute(f"INSERT INTO {table} VALUES (now())")
                        connection.commit()
                        times[mode].append(time.perf_counter() - start)
            cr.execute(f"DROP TABLE {table}")
            connection.commit()
    finally:
        connection.close()
    return {mode: statistics.median(values) * 1000 for mode, values in times.items()}


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

    backends = {
        "webhook": setup_backend(args.url, args.db),
        "fast": setup_backend(
            args.url, args.db, "Benchmark store (fast accept)", fast=True
        ),
    }
    call = backends["webhook"][0]
    urls = {"bare": f"{args.url}/dsync_bench/bare"}
    expected = {"bare": 200, "webhook": 202, "fast": 202}
    for name, (_call, _backend_id, token) in backends.items():
        urls[name] = f"{args.url}/dsync/shopify/{token}/webhook"
        # sanity: one signed delivery through the real sender is accepted
        check = ShopifySender(args.url, token, SECRET, shop_domain=SHOP_DOMAIN).deliver(
            ORDER, "orders/create"
        )
        assert check.status_code == 202, check.text
    body = json.dumps(ORDER, separators=(",", ":")).encode()

    def stored_events():
        return {
            name: call("dsync.event", "search_count", [["backend_id", "=", backend_id]])
            for name, (_call, backend_id, _token) in backends.items()
        }

    commit = commit_latency(args.db)
    # warm every path (workers load the registry, caches fill)
    for name, url in urls.items():
        run_wrk(url, body, expected[name], 2, args.connections)
    before = stored_events()

    results = {name: [] for name in urls}
    for _round in range(args.rounds):
        for name, url in urls.items():
            results[name].append(
                run_wrk(url, body, expected[name], args.duration, args.connections)
            )
    # latency below saturation
    light = {
        name: run_wrk(url, body, expected[name], args.duration, 2)
        for name, url in urls.items()
    }
    after = stored_events()

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

    rows = {name: summary(results[name]) for name in urls}
    labels = {"bare": "bare 200", "webhook": "webhook", "fast": "webhook, fast accept"}
    print(
        f"{args.rounds} rounds x {args.duration}s each, "
        f"{args.connections} connections, "
        f"{args.workers or '?'} Odoo workers, wrk on the same "
        f"{os.cpu_count()} cores"
    )
    print(
        f"PostgreSQL commit before the runs: {commit['on']:.3f} ms waiting for "
        f"the WAL flush, {commit['off']:.3f} ms without (medians): a durable "
        "202 pays the difference"
    )
    print(
        f"{'route':<22}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'non-2xx':>9}"
    )
    for name, row in rows.items():
        print(
            f"{labels[name]:<22}{row['requests']:>10}{row['rps']:>10.1f}"
            f"{row['p50']:>9.1f}{row['p90']:>9.1f}{row['p99']:>9.1f}{row['bad']:>9}"
        )
    for name in ("webhook", "fast"):
        print(
            f"{labels[name]} / bare throughput: "
            f"{rows[name]['rps'] / rows['bare']['rps'] * 100:.1f} % (goal >= 70 %)"
        )
    for name, row in light.items():
        print(
            f"2 connections, {labels[name]:<20}: {row['rps']:.1f} req/s, "
            f"p50 {row['p50']:.1f} ms, p90 {row['p90']:.1f} ms, "
            f"p99 {row['p99']:.1f} ms (goal for a webhook < 50 ms)"
        )
    for name in ("webhook", "fast"):
        stored = after[name] - before[name]
        accepted = rows[name]["requests"] - rows[name]["bad"] + light[name]["requests"]
        # wrk does not count requests still in flight when it stops
        print(
            f"{labels[name]}: events stored during the measured rounds: "
            f"{stored} (accepted: {accepted})"
        )


if __name__ == "__main__":
    main()
