"""The warehouse part of the README demo (called by ``tests.demo``).

A warehouse simulator and a Shopify simulator run in the demo's process for
the time of the play:

* :func:`setup` (before the demo's orders): the demo WMS backend runs the
  main warehouse's deliveries (owns stock quantities; releases by hand
  until the play: the demo's other orders are validated in Odoo by the
  carrier part), talking to the warehouse simulator; a second Shopify
  store, "Demo shop with fulfillments", talks to the Shopify simulator and
  sells the warehouse's SKUs. The demo's main store sells none of them: its
  location maps are off while this part moves their stock (else each move
  is an *unknown product* of that store), and on again at the end;
* :func:`duplicate_example`: a warehouse event the demo sends twice (a
  stock adjustment of one unit);
* :func:`play` (after the demo's orders): three orders of that store are
  released to the warehouse, shipped (one in full, one in two parts, one
  short), and their fulfillments reach the Shopify simulator with the
  warehouse's tracking numbers; then a stock snapshot with drift is
  reconciled. At the end the store is archived and the WMS backend set to
  release by hand: nothing tries to reach the simulators once the demo
  process has ended.
"""

import time
import uuid
from datetime import datetime, timezone

from tests.simulators.order_catalog import ensure_order_catalog
from tests.simulators.shopify import DEFAULT_TOKEN, ShopifySimulator
from tests.simulators.shopify_orders import make_order
from tests.simulators.wms import DEFAULT_API_KEY, WmsSimulator

SHOP_NAME = "Demo shop with fulfillments"
PREFIX = "WMS"  # its own SKUs: the main demo's DEMO-n are not storable
SKUS = [f"{PREFIX}-{n}" for n in range(12)]


class WarehouseDemo:
    def __init__(self, call, url, secret, backends):
        self.call = call
        self.url = url
        self.secret = secret
        self.wms_backend = backends["wms"]
        self.wms = WmsSimulator(sites=("WH",)).start()
        self.shopify = ShopifySimulator().start()
        self.shop = None
        self.main_store = backends["shopify"]["id"]
        self.paused_maps = set()

    def pause_main_store(self):
        """The main store's location maps off: it does not sell the
        warehouse part's SKUs, so it must not get their stock levels."""
        maps = self.call(
            "dsync.value.map",
            "search",
            [["backend_id", "=", self.main_store], ["map_type", "=", "location"]],
        )
        if maps:
            self.call("dsync.value.map", "write", maps, {"active": False})
            self.paused_maps.update(maps)

    def resume_main_store(self):
        if self.paused_maps:
            self.call(
                "dsync.value.map", "write", sorted(self.paused_maps), {"active": True}
            )

    def stop(self):
        self.wms.stop()
        self.shopify.stop()


def setup(call, url, secret, backends):
    """Point the demo WMS backend and a demo store at the simulators."""
    demo = WarehouseDemo(call, url, secret, backends)
    demo.pause_main_store()
    warehouse = call(
        "stock.warehouse", "search_read", [["code", "=", "WH"]], fields=["out_type_id"]
    )[0]
    call(
        "dsync.backend",
        "write",
        [demo.wms_backend["id"]],
        {
            "api_url": demo.wms.url,
            "api_secret": DEFAULT_API_KEY,
            "wms_warehouse_ids": [(6, 0, [warehouse["id"]])],
            "wms_picking_type_ids": [(6, 0, [warehouse["out_type_id"][0]])],
            "wms_release_policy": "manual",
            "wms_short_policy": "backorder",
            "wms_stock_owner": "wms",
            "wms_tolerance_qty": 2,
            "wms_tolerance_value": 50,
        },
    )
    demo.wms.target(url, demo.wms_backend["token"], secret)
    shop = call(
        "dsync.backend",
        "search_read",
        [["name", "=", SHOP_NAME], ["active", "in", [True, False]]],
        fields=["token"],
    )
    location = demo.shopify.add_location("Main warehouse")
    values = {
        "name": SHOP_NAME,
        "backend_type": "shopify",
        "active": True,
        "shopify_shop_domain": demo.shopify.shop_domain,
        "api_url": demo.shopify.url,
        "inbound_rate_limit": 0,
    }
    if shop:
        call("dsync.backend", "write", [shop[0]["id"]], values)
        shop_id = shop[0]["id"]
    else:
        shop_id = call("dsync.backend", "create", values)
    call(
        "dsync.backend",
        "write",
        [shop_id],
        {"api_secret": DEFAULT_TOKEN, "webhook_secret": secret},
    )
    maps = call(
        "dsync.value.map",
        "search",
        [["backend_id", "=", shop_id], ["map_type", "=", "location"]],
    )
    if maps:
        call("dsync.value.map", "unlink", maps)
    call(
        "dsync.value.map",
        "create",
        {
            "backend_id": shop_id,
            "map_type": "location",
            "external_code": location,
            "target_ref": f"stock.warehouse,{warehouse['id']}",
        },
    )
    ensure_order_catalog(call, shop_id, PREFIX, len(SKUS))
    products = call("product.product", "search", [["default_code", "in", SKUS]])
    call("product.product", "write", products, {"is_storable": True})
    # the store sells what the warehouse holds: every SKU is a variant there
    demo.shopify.add_variants(
        p["default_code"]
        for p in call(
            "product.product",
            "search_read",
            [["default_code", "!=", False], ["is_storable", "=", True]],
            fields=["default_code"],
        )
    )
    # the warehouse counts what it holds: its stock becomes Odoo's (and the
    # store's: it has the variants now)
    demo.wms.deliver(
        [demo.wms.adjustment([(sku, 100, "initial_count") for sku in SKUS])]
    )
    demo.shop = call("dsync.backend", "read", [shop_id], ["token"])[0]
    return demo


