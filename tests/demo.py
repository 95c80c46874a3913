"""The README demo: plays the platforms against a running demo server.

    python3 -m tests.demo [--url http://127.0.0.1:8069] [--db dsync_demo]

Uses XML-RPC as the admin (a Sync Manager) to set the demo backends' webhook
secrets and read their route tokens, then sends signed webhooks with the same
senders the tests use, waits for the job runner and prints what Odoo recorded.
The Shopify store gets what its orders need (a 5 % tax mapped from GST 5.0, a
delivery method mapped from ``standard``, products DEMO-0..11) and a burst of
orders from four threads, then three orders a person must look at: one for a
SKU Odoo does not know (new at each play), one with a shipping method nobody
mapped, one whose total Odoo does not reproduce. Everything reported is what
this play did, so the demo can be played again.
"""

import argparse
import os
import time
import uuid
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

from tests import demo_carrier, demo_wms
from tests.simulators.order_catalog import (
    ensure_order_catalog,
    job_batching,
    make_orders,
)
from tests.simulators.shopify_orders import make_order
from tests.simulators.webhook_sender import CarrierSender, ShopifySender, WmsSender

DEMO_SECRET = "demo-webhook-secret"
ORDERS = 24
CUSTOMERS = [
    ("Mary", "Jackson"),
    ("Katherine", "Johnson"),
    ("Dorothy", "Vaughan"),
    ("Hedy", "Lamarr"),
    ("Radia", "Perlman"),
    ("Margaret", "Hamilton"),
    ("Frances", "Allen"),
    ("Barbara", "Liskov"),
]


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
    warehouse = demo_wms.setup(call, args.url, DEMO_SECRET, backends)

    shopify = ShopifySender(args.url, backends["shopify"]["token"], DEMO_SECRET)
    wms = WmsSender(args.url, backends["wms"]["token"], DEMO_SECRET)
    carrier = CarrierSender(args.url, backends["carrier"]["token"], DEMO_SECRET)
    forged = ShopifySender(args.url, backends["shopify"]["token"], "not-the-secret")

    run = uuid.uuid4().hex[:6]
    since_deliveries = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))
    print("\nDeliveries:")
    first, again = wms.deliver_twice(
        demo_wms.duplicate_example(run), topic="inventory.adjusted"
    )
    print(f"  WMS inventory.adjusted        -> {first.status_code} {first.json()}")
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
    scan_refused_deliveries(call)
    demo_wms.play(warehouse)

    print("\nThis play's events by state:")
    for row in call(
        "dsync.event",
        "read_group",
        [["create_date", ">=", since_deliveries]],
        ["state"],
        ["state"],
        lazy=False,
    ):
        print(f"  {row['state']:<10} {row['__count']}")
    print("\nExceptions this play opened (someone must act):")
    for exc in call(
        "dsync.exception",
        "search_read",
        [["create_date", ">=", since_deliveries]],
        fields=["name", "team", "next_step"],
        order="id",
    ):
        print(f"  [{exc['team']}] {exc['name']}")
        print(f"      what to do: {exc['next_step']}")
    print(
        f"\nOpen {args.url}/odoo/action-distribution_sync_core.dsync_exception_action "
        f"(login {args.login} / {args.password}): the unknown product's card, "
        "Create Product, Create and Retry."
    )


def scan_refused_deliveries(call):
    """The security cron, run now (it runs every minute): the forged delivery
    becomes IT's "Refused deliveries" exception."""
    crons = call(
        "ir.cron",
        "search",
        [["code", "=", "model._cron_dsync_security_scan()"]],
    )
    if crons:
        call("ir.cron", "method_direct_trigger", crons)
    for exc in call(
        "dsync.exception",
        "search_read",
        [["category", "=", "security"], ["state", "in", ["open", "in_progress"]]],
        fields=["name", "occurrences", "last_seen_at"],
    ):
        print(
            f"\nIT's alert: {exc['name']}: {exc['occurrences']} refused so far, "
            f"the last at {exc['last_seen_at']} (UTC)"
        )


