"""The README demo: plays the platforms against a running demo server.

    python3 -m tests.demo [--url http://127.0.0.1:8069] [--db dsync_demo]

Uses XML-RPC as the admin (a Sync Manager) to set the demo backends' webhook
secrets and read their route tokens, then sends signed webhooks with the same
senders the tests use, waits for the job runner and prints what Odoo recorded.
"""

import argparse
import time
import uuid
import xmlrpc.client

from tests.simulators.webhook_sender import CarrierSender, ShopifySender, WmsSender

DEMO_SECRET = "demo-webhook-secret"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="dsync_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args()

    common = xmlrpc.client.ServerProxy(f"{args.url}/xmlrpc/2/common")
    uid = common.authenticate(args.db, args.login, args.password, {})
    models = xmlrpc.client.ServerProxy(f"{args.url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *params, **kw):
        return models.execute_kw(
            args.db, uid, args.password, model, method, list(params), kw
        )

    backends = {
        b["backend_type"]: b
        for b in call(
            "dsync.backend",
            "search_read",
            [["backend_type", "in", ["shopify", "wms", "carrier"]]],
            fields=["name", "backend_type", "token"],
        )
    }
    for backend in backends.values():
        call("dsync.backend", "write", [backend["id"]], {"webhook_secret": DEMO_SECRET})
    print(
        "Backends:",
        ", ".join(f"{b['name']} ({t})" for t, b in sorted(backends.items())),
    )

    shopify = ShopifySender(args.url, backends["shopify"]["token"], DEMO_SECRET)
    wms = WmsSender(args.url, backends["wms"]["token"], DEMO_SECRET)
    carrier = CarrierSender(args.url, backends["carrier"]["token"], DEMO_SECRET)
    forged = ShopifySender(args.url, backends["shopify"]["token"], "not-the-secret")

    run = uuid.uuid4().hex[:6]
    print("\nDeliveries:")
    first, again = wms.deliver_twice(
        {
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data": {"picking": f"WH/OUT/{run}"},
            "correlation_id": f"demo-{run}",
        },
        topic="picking.shipped",
    )
    print(f"  WMS picking.shipped           -> {first.status_code} {first.json()}")
    print(f"  same WMS delivery again       -> {again.status_code} {again.json()}")
    response = forged.deliver({"id": 1001, "name": "#1001"}, topic="orders/create")
    print(
        f"  forged Shopify orders/create  -> {response.status_code} {response.json()}"
    )
    response = shopify.session.post(
        shopify.url,
        data=b'{"id": 1002, "name": ',
        headers={
            **shopify.headers_for(
                {}, b'{"id": 1002, "name": ', uuid.uuid4().hex, "orders/create"
            ),
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    print(
        f"  broken JSON from Shopify      -> {response.status_code} {response.json()}"
    )
    response = carrier.deliver(
        {
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "result": {"tracking_code": f"1Z{run}", "status": "in_transit"},
        },
        topic="tracker.updated",
    )
    print(
        f"  carrier tracker.updated       -> {response.status_code} {response.json()}"
    )

    print("\nWaiting for the job runner", end="", flush=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        waiting = call(
            "dsync.event", "search_count", [["state", "in", ["received", "queued"]]]
        )
        if not waiting:
            break
        print(".", end="", flush=True)
        time.sleep(1)
    print()

    print("\nEvents by state:")
    for row in call("dsync.event", "read_group", [], ["state"], ["state"], lazy=False):
        print(f"  {row['state']:<10} {row['__count']}")
    print("\nOpen exceptions by team:")
    for row in call(
        "dsync.exception",
        "read_group",
        [["state", "in", ["open", "in_progress"]]],
        ["team"],
        ["team"],
        lazy=False,
    ):
        print(f"  {row['team']:<17} {row['__count']}")
    print(
        f"\nOpen {args.url}/odoo/action-distribution_sync_core.dsync_overview_action "
        f"(login {args.login} / {args.password})."
    )


if __name__ == "__main__":
    main()
