"""The carrier webhook's accept path vs a bare Odoo route, on a running
server (the job runner off: the accept path alone).

    bash tools/bench.sh carrier_webhook [--duration 10] [--connections 8]

Like ``bench_webhook`` for Shopify: wrk posts, in turn and for the same
duration, to the bare route (tests/bench_addons, it only answers 200), to
``/dsync/carrier/<token>/tracking`` with EasyPost ``tracker.updated`` events,
each with its own event id and signed as EasyPost signs
(``X-Hmac-Signature``, HMAC-SHA256 of the body): every one is verified,
checked (an Event with a Tracker result), stored and answered 202; the
bodies are made and signed before the run (wrk cannot compute an HMAC).
The Shopify webhook (``bench_webhook``'s body) runs in each round too, for
reference. Prints requests/s, latency percentiles and the ratios (goal
>= 70 %).
"""

import argparse
import json
import os
import uuid
import xmlrpc.client

from tests import bench_webhook
from tests.bench_tracking import run_wrk, tracker_versions

SECRET = "bench-carrier-secret"


def setup_backend(url, db):
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(db, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kw):
        return models.execute_kw(db, uid, "admin", model, method, list(args), kw)

    name = "Benchmark carrier platform"
    found = call("dsync.backend", "search", [["name", "=", name]])
    backend_id = (
        found[0]
        if found
        else call(
            "dsync.backend",
            "create",
            {"name": name, "backend_type": "carrier", "inbound_rate_limit": 0},
        )
    )
    call("dsync.backend", "write", [backend_id], {"webhook_secret": SECRET})
    token = call("dsync.backend", "read", [backend_id], ["token"])[0]["token"]
    return call, backend_id, token


def events(count):
    run = uuid.uuid4().hex[:8]
    return [
        version
        for n in range(count)
        for version in tracker_versions(f"trk_{run}{n}", f"EZ{run}{n:06d}", 1, 0)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--bodies", type=int, default=15000)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    call, backend_id, token = setup_backend(args.url, args.db)
    webhook = f"/dsync/carrier/{token}/tracking"
    routes = {"bare": ("/dsync_bench/bare", 200), "webhook": (webhook, 202)}
    # the Shopify webhook's accept path, measured alongside for reference
    _scall, _sid, shop_token = bench_webhook.setup_backend(args.url, args.db)
    shop_url = f"{args.url}/dsync/shopify/{shop_token}/webhook"
    shop_body = json.dumps(bench_webhook.ORDER, separators=(",", ":")).encode()

    def shopify(duration, connections):
        return bench_webhook.run_wrk(shop_url, shop_body, 202, duration, connections)

    # warm every path
    for path, expected in routes.values():
        run_wrk(
            args.url,
            path,
            events(300),
            2,
            args.connections,
            secret=SECRET,
            expected=expected,
        )
    before = call("dsync.event", "search_count", [["backend_id", "=", backend_id]])
    shopify(2, args.connections)
    results = {name: [] for name in routes}
    results["shopify"] = []
    for number in range(args.rounds):
        # the order alternates: a change of the machine's speed within a
        # round falls on both routes alike over the rounds
        order = list(routes.items())
        for name, (path, expected) in order if number % 2 == 0 else order[::-1]:
            _start, summary = run_wrk(
                args.url,
                path,
                events(args.bodies),
                args.duration,
                args.connections,
                secret=SECRET,
                expected=expected,
            )
            results[name].append(summary)
        results["shopify"].append(shopify(args.duration, args.connections))
    light = {
        name: run_wrk(
            args.url,
            path,
            events(3000),
            args.duration,
            2,
            secret=SECRET,
            expected=expected,
        )[1]
        for name, (path, expected) in routes.items()
    }
    stored = (
        call("dsync.event", "search_count", [["backend_id", "=", backend_id]]) - before
    )
    print(
        f"{args.rounds} rounds x {args.duration}s, {args.connections} connections, "
        f"{args.workers or '?'} Odoo workers, wrk on the same {os.cpu_count()} cores"
    )
    print(
        f"{'route':<10}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'non-2xx':>9}"
    )
    for name, rows in results.items():
        for row in rows:
            print(
                f"{name:<10}{row['requests']:>10}{row['rps']:>10.1f}{row['p50']:>9.1f}"
                f"{row['p99']:>9.1f}{row['bad']:>9}"
            )
    for index in range(args.rounds):
        ratio = results["webhook"][index]["rps"] / results["bare"][index]["rps"]
        shop = results["shopify"][index]["rps"] / results["bare"][index]["rps"]
        print(
            f"round {index + 1}: carrier webhook / bare: {ratio * 100:.1f} % "
            f"(goal >= 70 %); Shopify webhook / bare: {shop * 100:.1f} %"
        )
    mean = sum(r["rps"] for r in results["webhook"]) / sum(
        r["rps"] for r in results["bare"]
    )
    shop = sum(r["rps"] for r in results["shopify"]) / sum(
        r["rps"] for r in results["bare"]
    )
    print(f"all rounds: carrier {mean * 100:.1f} %, Shopify {shop * 100:.1f} %")
    for name, row in light.items():
        print(
            f"2 connections, {name:<8}: {row['rps']:.1f} req/s, "
            f"p50 {row['p50']:.1f} ms, "
            f"p99 {row['p99']:.1f} ms (goal for the webhook < 50 ms)"
        )
    accepted = sum(r["requests"] - r["bad"] for r in results["webhook"])
    print(
        f"events stored: {stored} (accepted in the measured rounds: {accepted}, "
        f"plus {light['webhook']['requests']} at 2 connections)"
    )


if __name__ == "__main__":
    main()
