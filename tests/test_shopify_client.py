"""The Shopify GraphQL client against the Shopify simulator, over real HTTP.

Plain pytest functions: the client knows nothing of the ORM.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from odoo.addons.connector_shopify.order_payload import parse_order
from odoo.addons.connector_shopify.shopify_client import (
    ShopifyAuthError,
    ShopifyClient,
    ShopifyError,
    ShopifyThrottled,
    order_node_to_payload,
    sku_search,
)
from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from tests.simulators.shopify import DEFAULT_TOKEN, ShopifySimulator
from tests.simulators.shopify_orders import make_order

VERSION = "2025-07"


def make_client(sim, token=DEFAULT_TOKEN, **kw):
    return ShopifyClient(sim.url, token, VERSION, **kw)


def rest_order(order_id, updated_at, lines=2, **extra):
    """A minimal order in Shopify's REST/webhook shape."""
    order = {
        "id": order_id,
        "name": f"#{order_id % 10000}",
        "email": "jane@example.com",
        "created_at": "2026-11-20T10:00:00-05:00",
        "updated_at": updated_at,
        "currency": "EUR",
        "financial_status": "paid",
        "taxes_included": True,
        "total_price": "59.90",
        "subtotal_price": "54.90",
        "total_tax": "9.98",
        "total_discounts": "0.00",
        "customer": {
            "id": 77,
            "email": "jane@example.com",
            "first_name": "Jane",
            "last_name": "Doe",
        },
        "shipping_address": {
            "first_name": "Jane",
            "city": "Lyon",
            "country_code": "FR",
        },
        "line_items": [
            {
                "id": order_id * 100 + n,
                "sku": f"SKU-{n}",
                "title": f"Item {n}",
                "quantity": n + 1,
                "price": "10.00",
                "total_discount": "0.00",
                "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "1.67"}],
            }
            for n in range(lines)
        ],
        "shipping_lines": [{"id": order_id * 10, "title": "Standard", "price": "5.00"}],
    }
    order.update(extra)
    return order


@pytest.fixture
def sim():
    with ShopifySimulator(bucket_size=2000, restore_rate=100) as simulator:
        simulator.add_location("Main warehouse")
        yield simulator


def test_shop_info_reports_name_and_scopes(sim):
    info = make_client(sim).shop_info()
    assert info["name"] == "Demo Store"
    assert info["myshopifyDomain"] == "demo-store.myshopify.com"
    assert "write_inventory" in info["accessScopes"]
    assert sim.calls["ShopInfo"] == 1
    assert sim.api_versions[VERSION] == 1


def test_locations_follow_every_page(sim):
    names = [f"Store {n}" for n in range(7)]
    for name in names:
        sim.add_location(name)
    locations = make_client(sim).locations(page_size=3)
    assert [loc["name"] for loc in locations] == ["Main warehouse"] + names
    assert sim.calls["Locations"] == 3


def test_orders_updated_since_pages_oldest_update_first(sim):
    sim.add_order(rest_order(1001, "2026-11-20T10:00:00Z"))  # before the cursor
    sim.add_order(rest_order(1003, "2026-11-21T12:00:00Z"))
    sim.add_order(rest_order(1002, "2026-11-21T11:00:00-02:00"))  # 13:00Z
    sim.add_order(rest_order(1004, "2026-11-21T09:00:00Z"))
    client = make_client(sim)
    seen, cursor = [], None
    while True:
        nodes, cursor = client.orders_updated_since(
            "2026-11-21T09:00:00Z", cursor, page_size=2
        )
        seen += [node["legacyResourceId"] for node in nodes]
        if not cursor:
            break
    assert seen == ["1004", "1003", "1002"], "inclusive bound, sorted by updatedAt"
    assert sim.calls["OrdersUpdatedSince"] == 2


def test_order_page_size_fits_the_max_query_cost(sim):
    for n in range(20):
        sim.add_order(rest_order(2000 + n, f"2026-11-21T10:{n:02d}:00Z", lines=1))
    nodes, cursor = make_client(sim).orders_updated_since("2026-11-21T00:00:00Z")
    assert cursor, "a page of 50 orders with 50 lines each would cost over 1000"
    assert 0 < len(nodes) < 20
    assert [r for r in sim.requests if r[2] == "max_cost"] == []


def test_orders_with_more_lines_than_a_page_are_completed(sim):
    sim.add_order(rest_order(3001, "2026-11-21T10:00:00Z", lines=63))
    nodes, _cursor = make_client(sim).orders_updated_since("2026-11-21T00:00:00Z")
    assert len(nodes[0]["lineItems"]["nodes"]) == 63
    assert sim.calls["OrderLineItems"] == 1


