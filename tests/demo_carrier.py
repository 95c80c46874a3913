"""The demo's carrier part: a few of the demo's Shopify orders shipped with
a carrier platform's delivery method, against the EasyPost and Shopify
simulators (real HTTP servers started by this process).

* the labels are bought in the background: the first delivery is validated
  while EasyPost answers 503 (it shows *Label pending*, its label is bought
  once EasyPost is back), the others with EasyPost up;
* EasyPost's trackers advance to *delivered*; their signed webhooks are
  delivered out of order, one twice;
* the milestones show on the deliveries, and reach the Shopify simulator as
  fulfillment events.

Called by ``tests/demo.py``; the simulators stop with the demo (the demo
backends then point at addresses nobody answers: the demo server's cron
retries are harmless).
"""

import random
import time

from tests.simulators.easypost import DEFAULT_KEY, EasyPostSimulator
from tests.simulators.shopify import DEFAULT_TOKEN, ShopifySimulator

SHIPPED = 3


def wait(what, check, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        print(".", end="", flush=True)
        time.sleep(1)
    print(f" ({what}: not within {timeout}s)", end="")
    return False


def configure(call, carrier_backend, shopify_backend, easypost, shop):
    company = call("res.company", "search_read", [], fields=["partner_id"], limit=1)[0]
    us = call("res.country", "search", [["code", "=", "US"]])[0]
    call(
        "res.partner",
        "write",
        [company["partner_id"][0]],
        {
            "street": "388 Townsend St",
            "city": "San Francisco",
            "zip": "94107",
            "country_id": us,
        },
    )
    warehouse = call(
        "stock.warehouse", "search_read", [], fields=["out_type_id"], limit=1
    )[0]
    call(
        "stock.warehouse",
        "write",
        [warehouse["id"]],
        {"partner_id": company["partner_id"][0]},
    )
    call(
        "stock.picking.type",
        "write",
        [warehouse["out_type_id"][0]],
        {"print_label": True},
    )
    call(
        "dsync.backend",
        "write",
        [carrier_backend["id"]],
        {
            "api_url": easypost.api_url,
            "carrier_environment": "test",
            "carrier_test_api_secret": DEFAULT_KEY,
        },
    )
    name = "Parcel Priority (EasyPost)"
    found = call("delivery.carrier", "search", [["name", "=", name]], limit=1)
    if found:
        carrier_id = found[0]
    else:
        product = call(
            "product.product",
            "create",
            {"name": "Parcel (EasyPost)", "type": "service"},
        )
        carrier_id = call(
            "delivery.carrier",
            "create",
            {
                "name": name,
                "delivery_type": "dsync_carrier",
                "product_id": product,
                "dsync_backend_id": carrier_backend["id"],
                "dsync_services": "Priority",
            },
        )
    location_gid = shop.add_location("Demo warehouse")
    call(
        "dsync.backend",
        "write",
        [shopify_backend["id"]],
        {"api_url": shop.url, "api_secret": DEFAULT_TOKEN},
    )
    found = call(
        "dsync.value.map",
        "search",
        [
            ["backend_id", "=", shopify_backend["id"]],
            ["map_type", "=", "location"],
            ["external_code", "=", location_gid],
        ],
        context={"active_test": False},
    )
    target = {"target_ref": f"stock.warehouse,{warehouse['id']}", "active": True}
    if found:
        call("dsync.value.map", "write", found, target)
    else:
        call(
            "dsync.value.map",
            "create",
            {
                "backend_id": shopify_backend["id"],
                "map_type": "location",
                "external_code": location_gid,
                **target,
            },
        )
    return carrier_id, location_gid


def validate(call, picking_id):
    moves = call(
        "stock.move",
        "search_read",
        [["picking_id", "=", picking_id]],
        fields=["product_uom_qty"],
    )
    for move in moves:
        call(
            "stock.move",
            "write",
            [move["id"]],
            {"quantity": move["product_uom_qty"], "picked": True},
        )
    start = time.perf_counter()
    # skip_sms: the customer text-message wizard of stock_sms (not the point here)
    call("stock.picking", "button_validate", [picking_id], context={"skip_sms": True})
    return time.perf_counter() - start


def play(call, url, carrier_backend, shopify_backend, orders, secret):
    """Ship ``SHIPPED`` of the demo's Shopify orders (REST documents)."""
    print("\nCarrier platform (EasyPost simulator) and Shopify fulfillments:")
    with EasyPostSimulator() as easypost, ShopifySimulator() as shop:
        carrier_id, location_gid = configure(
            call, carrier_backend, shopify_backend, easypost, shop
        )
        pickings = []
        for doc in orders:
            sale = call(
                "sale.order",
                "search_read",
                [["client_order_ref", "=", doc["name"]], ["state", "=", "sale"]],
                fields=["name", "picking_ids"],
                limit=1,
            )
            if sale and sale[0]["picking_ids"]:
                shop.add_order(doc, location_gid=location_gid)
                picking_id = sale[0]["picking_ids"][0]
                call("stock.picking", "write", [picking_id], {"carrier_id": carrier_id})
                pickings.append((doc, picking_id))
            if len(pickings) == SHIPPED:
                break
        easypost.set_outage(503, count=None)
        for index, (doc, picking_id) in enumerate(pickings):
            if index == 1:
                first = pickings[0][1]
                print("  EasyPost is down: the first label's purchase fails", end="")
                wait(
                    "a failed attempt",
                    lambda p=first: call(
                        "dsync.outbox",
                        "search_count",
                        [
                            ["res_model", "=", "dsync.carrier.label"],
                            [
                                "res_id",
                                "in",
                                call(
                                    "dsync.carrier.label",
                                    "search",
                                    [["picking_id", "=", p]],
                                ),
                            ],
                            ["state", "=", "pending"],
                            ["attempts", ">=", 1],
                        ],
                    ),
                    60,
                )
                print(" and waits for its retry; EasyPost is back")
                easypost.clear_outage()
            seconds = validate(call, picking_id)
            state = call(
                "stock.picking", "read", [picking_id], ["name", "dsync_label_state"]
            )[0]
            print(
                f"  {doc['name']}: {state['name']} validated in "
                f"{seconds * 1000:.0f} ms "
                f"({'EasyPost down' if index == 0 else 'EasyPost up'}), "
                f"label: {state['dsync_label_state']}"
            )
        ids = [picking_id for _doc, picking_id in pickings]

        def labels():
            return call(
                "dsync.carrier.label",
                "search_read",
                [["picking_id", "in", ids]],
                fields=["picking_id", "state", "tracking_code", "tracker_ref", "name"],
            )

        print(
            "  waiting for the labels (the first one after its retry's backoff)",
            end="",
            flush=True,
        )
        wait("labels", lambda: all(lb["state"] == "bought" for lb in labels()), 120)
        print()
        bought = labels()
        for label in bought:
            print(
                f"    {label['picking_id'][1]}: label {label['name']} bought, "
                f"tracking {label['tracking_code']}"
            )
        print(
            f"  EasyPost purchases: {sum(easypost.purchases.values())} "
            f"for {len(bought)} labels (one each)"
        )
        events = []
        for label in bought:
            for status, message in (
                ("in_transit", "Accepted at origin facility"),
                ("out_for_delivery", "Out for delivery"),
                ("delivered", "Delivered, front door"),
            ):
                events.append(
                    easypost.advance(
                        label["tracker_ref"],
                        status,
                        message,
                        signed_by="J. DOE" if status == "delivered" else None,
                    )
                )
        random.shuffle(events)
        webhook = f"{url}/dsync/carrier/{carrier_backend['token']}/tracking"
        statuses = [
            easypost.deliver(webhook, secret, e).status_code
            for e in events + events[:1]
        ]
        print(
            f"  {len(statuses)} EasyPost webhooks, shuffled, one twice -> "
            f"{statuses.count(202)} x 202, {statuses.count(200)} x 200 duplicate"
        )
        print(
            "  waiting for the milestones and Shopify's fulfillment events",
            end="",
            flush=True,
        )

        def delivered():
            rows = call("stock.picking", "read", ids, ["dsync_shipment_status"])
            sent = sum(len(f.get("events", [])) for f in shop.fulfillments)
            return all(r["dsync_shipment_status"] == "delivered" for r in rows) and (
                sent >= 3 * len(ids)
            )

        wait("delivered", delivered, 120)
        print()
        for doc, picking_id in pickings:
            picking = call(
                "stock.picking",
                "read",
                [picking_id],
                [
                    "name",
                    "dsync_shipment_status",
                    "delivery_state",
                    "dsync_signed_by",
                    "carrier_tracking_ref",
                ],
            )[0]
            milestones = call(
                "dsync.shipment.milestone",
                "search_read",
                [["picking_id", "=", picking_id]],
                fields=["status", "state"],
                order="occurred_at, id",
            )
            print(
                f"    {picking['name']} ({doc['name']}): "
                f"{' > '.join(m['status'] for m in milestones)}; "
                f"{picking['delivery_state']}, signed by {picking['dsync_signed_by']}"
            )
            for fulfillment in shop.fulfillments_of(doc["id"]):
                print(
                    f"      Shopify {fulfillment['name']}: tracking "
                    f"{[t['number'] for t in fulfillment['trackingInfo']]}, events "
                    f"{[e['status'] for e in fulfillment.get('events', [])]}"
                )