def duplicate_example(run):
    """A warehouse event the demo sends twice: one unit found at a count."""
    return {
        "occurred_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "adjustment_id": f"COUNT-{run}",
            "site": "WH",
            "lines": [{"sku": f"{PREFIX}-0", "delta": 1, "reason_code": "cycle_count"}],
        },
        "correlation_id": f"demo-{run}",
    }


def wait(predicate, timeout=90, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def play(demo):
    """Release, ship and fulfil three orders; reconcile a snapshot."""
    call = demo.call
    demo.pause_main_store()  # the carrier part mapped a new location
    try:
        _ship_orders(demo)
        _reconcile(demo)
    finally:
        demo.resume_main_store()
        # nothing may try to reach the simulators once the demo has ended
        call("dsync.backend", "write", [demo.shop["id"]], {"active": False})
        call(
            "dsync.backend",
            "write",
            [demo.wms_backend["id"]],
            {"wms_release_policy": "manual", "api_url": False},
        )
        demo.stop()


def _ship_orders(demo):
    call, run = demo.call, uuid.uuid4().hex[:4]
    first = int(time.time()) * 100 + 50
    specs = [
        ("full", [(f"{PREFIX}-4", 2, "18.00")]),
        ("two parts", [(f"{PREFIX}-5", 3, "11.00"), (f"{PREFIX}-6", 1, "30.00")]),
        ("short", [(f"{PREFIX}-7", 4, "9.50")]),
    ]
    target = f"{demo.url}/dsync/shopify/{demo.shop['token']}/webhook"
    policy = {"wms_release_policy": "on_confirm"}
    call("dsync.backend", "write", [demo.wms_backend["id"]], policy)
    orders = []
    print("\nThe warehouse (WMS simulator) and the store's fulfillments:")
    for n, (what, lines) in enumerate(specs):
        doc = make_order(
            first + n,
            f"#W{run.upper()}{n + 1}",
            lines,
            currency="USD",
            customer={
                "id": (first + n) * 10,
                "email": f"wms-{run}-{n}@example.com",
                "first_name": ("Ida", "Edith", "Lise")[n],
                "last_name": ("Rhodes", "Clarke", "Meitner")[n],
            },
        )
        demo.shopify.send_order_event(
            "orders/create", doc, target_url=target, secret=demo.secret
        )
        orders.append((what, doc))
    references = {}

    def released():
        for what, doc in orders:
            picks = call(
                "stock.picking",
                "search_read",
                [
                    ["origin", "!=", False],
                    ["sale_id.client_order_ref", "=", doc["name"]],
                ],
                fields=["name", "wms_state"],
            )
            if not picks or picks[0]["wms_state"] != "released":
                return False
            references[what] = picks[0]["name"]
        return True

    ok = wait(released)
    # back to releasing by hand: the release cron must not send the demo's
    # other orders while the snapshot is compared
    policy = {"wms_release_policy": "manual"}
    call("dsync.backend", "write", [demo.wms_backend["id"]], policy)
    if not ok:
        print("  the orders were not released in time (is the job runner up?)")
        return
    wms = demo.wms
    for what, doc in orders:
        print(
            f"  Shopify {doc['name']} released to the warehouse as {references[what]}"
        )
    full = wms.shipment(references["full"])
    part = wms.shipment(
        references["two parts"],
        lines=[{"sku": f"{PREFIX}-5", "quantity": 2, "package_ref": "BOX-1"}],
    )
    rest = wms.shipment(references["two parts"])
    short = wms.short(references["short"], [(f"{PREFIX}-7", 1)])
    short_ship = wms.shipment(
        references["short"],
        lines=[{"sku": f"{PREFIX}-7", "quantity": 3, "package_ref": "BOX-1"}],
    )
    statuses = wms.deliver([full, part, rest, short, short_ship], order="shuffle")
    print(f"  5 warehouse events, shuffled -> {statuses}")

    def fulfilled():
        return (
            all(demo.shopify.fulfillments_of(doc["id"]) for _w, doc in orders)
            and len(demo.shopify.fulfillments_of(orders[1][1]["id"])) == 2
        )

    wait(fulfilled)
    for what, doc in orders:
        for fulfillment in demo.shopify.fulfillments_of(doc["id"]):
            items = ", ".join(
                f"{li['quantity']} x {li['sku']}" for li in fulfillment["lineItems"]
            )
            tracking = (
                fulfillment["trackingInfo"][0]["number"]
                if fulfillment["trackingInfo"]
                else "-"
            )
            print(
                f"  Shopify {doc['name']} ({what}): fulfilled {items}, "
                f"tracking {tracking}"
            )
    backorder = call(
        "stock.picking",
        "search_read",
        [
            ["wms_reference", "=", references["short"]],
            ["state", "not in", ["done", "cancel"]],
        ],
        fields=["name"],
    )
    if backorder:
        print(f"  the short unit stays open in backorder {backorder[0]['name']}")
    for exc in call(
        "dsync.exception",
        "search_read",
        [["category", "=", "short_shipped"], ["message", "ilike", references["short"]]],
        fields=["team", "message"],
        limit=1,
    ):
        print(f"  [{exc['team']}] follow-up: {exc['message']}")


def _reconcile(demo):
    call = demo.call
    warehouse = call(
        "stock.warehouse", "search_read", [["code", "=", "WH"]], fields=["lot_stock_id"]
    )[0]
    groups = call(
        "stock.quant",
        "read_group",
        [
            ["location_id", "child_of", warehouse["lot_stock_id"][0]],
            ["location_id.usage", "=", "internal"],
        ],
        ["product_id", "quantity:sum"],
        ["product_id"],
        lazy=False,
    )
    codes = {
        p["id"]: p["default_code"]
        for p in call(
            "product.product",
            "read",
            [g["product_id"][0] for g in groups],
            ["default_code"],
        )
        if p["default_code"]
    }
    # the warehouse holds what Odoo has (and what it picked for the orders
    # released to it, which it reports as allocated), but for two SKUs
    quantities = {
        codes[g["product_id"][0]]: g["quantity"]
        for g in groups
        if g["product_id"][0] in codes
    }
    counted = dict(quantities)
    counted[f"{PREFIX}-8"] = quantities.get(f"{PREFIX}-8", 0) + 1  # within tolerance
    counted[f"{PREFIX}-9"] = quantities.get(f"{PREFIX}-9", 0) + 30  # beyond it
    demo.wms.set_stock({sku: max(0, qty) for sku, qty in counted.items()})
    pages = demo.wms.snapshot_events(page_size=5)
    statuses = demo.wms.deliver(pages, order="reverse")
    print(
        f"\nStock snapshot of the warehouse, {len(pages)} pages, last first "
        f"-> {statuses}"
    )

    def reconciled():
        return call(
            "dsync.reconciliation.run",
            "search_count",
            [["backend_id", "=", demo.wms_backend["id"]], ["state", "!=", "running"]],
        )

    if not wait(reconciled):
        print("  not reconciled in time (is the job runner up?)")
        return
    run = call(
        "dsync.reconciliation.run",
        "search_read",
        [["backend_id", "=", demo.wms_backend["id"]]],
        fields=["name", "item_count", "compare_seconds", "state"],
        order="id desc",
        limit=1,
    )[0]
    print(
        f"  {run['name']}: {run['item_count']} SKUs compared in "
        f"{run['compare_seconds']:.3f} s, {run['state']}"
    )
    for line in call(
        "dsync.reconciliation.line",
        "search_read",
        [["run_id", "=", run["id"]], ["sku", "in", SKUS]],
        fields=["sku", "odoo_qty", "platform_qty", "drift_qty", "state", "repair_note"],
    ):
        print(
            f"  {line['sku']}: Odoo {line['odoo_qty']:g}, warehouse "
            f"{line['platform_qty']:g}, drift {line['drift_qty']:+g} -> {line['state']}"
            + (f" ({line['repair_note']})" if line["repair_note"] else "")
        )