def test_order_node_converts_back_to_the_webhook_shape(sim):
    original = rest_order(
        4001, "2026-11-21T10:00:00-05:00", cancelled_at="2026-11-21T10:00:00-05:00"
    )
    original["cancel_reason"] = "customer"
    sim.add_order(original)
    nodes, _cursor = make_client(sim).orders_updated_since("2026-11-21T00:00:00Z")
    payload = order_node_to_payload(nodes[0])
    assert payload["id"] == 4001
    assert payload["name"] == original["name"]
    assert payload["email"] == "jane@example.com"
    assert payload["updated_at"] == "2026-11-21T15:00:00Z", "same instant, in UTC"
    assert payload["cancelled_at"] == "2026-11-21T15:00:00Z"
    assert payload["cancel_reason"] == "customer"
    assert payload["financial_status"] == "paid"
    assert payload["currency"] == "EUR"
    assert payload["taxes_included"] is True
    assert payload["total_price"] == "59.90"
    assert payload["customer"]["first_name"] == "Jane"
    assert payload["shipping_address"]["country_code"] == "FR"
    assert [
        (line["id"], line["sku"], line["quantity"], line["price"])
        for line in payload["line_items"]
    ] == [(400100, "SKU-0", 1, "10.00"), (400101, "SKU-1", 2, "10.00")]
    assert payload["line_items"][0]["tax_lines"][0]["price"] == "1.67"
    assert payload["shipping_lines"][0]["price"] == "5.00"


def test_variants_by_sku_in_batches_of_fifty(sim):
    skus = [f"V-{n:03d}" for n in range(120)] + ['QUOTE"D SKU']
    first, *_rest = sim.add_variants(skus)
    sim.add_variant("V-000")  # Shopify allows a SKU on two variants
    found = make_client(sim).variants_by_sku(skus + ["UNKNOWN"])
    assert set(found) == set(skus)
    assert found["V-000"]["variant_id"] == first["id"]
    assert found['QUOTE"D SKU']["inventory_item_id"].startswith(
        "gid://shopify/InventoryItem/"
    )
    assert sim.calls["ProductVariantsBySku"] == 4, "3 batches, one of two pages"
    assert sku_search(["a b", 'c"d']) == 'sku:"a b" OR sku:"c\\"d"'


def _quantities(sim, count, quantity=5):
    location = next(iter(sim.locations))
    variants = sim.add_variants([f"B-{n}" for n in range(count)])
    return [
        {
            "inventoryItemId": variant["inventoryItemId"],
            "locationId": location,
            "quantity": quantity,
        }
        for variant in variants
    ]


def test_burst_of_mutations_honours_the_throttle():
    """12 mutations of 10 points against a 50-point bucket restored at 100/s:
    the client waits for points instead of being throttled."""
    with ShopifySimulator(bucket_size=50, restore_rate=100) as sim:
        sim.add_location("Main warehouse")
        quantities = _quantities(sim, 12)
        client = make_client(sim)
        for n, quantity in enumerate(quantities):
            result = client.inventory_set_quantities([quantity], "gid://dsync/T/1", n)
            assert result["userErrors"] == []
        assert sim.calls["InventorySetQuantities"] == 12
        assert sim.throttled == 0
        assert client.throttled == 0
        assert client.waits > 0
        assert client.waited_seconds > 0
        assert sim.available("B-11", next(iter(sim.locations))) == 5


def test_a_client_that_ignores_the_throttle_gets_throttled():
    """The control of the test above: the same burst from clients that keep no
    throttle status (a new client per call) is throttled."""
    with ShopifySimulator(bucket_size=50, restore_rate=1) as sim:
        sim.add_location("Main warehouse")
        quantities = _quantities(sim, 12)
        with pytest.raises(ShopifyThrottled) as caught:
            for quantity in quantities:
                make_client(sim).inventory_set_quantities([quantity])
        assert sim.throttled == 1
        assert caught.value.retry_after >= 1
        assert isinstance(caught.value, TransientError)


def test_throttled_answer_raises_with_retry_after(sim):
    sim.drain_bucket()
    with pytest.raises(ShopifyThrottled) as caught:
        make_client(sim).shop_info()
    assert caught.value.retry_after == 1, "2 points at 100/s"
    assert sim.throttled == 1