def play_shopify_orders(call, url, backend, run):
    """Post a burst of new orders (and one for an unknown SKU) to the store."""
    company = call("dsync.backend", "read", [backend["id"]], ["company_id"])[0]
    currency = call("res.company", "read", [company["company_id"][0]], ["currency_id"])
    currency = currency[0]["currency_id"][1]
    ensure_order_catalog(call, backend["id"], "DEMO", 12)
    first = int(time.time()) * 100  # plays a second apart never share an order id
    orders = make_orders(ORDERS, first, 12, run, prefix="DEMO", currency=currency)
    # order numbers as a store shows them (#1001, #1002...), going on from the
    # orders the store sent before, and people's names
    number = 1001 + call(
        "dsync.event",
        "search_count",
        [
            ["backend_id", "=", backend["id"]],
            ["topic", "=", "orders/create"],
            ["state", "!=", "rejected"],
        ],
    )
    special = special_orders(first + ORDERS, run, currency)
    for index, doc in enumerate(orders + [doc for doc, _what in special]):
        doc["name"], doc["order_number"] = f"#{number + index}", number + index
        if index < len(orders):
            first_name, last_name = CUSTOMERS[index % len(CUSTOMERS)]
            for person in (
                doc["customer"],
                doc["billing_address"],
                doc["shipping_address"],
            ):
                person.update(first_name=first_name, last_name=last_name)
                if "name" in person:
                    person["name"] = f"{first_name} {last_name}"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))

    def post(doc):
        sender = ShopifySender(url, backend["token"], DEMO_SECRET)
        return sender.deliver(doc, "orders/create").status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(post, orders))
    print(
        f"  {len(statuses)} Shopify orders/create, 4 at a time "
        f"-> {statuses.count(202)} x 202"
    )
    for doc, what in special:
        print(f"  Shopify {doc['name']} ({what}) -> {post(doc)}")
    return orders, special, since


def special_orders(first_id, run, currency):
    """Three orders a person must look at: (document, what is special)."""
    sku = f"LAMP-{run[:4].upper()}"
    specs = [
        (
            ("Ada", "Lovelace"),
            [("DEMO-1", 1, "12.00"), (sku, 2, "24.50", None, "Brass desk lamp")],
            {},
            f"a SKU Odoo does not know: {sku}",
        ),
        (
            ("Grace", "Hopper"),
            [("DEMO-2", 1, "15.00")],
            {"shipping": ("express", "Express (next day)", "25.00")},
            "a shipping method nobody mapped: express",
        ),
        (
            ("Alan", "Turing"),
            [("DEMO-3", 3, "9.99")],
            {},
            "a total Odoo does not reproduce",
        ),
    ]
    special = []
    for n, ((first, last), lines, options, what) in enumerate(specs):
        order_id = first_id + n
        customer = {
            "id": order_id * 10,
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}-{run}@example.com",
            "phone": f"+155{5 + n}{first_id % 10**7:07d}",
        }
        doc = make_order(
            order_id,
            f"#{order_id}",
            lines,
            currency=currency,
            customer=customer,
            **options,
        )
        special.append((doc, what))
    # Shopify's total 15 cents off what the lines give: Odoo recomputes it
    # and refuses the difference
    mismatch = special[2][0]
    total = f"{float(mismatch['total_price']) + 0.15:.2f}"
    mismatch["total_price"] = total
    for money in mismatch["total_price_set"].values():
        money["amount"] = total
    return special


def report_shopify_orders(call, backend, orders, special, since):
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
        f"\nShopify orders of this play: {len(confirmed)} of the {len(orders)} of "
        f"the burst are confirmed sale orders ({jobs} processing jobs, "
        f"{batch_jobs} of them batches; {together} orders created and confirmed "
        "together), e.g."
    )
    for sale in confirmed[:3]:
        print(
            f"  {sale['name']} = Shopify {sale['client_order_ref']}, "
            f"{sale['amount_total']:.2f} (Shopify's total to the cent)"
        )
    for doc, what in special:
        sale = call(
            "sale.order",
            "search_read",
            [
                ["shopify_backend_id", "=", backend["id"]],
                ["shopify_order_id", "=", str(doc["id"])],
            ],
            fields=["name"],
        )
        outcome = (
            f"imported as {sale[0]['name']}" if sale else "waits in the exception queue"
        )
        print(f"  {doc['name']} ({what}): {outcome}")


if __name__ == "__main__":
    main()
