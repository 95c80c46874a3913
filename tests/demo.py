"""The README demo: plays the platforms against a running demo server.

    python3 -m tests.demo [--url http://127.0.0.1:8069] [--db dsync_demo]

Uses XML-RPC as the admin (a Sync Manager) to set the demo backends' webhook
secrets and read their route tokens, then sends signed webhooks with the same
senders the tests use, waits for the job runner and prints what Odoo recorded.
The Shopify store gets what its orders need (a 5 % tax mapped from GST 5.0, a
delivery method mapped from ``standard``, products DEMO-0..11) and a burst of
orders from four threads, one of them for a SKU Odoo does not know.
"""

import argparse
import os
import time
import uuid
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

from tests import demo_carrier
from tests.simulators.order_catalog import (
    ensure_order_catalog,
    job_batching,
    make_orders,
)
from tests.simulators.shopify_orders import make_order
from tests.simulators.webhook_sender import CarrierSender, ShopifySender, WmsSender

DEMO_SECRET = "demo-webhook-secret"
ORDERS = 24


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("DSYNC_DEMO_URL", "http://127.0.0.1:8069")
    )
    parser.add_argument("--db", default=os.environ.get("DSYNC_DEMO_DB", "dsync_demo"))
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
        topic="shipment.confirmed",
    )
    print(f"  WMS shipment.confirmed        -> {first.status_code} {first.json()}")
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
            "object": "Event",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "result": {"object": "Batch", "id": f"batch_{run}", "state": "created"},
        },
        topic="batch.updated",
    )
    print(
        f"  carrier batch.updated         -> {response.status_code} {response.json()}"
    )

    played = play_shopify_orders(call, args.url, backends["shopify"], run)

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

    report_shopify_orders(call, backends["shopify"], *played)
    demo_carrier.play(
        call, args.url, backends["carrier"], backends["shopify"], played[0], DEMO_SECRET
    )

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


def play_shopify_orders(call, url, backend, run):
    """Post a burst of new orders (and one for an unknown SKU) to the store."""
    company = call("dsync.backend", "read", [backend["id"]], ["company_id"])[0]
    currency = call("res.company", "read", [company["company_id"][0]], ["currency_id"])
    currency = currency[0]["currency_id"][1]
    ensure_order_catalog(call, backend["id"], "DEMO", 12)
    first = int(time.time()) * 100  # plays a second apart never share an order id
    orders = make_orders(ORDERS, first, 12, run, prefix="DEMO", currency=currency)
    missing_sku = make_order(
        first + ORDERS,
        f"#{first + ORDERS}",
        [("DEMO-MISSING", 1, "19.00")],
        currency=currency,
        customer={"id": first * 10 - 1, "email": f"new-sku-{run}@example.com"},
    )
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))

    def post(doc):
        sender = ShopifySender(url, backend["token"], DEMO_SECRET)
        return sender.deliver(doc, "orders/create").status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(post, [*orders, missing_sku]))
    print(
        f"  {len(statuses)} Shopify orders/create, 4 at a time "
        f"-> {statuses.count(202)} x 202"
    )
    return orders, missing_sku, since


def report_shopify_orders(call, backend, orders, missing_sku, since):
    ids = [str(doc["id"]) for doc in orders]
    confirmed = call(
        "sale.order",
        "search_read",
        [
            ["shopify_backend_id", "=", backend["id"]],
            ["shopify_order_id", "in", ids],
            ["state", "=", "sale"],
        ],
        fields=["name", "client_order_ref", "amount_total"],
        order="id",
    )
    jobs, batch_jobs, together = job_batching(call, backend["id"], since)
    print(
        f"\nShopify orders: {len(confirmed)} of {len(orders)} are confirmed sale "
        f"orders ({jobs} processing jobs, {batch_jobs} of them batches; "
        f"{together} orders created and confirmed together), e.g."
    )
    for sale in confirmed[:3]:
        print(
            f"  {sale['name']} = Shopify {sale['client_order_ref']}, "
            f"{sale['amount_total']:.2f} (Shopify's total to the cent)"
        )
    for exc in call(
        "dsync.exception",
        "search_read",
        [["event_id.dedup_key", "!=", False], ["message", "ilike", "DEMO-MISSING"]],
        fields=["category", "team", "message"],
        order="id desc",
        limit=1,
    ):
        print(
            f"  {missing_sku['name']}: {exc['category']} exception for the "
            f"{exc['team']} team: {exc['message']}"
        )


if __name__ == "__main__":
    main()