def test_long_wait_is_not_slept_but_raised():
    slept = []
    with ShopifySimulator(bucket_size=100, restore_rate=1) as sim:
        client = make_client(sim, max_wait=1, sleep=slept.append)
        client.shop_info()
        sim.drain_bucket()
        client.throttle.spend(
            client.throttle.estimate(time.monotonic()), time.monotonic()
        )
        with pytest.raises(ShopifyThrottled) as caught:
            client.shop_info()
    assert slept == []
    assert caught.value.retry_after >= 2
    assert sim.calls["ShopInfo"] == 1, "nothing sent"


def test_429_raises_throttled_with_retry_after(sim):
    sim.set_outage(status=429, count=1, retry_after=3)
    client = make_client(sim)
    with pytest.raises(ShopifyThrottled) as caught:
        client.shop_info()
    assert caught.value.retry_after == 3
    assert sim.status_429 == 1
    assert client.shop_info()["name"] == "Demo Store", "the next call goes through"


def test_outage_is_transient(sim):
    sim.set_outage(status=503, count=None, retry_after=None)
    with pytest.raises(TransientError) as caught:
        make_client(sim).shop_info()
    assert not isinstance(caught.value, ShopifyThrottled)
    assert sim.outage_answers == 1


def test_unreachable_shop_is_transient():
    sim = ShopifySimulator().start()
    url = sim.url
    sim.stop()
    client = ShopifyClient(url, DEFAULT_TOKEN, VERSION, timeout=2)
    with pytest.raises(TransientError):
        client.shop_info()


def test_bad_token_is_an_auth_error(sim):
    with pytest.raises(ShopifyAuthError) as caught:
        make_client(sim, token="shpat_wrong").shop_info()
    assert isinstance(caught.value, BusinessError)
    assert caught.value.team == "it"
    assert sim.unauthorized == 1


def test_query_over_the_max_cost_is_rejected(sim):
    client = make_client(sim)
    with pytest.raises(ShopifyError) as caught:
        client.run("FulfillmentOrders", {"id": "gid://shopify/Order/1", "first": 10})
    assert "MAX" in str(caught.value) or "max cost" in str(caught.value)


def test_user_errors_are_returned_and_nothing_is_applied(sim):
    location = next(iter(sim.locations))
    good = sim.add_variant("GOOD", available=1)
    result = make_client(sim).inventory_set_quantities(
        [
            {
                "inventoryItemId": good["inventoryItemId"],
                "locationId": location,
                "quantity": 9,
            },
            {
                "inventoryItemId": "gid://shopify/InventoryItem/404",
                "locationId": location,
                "quantity": 3,
            },
        ],
        "gid://dsync/T/2",
    )
    assert result["inventoryAdjustmentGroup"] is None
    assert result["userErrors"] == [
        {
            "field": ["input", "quantities", "1", "inventoryItemId"],
            "message": "The specified inventory item could not be found.",
            "code": "INVALID_INVENTORY_ITEM",
        }
    ]
    assert sim.available("GOOD", location) == 1, "the mutation is all or nothing"


def test_more_than_250_quantities_are_refused_before_sending(sim):
    with pytest.raises(ValueError):
        make_client(sim).inventory_set_quantities([{}] * 251)
    assert sim.calls["InventorySetQuantities"] == 0


def test_partial_fulfillments_and_over_fulfilling(sim):
    order = sim.add_order(rest_order(5001, "2026-11-21T10:00:00Z", lines=2))
    client = make_client(sim)
    (fo,) = client.fulfillment_orders(5001)
    first, second = fo["lineItems"]
    assert (first["remainingQuantity"], second["remainingQuantity"]) == (1, 2)
    result = client.fulfillment_create(
        {fo["id"]: [(second["id"], 1)]},
        tracking={"number": "TRK1", "company": "DHL", "url": "https://t/TRK1"},
    )
    assert result["userErrors"] == []
    assert result["fulfillment"]["trackingInfo"] == [
        {"number": "TRK1", "company": "DHL", "url": "https://t/TRK1"}
    ]
    (fo,) = client.fulfillment_orders(order["id"])
    assert fo["status"] == "IN_PROGRESS"
    assert [line["remainingQuantity"] for line in fo["lineItems"]] == [1, 1]
    refused = client.fulfillment_create({fo["id"]: [(second["id"], 2)]})
    assert refused["fulfillment"] is None
    assert refused["userErrors"][0]["field"][-1] == "quantity"
    assert len(sim.fulfillments) == 1
    assert client.fulfillment_orders(999) is None


def test_session_is_reused(sim):
    session = requests.Session()
    client = make_client(sim, session=session)
    client.shop_info()
    client.locations()
    assert client.session is session
    assert client.calls == 2


class _Capture(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        status = 200 if len(self.received) > 1 else 202
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        return


@pytest.fixture
def receiver():
    _Capture.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dsync/shopify/tok/webhook"
    server.shutdown()
    server.server_close()


def _signed_by(secret, headers, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return headers["X-Shopify-Hmac-Sha256"] == base64.b64encode(digest).decode()


def test_order_events_update_the_state_and_deliver_signed_webhooks(sim, receiver):
    sim.webhook_target(receiver, "whsec")
    created = rest_order(6001, "2026-11-21T10:00:00Z")
    first, again = sim.send_order_event("orders/create", created, duplicate=True)
    assert (first.status_code, again.status_code) == (202, 200)
    (h1, body1), (h2, body2) = _Capture.received
    assert h1["X-Shopify-Webhook-Id"] == h2["X-Shopify-Webhook-Id"], "a redelivery"
    assert h1["X-Shopify-Topic"] == "orders/create"
    assert _signed_by("whsec", h1, body1)
    assert json.loads(body1)["id"] == 6001
    assert sim.fulfillment_orders, "the order can be fulfilled"
    sim.send_order_event("orders/updated", {"id": 6001, "note": "gift"})
    sim.send_order_event("orders/cancelled", {"id": 6001})
    updated, cancelled = (json.loads(body) for _h, body in _Capture.received[2:])
    assert updated["note"] == "gift"
    assert updated["updated_at"] > created["updated_at"]
    assert cancelled["cancelled_at"] == cancelled["updated_at"] > updated["updated_at"]
    assert sim.orders[6001]["cancelled_at"]
    (response,) = sim.fire_webhook(receiver, "other", "orders/updated", {"id": 1})
    assert not _signed_by("whsec", *_Capture.received[-1])


def test_recovered_order_parses_like_its_webhook(sim):
    """The recovery path's payload (GraphQL node → REST shape) gives the
    importer the same canonical order as the webhook of the same version."""
    webhook = make_order(
        820982911946154508,
        "#1001",
        [("SKU-1", 2, "19.99", "10%"), ("SKU-2", 1, "5.00")],
        order_discount=("SAVE5", "fixed_amount", "5.00"),
        taxes_included=True,
        tax_rate=[("GST", 0.05), ("QST", 0.09975)],
        updated_at="2026-11-21T10:00:00-05:00",
    )
    sim.add_order(webhook)
    nodes, _cursor = make_client(sim).orders_updated_since("2026-11-21T00:00:00Z")
    recovered = parse_order(order_node_to_payload(nodes[0]))
    expected = parse_order(webhook)
    for field in expected.__dataclass_fields__:
        if field != "customer":
            assert getattr(recovered, field) == getattr(expected, field), field
    for key in ("id", "email", "first_name", "last_name", "phone"):
        assert recovered.customer[key] == expected.customer[key], key
    assert recovered.customer["default_address"]["city"] == "Montreal"


def test_recovered_b2b_order_with_special_lines_parses_like_its_webhook(sim):
    """Custom items, gift cards, tips, a shipping discount, an edit, notes,
    tags and a B2B company with its PO number and payment terms reach the
    importer the same way through the recovery query as through the
    webhook (GraphQL tells a tip from a custom item only by its title and
    the order's total tip)."""
    webhook = make_order(
        820982911946154509,
        "#1002",
        [
            {"sku": "SKU-1", "quantity": 3, "price": "19.99", "current_quantity": 2},
            {"kind": "custom", "title": "Gift wrapping", "price": "4.50"},
            {"kind": "gift_card", "title": "Gift Card", "price": "25.00"},
            {"sku": "", "title": "Old poster", "price": "9", "product_exists": False},
        ],
        shipping_discount=("SHIP", "fixed_amount", "2.50"),
        tip="3.00",
        note="Dock 4",
        note_attributes=[("Gift message", "Enjoy")],
        tags="Wholesale, Rush",
        company={"id": 4400001, "name": "Acme Wholesale Ltd"},
        po_number="PO-77",
        payment_terms=("Net 30", "NET", 30),
        updated_at="2026-11-21T10:00:00-05:00",
    )
    sim.add_order(webhook)
    nodes, _cursor = make_client(sim).orders_updated_since("2026-11-21T00:00:00Z")
    recovered = parse_order(order_node_to_payload(nodes[0]))
    expected = parse_order(webhook)
    assert expected.edited and expected.company_id == "4400001"
    assert [line.kind for line in expected.lines] == [
        "product",
        "custom",
        "gift_card",
        "custom",
        "tip",
    ]
    for field in expected.__dataclass_fields__:
        if field != "customer":
            assert getattr(recovered, field) == getattr(expected, field), field
