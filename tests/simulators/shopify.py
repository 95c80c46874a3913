"""A Shopify Admin GraphQL API simulator: a real HTTP server on 127.0.0.1.

It answers ``POST /admin/api/<version>/graphql.json`` the way Shopify does for
the subset the connector uses, dispatching on the request's ``operationName``
(the connector's client always sends one) with its ``variables``; the query
text itself is not parsed. Operations:

=======================  ==================================================
``ShopInfo``             ``shop {name myshopifyDomain currencyCode}`` and
                         ``currentAppInstallation {accessScopes {handle}}``
``Locations``            ``locations(first, after)``, cursor pagination
``OrdersUpdatedSince``   ``orders(first, after, query: "updated_at:>='…'",
                         sortKey: UPDATED_AT)`` with ``lineItems(first:
                         $lineItemsFirst)`` and ``shippingLines(first:
                         $shippingLinesFirst)`` in each node
``OrderLineItems``       ``order(id) {lineItems(first, after)}`` (orders whose
                         lines did not fit in the first page)
``ProductVariantsBySku`` ``productVariants(first, query: "sku:A OR sku:B")``
``InventorySetQuantities`` ``inventorySetQuantities(input: {...})``
``FulfillmentOrders``    ``order(id) {fulfillmentOrders(first) {lineItems}}``
``FulfillmentCreate``    ``fulfillmentCreate(fulfillment: {...})``
``FulfillmentOrderMove`` ``fulfillmentOrderMove(id, newLocationId,
                         fulfillmentOrderLineItems)``
``FulfillmentTrackingInfoUpdate`` ``fulfillmentTrackingInfoUpdate(fulfillmentId,
                         trackingInfoInput, notifyCustomer)``
``FulfillmentEventCreate`` ``fulfillmentEventCreate(fulfillmentEvent: {fulfillmentId,
                         status, happenedAt, message, city, province, zip,
                         country})``: the events are kept on the fulfillment
=======================  ==================================================

Authentication: the ``X-Shopify-Access-Token`` header must carry the token,
else 401 with Shopify's REST-style ``{"errors": "[API] Invalid API key or
access token ..."}`` body.

Calculated query cost (simplified from Shopify's published rules, and the same
formula the client estimates with):

* an object costs 1 point, a connection ``2 + first × (cost of one node)``;
  money amounts, addresses and other small embedded objects are free here;
* every mutation costs 10 points (Shopify's flat mutation cost);
* requested cost: computed from ``first`` (the worst case); actual cost:
  computed from what was returned. The requested cost is taken from the bucket
  before the call and the difference refunded afterwards, as Shopify does;
* a request whose requested cost exceeds the single-query maximum (1000) gets
  ``MAX_COST_EXCEEDED``; one whose requested cost exceeds what is currently
  available gets HTTP 200 with ``errors: [{message: "Throttled", extensions:
  {code: "THROTTLED"}}]``, no data, and nothing is taken from the bucket.

Per-operation formulas (``f`` = ``first``, ``li`` = ``lineItemsFirst``, ``sl``
= ``shippingLinesFirst``, ``fo`` = fulfillment orders ``first``):

* ShopInfo 2; Locations ``2 + f``; ProductVariantsBySku ``2 + 2f`` (variant +
  inventory item); OrdersUpdatedSince ``2 + f × (1 + (2 + li) + (2 + sl))``;
  OrderLineItems ``1 + 2 + f``; FulfillmentOrders ``1 + 2 + fo × (2 + 2 + 2 ×
  li)``; InventorySetQuantities and FulfillmentCreate 10.

The leaky bucket defaults to 2000 points restored at 100 points/s; tests make
it small through the constructor. Every response carries ``extensions.cost``
``{requestedQueryCost, actualQueryCost, throttleStatus {maximumAvailable,
currentlyAvailable, restoreRate}}``.

State: orders (stored in Shopify's REST/webhook JSON shape, rendered as GraphQL
nodes on the fly), locations, product variants with their inventory items,
inventory levels per (item, location), fulfillment orders derived from each
order's line items, the fulfillments created, and counters (calls per
operation, throttled answers, 429 answers, outage answers, 401 answers).

``set_outage(status=429 | 503, count=N)`` makes the next N requests (or all,
with ``count=None``, until ``clear_outage()``) answer that status (429 with a
``Retry-After`` header).

Webhooks: ``fire_webhook(target_url, secret, topic, doc)`` signs and delivers
one document with :class:`tests.simulators.webhook_sender.ShopifySender`;
``send_order_event(topic, order, ...)`` first updates the simulator's state
(create, update, cancel) and then delivers the order as Shopify would.
"""

import base64
import copy
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler

from tests.simulators.server import SimulatorServer
from tests.simulators.webhook_sender import ShopifySender

DEFAULT_TOKEN = "shpat_simulator_token"
DEFAULT_SCOPES = (
    "read_orders",
    "read_products",
    "read_inventory",
    "write_inventory",
    "read_locations",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "write_fulfillments",
)
MAX_INPUT_SIZE = 250
MAX_PAGE_SIZE = 250
MUTATION_COST = 10
VALID_REASONS = {
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
}
FULFILLMENT_EVENT_STATUSES = {
    "ATTEMPTED_DELIVERY",
    "CARRIER_PICKED_UP",
    "CONFIRMED",
    "DELAYED",
    "DELIVERED",
    "FAILURE",
    "IN_TRANSIT",
    "LABEL_PRINTED",
    "LABEL_PURCHASED",
    "OUT_FOR_DELIVERY",
    "PICKED_UP",
    "READY_FOR_PICKUP",
}
PATH_RE = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
UPDATED_AT_RE = re.compile(
    r"updated_at:\s*(?P<op>>=|>|<=|<)?\s*'?\"?(?P<value>[^'\"\s]+)"
)
SKU_RE = re.compile(r'sku:(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def tracking_info(tracking):
    """A fulfillment's ``trackingInfo`` from a ``FulfillmentTrackingInput``:
    one entry per number (``number``/``url``, or ``numbers``/``urls``, the
    links matched by position), as Shopify lists them."""
    numbers = tracking.get("numbers") or [tracking.get("number")]
    urls = tracking.get("urls") or [tracking.get("url")]
    return [
        {
            "number": number,
            "company": tracking.get("company"),
            "url": urls[index] if index < len(urls) else None,
        }
        for index, number in enumerate(numbers)
    ]


class GraphQLError(Exception):
    """A top-level GraphQL error: HTTP 200, ``errors``, no data."""

    def __init__(self, message, code, **extensions):
        super().__init__(message)
        self.message = message
        self.extensions = dict(extensions, code=code)


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def gid(kind, legacy_id):
    return f"gid://shopify/{kind}/{legacy_id}"


def legacy(value):
    """The numeric tail of a gid (or the value itself)."""
    return str(value).rsplit("/", 1)[-1]


def parse_time(value):
    """An ISO 8601 time as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso_z(value):
    """GraphQL DateTime: UTC with a Z."""
    if not value:
        return None
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def encode_cursor(*values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor):
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as err:
        raise GraphQLError(
            f"Invalid cursor for current pagination sort: {cursor}", "BAD_REQUEST"
        ) from err


def _money_amount(value):
    if value in (None, ""):
        return "0.00"
    return f"{float(value):.2f}"


class LeakyBucket:
    """Shopify's calculated-cost bucket: ``maximum`` points restored at
    ``restore_rate`` points per second."""

    def __init__(self, maximum=2000, restore_rate=100, clock=time.monotonic):
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self.clock = clock
        self.available = float(maximum)
        self.stamp = clock()

    def refill(self):
        now = self.clock()
        self.available = min(
            self.maximum, self.available + (now - self.stamp) * self.restore_rate
        )
        self.stamp = now
        return self.available

    def take(self, points):
        """Take ``points`` if available: True, else False (nothing taken)."""
        self.refill()
        if points > self.available:
            return False
        self.available -= points
        return True

    def give_back(self, points):
        self.available = min(self.maximum, self.available + points)

    def status(self):
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }


# --------------------------------------------------------------------------
# the simulator
# --------------------------------------------------------------------------
class ShopifySimulator(SimulatorServer):
    """See the module docstring. Usable as a context manager."""

    thread_name = "shopify-simulator"

    def __init__(
        self,
        access_token=DEFAULT_TOKEN,
        shop_name="Demo Store",
        shop_domain="demo-store.myshopify.com",
        currency="EUR",
        scopes=DEFAULT_SCOPES,
        bucket_size=2000,
        restore_rate=100,
        max_query_cost=1000,
        clock=time.monotonic,
    ):
        self.access_token = access_token
        self.shop_name = shop_name
        self.shop_domain = shop_domain
        self.currency = currency
        self.scopes = list(scopes)
        self.max_query_cost = max_query_cost
        self.bucket = LeakyBucket(bucket_size, restore_rate, clock)
        self.lock = threading.RLock()
        self._ids = itertools.count(9_000_000_001)
        self.locations = {}  # gid -> {"id", "name", "isActive"}
        self.variants = {}  # variant gid -> {"id", "sku", "inventoryItemId"}
        self.inventory_items = {}  # item gid -> {"id", "sku", "variantId"}
        self.levels = {}  # (item gid, location gid) -> {"available", "on_hand"}
        self.orders = {}  # legacy id (int) -> REST dict
        self.fulfillment_orders = {}  # gid -> fulfillment order dict
        self.fulfillments = []  # created fulfillments, in order
        self.adjustment_groups = []  # applied inventorySetQuantities
        self.idempotent_results = {}
        self.calls = Counter()  # per operation name
        self.requests = []  # (operation, requested cost, outcome) of each request
        self.throttled = 0
        self.status_429 = 0
        self.outage_answers = 0
        self.unauthorized = 0
        self.api_versions = Counter()
        self.points_used = 0.0
        self._outage = None  # [status, remaining count or None, retry_after]
        self._webhook_target = None

    # ------------------------------------------------------------------
    # server lifecycle
    # ------------------------------------------------------------------
    def endpoint(self, api_version="2025-07"):
        return f"{self.url}/admin/api/{api_version}/graphql.json"

    # ------------------------------------------------------------------
    # test controls
    # ------------------------------------------------------------------
    def set_outage(self, status=503, count=1, retry_after=2):
        """Answer the next ``count`` requests (None: all) with ``status``."""
        with self.lock:
            self._outage = [status, count, retry_after]

    def clear_outage(self):
        with self.lock:
            self._outage = None

    def reset_counters(self):
        with self.lock:
            self.calls.clear()
            self.requests.clear()
            self.api_versions.clear()
            self.throttled = self.status_429 = self.outage_answers = 0
            self.unauthorized = 0
            self.points_used = 0.0

    def drain_bucket(self, points=0):
        """Leave ``points`` in the bucket now."""
        with self.lock:
            self.bucket.available = float(points)
            self.bucket.stamp = self.bucket.clock()

    def refill_bucket(self):
        with self.lock:
            self.bucket.available = self.bucket.maximum
            self.bucket.stamp = self.bucket.clock()

    def next_id(self):
        return next(self._ids)

    # ------------------------------------------------------------------
    # catalogue, locations, inventory
    # ------------------------------------------------------------------
    def add_location(self, name, legacy_id=None, active=True):
        with self.lock:
            location_gid = gid("Location", legacy_id or self.next_id())
            self.locations[location_gid] = {
                "id": location_gid,
                "name": name,
                "isActive": active,
            }
            return location_gid

    def add_variant(self, sku, locations=None, available=0, variant_id=None):
        """A product variant with an inventory item, stocked at ``locations``
        (default: every location known now). Returns the variant record."""
        with self.lock:
            variant_gid = gid("ProductVariant", variant_id or self.next_id())
            item_gid = gid("InventoryItem", self.next_id())
            variant = {"id": variant_gid, "sku": sku, "inventoryItemId": item_gid}
            self.variants[variant_gid] = variant
            self.inventory_items[item_gid] = {
                "id": item_gid,
                "sku": sku,
                "variantId": variant_gid,
            }
            for location_gid in self.locations if locations is None else locations:
                self.levels[(item_gid, location_gid)] = {
                    "available": available,
                    "on_hand": available,
                }
            return variant

    def add_variants(self, skus, **kw):
        return [self.add_variant(sku, **kw) for sku in skus]

    def variant_by_sku(self, sku):
        with self.lock:
            return next((v for v in self.variants.values() if v["sku"] == sku), None)

    def remove_variant(self, sku):
        """Delete a variant and its inventory item (as a merchant would)."""
        with self.lock:
            variant = self.variant_by_sku(sku)
            if variant:
                del self.variants[variant["id"]]
                item = variant["inventoryItemId"]
                del self.inventory_items[item]
                for key in [k for k in self.levels if k[0] == item]:
                    del self.levels[key]

    def available(self, sku, location_gid, name="available"):
        """Quantity ``name`` of ``sku`` at a location (None when not stocked)."""
        with self.lock:
            variant = self.variant_by_sku(sku)
            if not variant:
                return None
            level = self.levels.get((variant["inventoryItemId"], location_gid))
            return level[name] if level else None

    # ------------------------------------------------------------------
    # orders and fulfillment orders
    # ------------------------------------------------------------------
    def add_order(self, order, location_gid=None):
        """Store a REST/webhook order dict (copied, with missing ids filled
        in) and derive its fulfillment order. Returns the stored dict."""
        with self.lock:
            order = copy.deepcopy(order)
            order.setdefault("id", self.next_id())
            order["id"] = int(order["id"])
            now = utc_now().isoformat()
            order.setdefault("created_at", now)
            order.setdefault("updated_at", order["created_at"])
            order.setdefault("name", f"#{1000 + len(self.orders) + 1}")
            order.setdefault("currency", self.currency)
            order.setdefault("financial_status", "paid")
            order.setdefault("admin_graphql_api_id", gid("Order", order["id"]))
            for line in order.setdefault("line_items", []):
                line.setdefault("id", self.next_id())
                line.setdefault("fulfillable_quantity", line.get("quantity", 0))
            for line in order.setdefault("shipping_lines", []):
                line.setdefault("id", self.next_id())
            self.orders[order["id"]] = order
            self._derive_fulfillment_orders(order, location_gid)
            return order

    def update_order(self, order_id, changes=None, updated_at=None):
        """Apply ``changes`` to a stored order and move its ``updated_at``
        forward (at least one second past the previous one)."""
        with self.lock:
            order = self.orders[int(order_id)]
            order.update(copy.deepcopy(changes or {}))
            previous = parse_time(order["updated_at"])
            if updated_at is None:
                updated_at = max(utc_now(), previous + timedelta(seconds=1))
            order["updated_at"] = parse_time(updated_at).isoformat()
            return order

    def cancel_order(self, order_id, reason="customer", updated_at=None):
        with self.lock:
            order = self.update_order(order_id, updated_at=updated_at)
            order["cancelled_at"] = order["updated_at"]
            order["cancel_reason"] = reason
            for fo in self._fulfillment_orders_of(order["id"]):
                if fo["status"] != "CLOSED":
                    fo["status"] = "CLOSED"
            return order

    def _default_location(self):
        if not self.locations:
            self.add_location("Shop location")
        return next(iter(self.locations))

    def _derive_fulfillment_orders(self, order, location_gid=None):
        if any(
            f["orderId"] == order["admin_graphql_api_id"] for f in self.fulfillments
        ):
            return  # never rebuild what was already (partly) fulfilled
        for old in self._fulfillment_orders_of(order["id"]):
            del self.fulfillment_orders[old["id"]]
        lines = [
            line
            for line in order["line_items"]
            if line.get("requires_shipping", True)
            and line.get("fulfillable_quantity", line.get("quantity", 0)) > 0
        ]
        if not lines:
            return
        fo_gid = gid("FulfillmentOrder", self.next_id())
        self.fulfillment_orders[fo_gid] = {
            "id": fo_gid,
            "orderId": order["admin_graphql_api_id"],
            "status": "OPEN",
            "locationId": location_gid or self._default_location(),
            "lineItems": [
                {
                    "id": gid("FulfillmentOrderLineItem", self.next_id()),
                    "lineItemId": gid("LineItem", line["id"]),
                    "sku": line.get("sku"),
                    "totalQuantity": line.get(
                        "fulfillable_quantity", line.get("quantity", 0)
                    ),
                    "remainingQuantity": line.get(
                        "fulfillable_quantity", line.get("quantity", 0)
                    ),
                }
                for line in lines
            ],
        }

    def _fulfillment_orders_of(self, order_id):
        order_gid = gid("Order", legacy(order_id))
        return [
            fo for fo in self.fulfillment_orders.values() if fo["orderId"] == order_gid
        ]

    def fulfillments_of(self, order_id):
        order_gid = gid("Order", legacy(order_id))
        with self.lock:
            return [f for f in self.fulfillments if f["orderId"] == order_gid]

    # ------------------------------------------------------------------
    # webhooks
    # ------------------------------------------------------------------
    def webhook_target(self, target_url, secret, session=None):
        """Remember where :meth:`send_order_event` delivers by default."""
        self._webhook_target = (target_url, secret, session)

    def _sender(self, target_url, secret, session=None):
        sender = ShopifySender(
            target_url,
            "",
            secret,
            session=session,
            shop_domain=self.shop_domain,
        )
        sender.path = ""  # target_url is the whole webhook URL
        return sender

    def fire_webhook(
        self, target_url, secret, topic, doc, duplicate=False, session=None, **kw
    ):
        """Sign and POST ``doc`` as a ``topic`` webhook; with ``duplicate``,
        deliver it a second time with the same webhook id (a redelivery).
        Returns the list of responses."""
        sender = self._sender(target_url, secret, session)
        delivery_id = kw.pop("delivery_id", None) or uuid.uuid4().hex
        responses = [sender.deliver(doc, topic, delivery_id, **kw)]
        if duplicate:
            responses.append(sender.deliver(doc, topic, delivery_id, **kw))
        return responses

    def send_order_event(
        self,
        topic,
        order,
        target_url=None,
        secret=None,
        duplicate=False,
        session=None,
        **kw,
    ):
        """Update the simulator's state for ``topic`` (orders/create stores
        the order, orders/updated applies it, orders/cancelled cancels it),
        then deliver the stored order as the webhook. Returns the responses."""
        if target_url is None:
            target_url, secret, default_session = self._webhook_target
            session = session or default_session
        with self.lock:
            order_id = order.get("id")
            if topic == "orders/create" or int(order_id or 0) not in self.orders:
                stored = self.add_order(order)
            elif topic == "orders/cancelled":
                stored = self.cancel_order(order_id)
            else:
                changes = {k: v for k, v in order.items() if k != "updated_at"}
                stored = self.update_order(order_id, changes, order.get("updated_at"))
            doc = copy.deepcopy(stored)
        return self.fire_webhook(
            target_url, secret, topic, doc, duplicate=duplicate, session=session, **kw
        )

    # ------------------------------------------------------------------
    # request handling (called by the HTTP handler)
    # ------------------------------------------------------------------
    def handle(self, path, headers, raw):
        """(status, headers, body dict) for one HTTP request."""
        with self.lock:
            match = PATH_RE.match(path)
            if not match:
                return 404, {}, {"errors": "Not Found"}
            self.api_versions[match["version"]] += 1
            outage = self._take_outage()
            if outage:
                return outage
            if headers.get("X-Shopify-Access-Token") != self.access_token:
                self.unauthorized += 1
                return (
                    401,
                    {},
                    {
                        "errors": "[API] Invalid API key or access token "
                        "(unrecognized login or wrong password)"
                    },
                )
            try:
                request = json.loads(raw or b"{}")
                operation = request["operationName"]
                variables = request.get("variables") or {}
            except (ValueError, KeyError, TypeError):
                return (
                    400,
                    {},
                    {"errors": {"query": "Required parameter missing or invalid"}},
                )
            self.calls[operation] += 1
            return 200, {}, self._execute(operation, variables)

    def _take_outage(self):
        if not self._outage:
            return None
        status, remaining, retry_after = self._outage
        if remaining is not None:
            if remaining <= 0:
                self._outage = None
                return None
            self._outage[1] = remaining - 1
        headers = {}
        if status == 429:
            self.status_429 += 1
            headers["Retry-After"] = str(retry_after)
            body = {
                "errors": "Exceeded 2 calls per second for api client. "
                "Reduce request rates to resume uninterrupted service."
            }
        else:
            self.outage_answers += 1
            if retry_after:
                headers["Retry-After"] = str(retry_after)
            body = {"errors": "Service Unavailable"}
        return status, headers, body

    def _execute(self, operation, variables):
        handler = getattr(self, f"_op_{operation}", None)
        cost_fn = getattr(self, f"_cost_{operation}", None)
        if handler is None or cost_fn is None:
            return {
                "errors": [
                    {
                        "message": f"The simulator does not implement {operation}",
                        "extensions": {"code": "UNSUPPORTED"},
                    }
                ]
            }
        try:
            requested = cost_fn(variables)
            if requested > self.max_query_cost:
                self.requests.append((operation, requested, "max_cost"))
                raise GraphQLError(
                    f"Query cost is {requested}, which exceeds the single query "
                    f"max cost limit ({self.max_query_cost}).",
                    "MAX_COST_EXCEEDED",
                    cost=requested,
                    maxCost=self.max_query_cost,
                )
            if not self.bucket.take(requested):
                self.throttled += 1
                self.requests.append((operation, requested, "throttled"))
                return {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": self._cost(requested, None),
                }
            data, actual = handler(variables)
        except GraphQLError as err:
            return {
                "errors": [{"message": err.message, "extensions": err.extensions}],
                "extensions": self._cost(0, 0),
            }
        actual = min(actual, requested)
        self.bucket.give_back(requested - actual)
        self.points_used += actual
        self.requests.append((operation, requested, "ok"))
        return {"data": data, "extensions": self._cost(requested, actual)}

    def _cost(self, requested, actual):
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }

    # ------------------------------------------------------------------
    # cost formulas (see the module docstring)
    # ------------------------------------------------------------------
    @staticmethod
    def _first(variables, name="first", default=50):
        value = variables.get(name, default)
        if not isinstance(value, int) or value < 1 or value > MAX_PAGE_SIZE:
            raise GraphQLError(
                f"The {name} argument must be between 1 and {MAX_PAGE_SIZE}.",
                "BAD_REQUEST",
            )
        return value

    def _cost_ShopInfo(self, variables):
        return 2

    def _cost_Locations(self, variables):
        return 2 + self._first(variables)

    def _cost_ProductVariantsBySku(self, variables):
        return 2 + 2 * self._first(variables)

    def _order_node_cost(self, variables):
        li = self._first(variables, "lineItemsFirst")
        sl = self._first(variables, "shippingLinesFirst", 5)
        return 1 + (2 + li) + (2 + sl)

    def _cost_OrdersUpdatedSince(self, variables):
        return 2 + self._first(variables) * self._order_node_cost(variables)

    def _cost_OrderLineItems(self, variables):
        return 3 + self._first(variables)

    def _cost_FulfillmentOrders(self, variables):
        fo = self._first(variables, "first", 5)
        li = self._first(variables, "lineItemsFirst")
        return 3 + fo * (4 + 2 * li)

    def _cost_InventorySetQuantities(self, variables):
        return MUTATION_COST

    def _cost_FulfillmentCreate(self, variables):
        return MUTATION_COST

    def _cost_FulfillmentTrackingInfoUpdate(self, variables):
        return MUTATION_COST

    def _cost_FulfillmentEventCreate(self, variables):
        return MUTATION_COST

    def _cost_FulfillmentOrderMove(self, variables):
        return MUTATION_COST

    # ------------------------------------------------------------------
    # queries
    # ------------------------------------------------------------------
    def _op_ShopInfo(self, variables):
        data = {
            "shop": {
                "name": self.shop_name,
                "myshopifyDomain": self.shop_domain,
                "currencyCode": self.currency,
            },
            "currentAppInstallation": {
                "accessScopes": [{"handle": scope} for scope in self.scopes]
            },
        }
        return data, 2

    @staticmethod
    def _page(items, first, after, key):
        """Slice sorted ``items`` after the cursor; (page, pageInfo)."""
        if after:
            last = decode_cursor(after)
            items = [item for item in items if key(item) > tuple(last)]
        page = items[:first]
        info = {
            "hasNextPage": len(items) > first,
            "endCursor": encode_cursor(*key(page[-1])) if page else None,
        }
        return page, info

    def _op_Locations(self, variables):
        first = self._first(variables)
        locations = sorted(
            self.locations.values(), key=lambda loc: int(legacy(loc["id"]))
        )
        page, info = self._page(
            locations,
            first,
            variables.get("after"),
            lambda loc: (int(legacy(loc["id"])),),
        )
        nodes = [dict(loc) for loc in page]
        return {"locations": {"nodes": nodes, "pageInfo": info}}, 2 + len(nodes)

    def _op_ProductVariantsBySku(self, variables):
        first = self._first(variables)
        wanted = {
            (quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted else bare)
            for quoted, bare in SKU_RE.findall(variables.get("query") or "")
        }
        variants = sorted(
            (v for v in self.variants.values() if v["sku"] in wanted),
            key=lambda v: int(legacy(v["id"])),
        )
        page, info = self._page(
            variants, first, variables.get("after"), lambda v: (int(legacy(v["id"])),)
        )
        nodes = [
            {
                "id": v["id"],
                "sku": v["sku"],
                "inventoryItem": {"id": v["inventoryItemId"]},
            }
            for v in page
        ]
        data = {"productVariants": {"nodes": nodes, "pageInfo": info}}
        return data, 2 + 2 * len(nodes)

    def _filter_orders(self, query):
        orders = list(self.orders.values())
        for match in UPDATED_AT_RE.finditer(query or ""):
            op = match["op"] or ">="
            bound = parse_time(match["value"])
            compare = {
                ">=": lambda t, b=bound: t >= b,
                ">": lambda t, b=bound: t > b,
                "<=": lambda t, b=bound: t <= b,
                "<": lambda t, b=bound: t < b,
            }[op]
            orders = [o for o in orders if compare(parse_time(o["updated_at"]))]
        return orders

    def _op_OrdersUpdatedSince(self, variables):
        first = self._first(variables)
        li = self._first(variables, "lineItemsFirst")
        sl = self._first(variables, "shippingLinesFirst", 5)
        if variables.get("sortKey", "UPDATED_AT") != "UPDATED_AT":
            raise GraphQLError(
                "The simulator only sorts orders by UPDATED_AT", "BAD_REQUEST"
            )
        orders = sorted(
            self._filter_orders(variables.get("query")),
            key=lambda o: (parse_time(o["updated_at"]).isoformat(), o["id"]),
        )
        page, info = self._page(
            orders,
            first,
            variables.get("after"),
            lambda o: (parse_time(o["updated_at"]).isoformat(), o["id"]),
        )
        nodes = [self.render_order(order, li, sl) for order in page]
        actual = 2 + sum(
            1
            + 2
            + len(node["lineItems"]["nodes"])
            + 2
            + len(node["shippingLines"]["nodes"])
            for node in nodes
        )
        return {"orders": {"nodes": nodes, "pageInfo": info}}, actual

    def _op_OrderLineItems(self, variables):
        first = self._first(variables)
        order = self.orders.get(int(legacy(variables.get("id", "0")) or 0))
        if not order:
            return {"order": None}, 1
        lines, info = self._page(
            order["line_items"],
            first,
            variables.get("after"),
            lambda line: (line["id"],),
        )
        currency = order.get("currency", self.currency)
        nodes = [self._render_line(line, currency) for line in lines]
        data = {
            "order": {
                "id": gid("Order", order["id"]),
                "lineItems": {"nodes": nodes, "pageInfo": info},
            }
        }
        return data, 3 + len(nodes)

    def _op_FulfillmentOrders(self, variables):
        first = self._first(variables, "first", 5)
        li = self._first(variables, "lineItemsFirst")
        order = self.orders.get(int(legacy(variables.get("id", "0")) or 0))
        if not order:
            return {"order": None}, 1
        fos = self._fulfillment_orders_of(order["id"])[:first]
        nodes = []
        actual = 3
        for fo in fos:
            lines = fo["lineItems"][:li]
            actual += 4 + 2 * len(lines)
            nodes.append(
                {
                    "id": fo["id"],
                    "status": fo["status"],
                    "assignedLocation": {"location": {"id": fo["locationId"]}},
                    "lineItems": {
                        "nodes": [
                            {
                                "id": line["id"],
                                "totalQuantity": line["totalQuantity"],
                                "remainingQuantity": line["remainingQuantity"],
                                "lineItem": {
                                    "id": line["lineItemId"],
                                    "sku": line["sku"],
                                },
                            }
                            for line in lines
                        ]
                    },
                }
            )
        data = {
            "order": {
                "id": gid("Order", order["id"]),
                "fulfillmentOrders": {"nodes": nodes},
            }
        }
        return data, actual

    # ------------------------------------------------------------------
    # rendering REST orders as GraphQL nodes
    # ------------------------------------------------------------------
    @staticmethod
    def _money(amount, currency, price_set=None):
        if price_set and price_set.get("shop_money"):
            shop = price_set["shop_money"]
            presentment = price_set.get("presentment_money") or shop
            return {
                "shopMoney": {
                    "amount": _money_amount(shop.get("amount")),
                    "currencyCode": shop.get("currency_code") or currency,
                },
                "presentmentMoney": {
                    "amount": _money_amount(presentment.get("amount")),
                    "currencyCode": presentment.get("currency_code") or currency,
                },
            }
        money = {"amount": _money_amount(amount), "currencyCode": currency}
        return {"shopMoney": money, "presentmentMoney": dict(money)}

    def _render_tax_lines(self, tax_lines, currency):
        return [
            {
                "title": tax.get("title"),
                "rate": tax.get("rate"),
                "priceSet": self._money(
                    tax.get("price"), currency, tax.get("price_set")
                ),
            }
            for tax in tax_lines or []
        ]

    def _render_line(self, line, currency):
        allocations = line.get("discount_allocations") or []
        return {
            "id": gid("LineItem", line["id"]),
            "sku": line.get("sku"),
            "name": line.get("name") or line.get("title"),
            "title": line.get("title") or line.get("name"),
            "variantTitle": line.get("variant_title"),
            "quantity": line.get("quantity", 0),
            "currentQuantity": line.get("current_quantity", line.get("quantity", 0)),
            "unfulfilledQuantity": line.get(
                "fulfillable_quantity", line.get("quantity", 0)
            ),
            "requiresShipping": line.get("requires_shipping", True),
            "isGiftCard": bool(line.get("gift_card")),
            "taxable": line.get("taxable", True),
            "variant": (
                {"id": gid("ProductVariant", line["variant_id"])}
                if line.get("variant_id")
                else None
            ),
            "product": (
                {"id": gid("Product", line["product_id"])}
                if line.get("product_id")
                else None
            ),
            "originalUnitPriceSet": self._money(
                line.get("price"), currency, line.get("price_set")
            ),
            "totalDiscountSet": self._money(
                line.get("total_discount"), currency, line.get("total_discount_set")
            ),
            "discountAllocations": self._render_allocations(allocations, currency),
            "taxLines": self._render_tax_lines(line.get("tax_lines"), currency),
        }

    def _render_allocations(self, allocations, currency):
        return [
            {
                "allocatedAmountSet": self._money(
                    alloc.get("amount"), currency, alloc.get("amount_set")
                ),
                "discountApplication": {
                    "index": alloc.get("discount_application_index", 0)
                },
            }
            for alloc in allocations or []
        ]

    def _render_shipping_line(self, line, currency):
        return {
            "id": gid("ShippingLine", line["id"]),
            "title": line.get("title"),
            "code": line.get("code"),
            "source": line.get("source"),
            "isRemoved": bool(line.get("is_removed")),
            "discountAllocations": self._render_allocations(
                line.get("discount_allocations"), currency
            ),
            "originalPriceSet": self._money(
                line.get("price"), currency, line.get("price_set")
            ),
            "discountedPriceSet": self._money(
                line.get("discounted_price", line.get("price")),
                currency,
                line.get("discounted_price_set"),
            ),
            "taxLines": self._render_tax_lines(line.get("tax_lines"), currency),
        }

    @staticmethod
    def _render_address(address):
        if not address:
            return None
        return {
            "firstName": address.get("first_name"),
            "lastName": address.get("last_name"),
            "name": address.get("name"),
            "company": address.get("company"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "city": address.get("city"),
            "province": address.get("province"),
            "provinceCode": address.get("province_code"),
            "zip": address.get("zip"),
            "country": address.get("country"),
            "countryCodeV2": address.get("country_code"),
            "phone": address.get("phone"),
            "latitude": address.get("latitude"),
            "longitude": address.get("longitude"),
        }

    def _render_customer(self, customer):
        if not customer:
            return None
        return {
            "id": gid("Customer", customer["id"]) if customer.get("id") else None,
            "email": customer.get("email"),
            "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "phone": customer.get("phone"),
            "defaultAddress": self._render_address(customer.get("default_address")),
        }

    def _current(self, order, field, currency):
        """An order's ``current_<field>`` as a MoneyBag (the original amount
        when the stored order has none)."""
        if order.get(f"current_{field}") is None:
            return self._money(order.get(field), currency, order.get(f"{field}_set"))
        return self._money(
            order.get(f"current_{field}"), currency, order.get(f"current_{field}_set")
        )

    @staticmethod
    def _render_payment_terms(terms):
        if not terms:
            return None
        return {
            "paymentTermsName": terms.get("payment_terms_name"),
            "paymentTermsType": terms.get("payment_terms_type"),
            "dueInDays": terms.get("due_in_days"),
        }

    @staticmethod
    def _render_purchasing_entity(order):
        """A B2B order's PurchasingCompany (its company named as on the
        billing address); a customer's order: the Customer (no fields
        selected)."""
        company = order.get("company")
        if not company:
            return {} if order.get("customer") else None
        name = (order.get("billing_address") or {}).get("company")
        return {"company": {"id": gid("Company", company["id"]), "name": name}}

    def render_order(self, order, line_items_first=50, shipping_lines_first=5):
        """The GraphQL ``Order`` node of a stored REST order (the subset the
        connector's OrdersUpdatedSince query selects)."""
        currency = order.get("currency", self.currency)
        lines = order.get("line_items") or []
        shipping = order.get("shipping_lines") or []
        shipping_total = order.get("total_shipping_price_set") or None
        status = order.get("fulfillment_status")
        tags = order.get("tags") or ""
        return {
            "id": gid("Order", order["id"]),
            "legacyResourceId": str(order["id"]),
            "name": order.get("name"),
            "email": order.get("email"),
            "phone": order.get("phone"),
            "note": order.get("note"),
            "tags": [t.strip() for t in tags.split(",") if t.strip()]
            if isinstance(tags, str)
            else list(tags),
            "test": bool(order.get("test")),
            "createdAt": iso_z(order.get("created_at")),
            "updatedAt": iso_z(order.get("updated_at")),
            "processedAt": iso_z(order.get("processed_at") or order.get("created_at")),
            "cancelledAt": iso_z(order.get("cancelled_at")),
            "cancelReason": (order.get("cancel_reason") or "").upper() or None,
            "displayFinancialStatus": (order.get("financial_status") or "").upper()
            or None,
            "displayFulfillmentStatus": {
                None: "UNFULFILLED",
                "partial": "PARTIALLY_FULFILLED",
                "fulfilled": "FULFILLED",
            }.get(status, (status or "").upper()),
            "currencyCode": currency,
            "presentmentCurrencyCode": order.get("presentment_currency") or currency,
            "taxesIncluded": bool(order.get("taxes_included")),
            "totalPriceSet": self._money(
                order.get("total_price"), currency, order.get("total_price_set")
            ),
            "subtotalPriceSet": self._money(
                order.get("subtotal_price"), currency, order.get("subtotal_price_set")
            ),
            "totalTaxSet": self._money(
                order.get("total_tax"), currency, order.get("total_tax_set")
            ),
            "totalDiscountsSet": self._money(
                order.get("total_discounts"), currency, order.get("total_discounts_set")
            ),
            "totalShippingPriceSet": self._money(
                sum(float(s.get("price") or 0) for s in shipping),
                currency,
                shipping_total,
            ),
            "currentTotalPriceSet": self._current(order, "total_price", currency),
            "currentSubtotalPriceSet": self._current(order, "subtotal_price", currency),
            "currentTotalTaxSet": self._current(order, "total_tax", currency),
            "totalTipReceivedSet": self._money(
                order.get("total_tip_received") or 0, currency
            ),
            "discountCodes": [d.get("code") for d in order.get("discount_codes") or []],
            "paymentGatewayNames": list(order.get("payment_gateway_names") or []),
            "poNumber": order.get("po_number"),
            "customAttributes": [
                {"key": attribute.get("name"), "value": attribute.get("value")}
                for attribute in order.get("note_attributes") or []
            ],
            "paymentTerms": self._render_payment_terms(order.get("payment_terms")),
            "purchasingEntity": self._render_purchasing_entity(order),
            "taxLines": self._render_tax_lines(order.get("tax_lines"), currency),
            "customer": self._render_customer(order.get("customer")),
            "shippingAddress": self._render_address(order.get("shipping_address")),
            "billingAddress": self._render_address(order.get("billing_address")),
            "lineItems": {
                "nodes": [
                    self._render_line(line, currency)
                    for line in lines[:line_items_first]
                ],
                "pageInfo": {
                    "hasNextPage": len(lines) > line_items_first,
                    "endCursor": (
                        encode_cursor(lines[:line_items_first][-1]["id"])
                        if lines
                        else None
                    ),
                },
            },
            "shippingLines": {
                "nodes": [
                    self._render_shipping_line(line, currency)
                    for line in shipping[:shipping_lines_first]
                ]
            },
        }

    # ------------------------------------------------------------------
    # mutations
    # ------------------------------------------------------------------
    def _op_InventorySetQuantities(self, variables):
        key = variables.get("idempotencyKey")
        if key and key in self.idempotent_results:
            return copy.deepcopy(self.idempotent_results[key]), MUTATION_COST
        data = {
            "inventorySetQuantities": self._inventory_set(variables.get("input") or {})
        }
        if key:
            self.idempotent_results[key] = copy.deepcopy(data)
        return data, MUTATION_COST

    def _inventory_set(self, payload):
        quantities = payload.get("quantities") or []
        if len(quantities) > MAX_INPUT_SIZE:
            raise GraphQLError(
                f"The input array size of {len(quantities)} is greater than the "
                f"maximum allowed of {MAX_INPUT_SIZE}.",
                "MAX_INPUT_SIZE_EXCEEDED",
                problems=[{"path": ["input", "quantities"]}],
            )
        errors = self._inventory_input_errors(payload)
        errors += self._inventory_quantity_errors(payload, quantities)
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        return {
            "inventoryAdjustmentGroup": self._apply_quantities(payload, quantities),
            "userErrors": [],
        }

    @staticmethod
    def _user_error(field, message, code=None):
        error = {"field": field, "message": message}
        if code:
            error["code"] = code
        return error

    def _inventory_input_errors(self, payload):
        errors = []
        if payload.get("name") not in ("available", "on_hand"):
            errors.append(
                self._user_error(
                    ["input", "name"],
                    "The quantity name must be either 'available' or 'on_hand'.",
                    "INVALID_NAME",
                )
            )
        if payload.get("reason") not in VALID_REASONS:
            errors.append(
                self._user_error(
                    ["input", "reason"],
                    "The specified reason is invalid.",
                    "INVALID_REASON",
                )
            )
        return errors

    def _inventory_quantity_errors(self, payload, quantities):
        errors = []
        seen = set()
        ignore_compare = payload.get("ignoreCompareQuantity")
        name = payload.get("name")
        for index, quantity in enumerate(quantities):
            path = ["input", "quantities", str(index)]
            item = quantity.get("inventoryItemId")
            location = quantity.get("locationId")
            value = quantity.get("quantity")
            if item not in self.inventory_items:
                errors.append(
                    self._user_error(
                        path + ["inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
                continue
            if location not in self.locations:
                errors.append(
                    self._user_error(
                        path + ["locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            level = self.levels.get((item, location))
            if level is None:
                errors.append(
                    self._user_error(
                        path + ["locationId"],
                        "The specified inventory item is not stocked at the location.",
                        "ITEM_NOT_STOCKED_AT_LOCATION",
                    )
                )
                continue
            if (item, location) in seen:
                errors.append(
                    self._user_error(
                        path,
                        "The combination of inventoryItemId and locationId must be "
                        "unique.",
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )
                )
            seen.add((item, location))
            if not isinstance(value, int) or value > 1_000_000_000:
                errors.append(
                    self._user_error(
                        path + ["quantity"],
                        "The total quantity can't be higher than 1,000,000,000.",
                        "INVALID_QUANTITY_TOO_HIGH",
                    )
                )
            elif value < 0 and name == "on_hand":
                errors.append(
                    self._user_error(
                        path + ["quantity"],
                        "The quantity can't be negative.",
                        "INVALID_QUANTITY_NEGATIVE",
                    )
                )
            if not ignore_compare:
                if "compareQuantity" not in quantity:
                    errors.append(
                        self._user_error(
                            path + ["compareQuantity"],
                            "The compareQuantity argument must be given to each "
                            "quantity or ignored using ignoreCompareQuantity.",
                            "COMPARE_QUANTITY_REQUIRED",
                        )
                    )
                elif quantity["compareQuantity"] != level.get(name):
                    errors.append(
                        self._user_error(
                            path + ["compareQuantity"],
                            "The compareQuantity value does not match persisted value.",
                            "COMPARE_QUANTITY_STALE",
                        )
                    )
        return errors

    def _apply_quantities(self, payload, quantities):
        name = payload["name"]
        changes = []
        for quantity in quantities:
            level = self.levels[(quantity["inventoryItemId"], quantity["locationId"])]
            delta = quantity["quantity"] - level[name]
            level[name] = quantity["quantity"]
            other = "on_hand" if name == "available" else "available"
            level[other] += delta
            changes.append(
                {
                    "name": name,
                    "delta": delta,
                    "quantityAfterChange": level[name],
                    "item": {"id": quantity["inventoryItemId"]},
                    "location": {"id": quantity["locationId"]},
                }
            )
        group = {
            "id": gid("InventoryAdjustmentGroup", self.next_id()),
            "createdAt": iso_z(utc_now()),
            "reason": payload["reason"],
            "referenceDocumentUri": payload.get("referenceDocumentUri"),
            "changes": changes,
        }
        self.adjustment_groups.append(group)
        return group

    def _op_FulfillmentCreate(self, variables):
        fulfillment = variables.get("fulfillment") or {}
        errors, plan = self._plan_fulfillment(fulfillment)
        if errors:
            return {
                "fulfillmentCreate": {"fulfillment": None, "userErrors": errors}
            }, MUTATION_COST
        created = self._apply_fulfillment(fulfillment, plan)
        result = {
            "id": created["id"],
            "status": created["status"],
            "name": created["name"],
            "trackingInfo": created["trackingInfo"],
        }
        return {
            "fulfillmentCreate": {"fulfillment": result, "userErrors": []}
        }, MUTATION_COST

    def _op_FulfillmentOrderMove(self, variables):
        moved, errors = self._move_fulfillment_order(
            variables.get("id"),
            variables.get("newLocationId"),
            variables.get("fulfillmentOrderLineItems"),
        )
        return {
            "fulfillmentOrderMove": {
                "movedFulfillmentOrder": (
                    {"id": moved["id"], "status": moved["status"]} if moved else None
                ),
                "userErrors": errors,
            }
        }, MUTATION_COST

    def move_line_items(self, order_id, line_ids, location_gid):
        """Shopify's order routing: assign these line items (REST ids) of an
        order to another location, as ``fulfillmentOrderMove`` does."""
        wanted = {gid("LineItem", line_id) for line_id in line_ids}
        with self.lock:
            for fo in list(self._fulfillment_orders_of(order_id)):
                lines = [
                    {"id": line["id"], "quantity": line["remainingQuantity"]}
                    for line in fo["lineItems"]
                    if line["lineItemId"] in wanted and line["remainingQuantity"]
                ]
                if lines:
                    _moved, errors = self._move_fulfillment_order(
                        fo["id"], location_gid, lines
                    )
                    assert not errors, errors

    def _move_fulfillment_order(self, fo_id, location_gid, requested):
        """(moved fulfillment order, userErrors), Shopify's rules: a closed
        order cannot move; moving every remaining line of an order with
        nothing fulfilled moves the order itself, else a new fulfillment
        order at the new location takes the moved quantities."""
        fo = self.fulfillment_orders.get(fo_id)
        if not fo:
            return None, [self._user_error(["id"], "Fulfillment order does not exist.")]
        if fo["status"] not in ("OPEN", "IN_PROGRESS"):
            return None, [self._user_error(["id"], "Fulfillment order is closed.")]
        if location_gid not in self.locations:
            return None, [
                self._user_error(["newLocationId"], "Location does not exist.")
            ]
        by_id = {line["id"]: line for line in fo["lineItems"]}
        quantities = {}
        for index, item in enumerate(requested or []):
            line = by_id.get(item.get("id"))
            quantity = item.get("quantity")
            if not line or not isinstance(quantity, int) or quantity < 1:
                return None, [
                    self._user_error(
                        ["fulfillmentOrderLineItems", str(index)],
                        "Invalid fulfillment order line item.",
                    )
                ]
            if quantity > line["remainingQuantity"]:
                return None, [
                    self._user_error(
                        ["fulfillmentOrderLineItems", str(index), "quantity"],
                        "Quantity is greater than the remaining quantity.",
                    )
                ]
            quantities[line["id"]] = quantity
        if not requested:
            quantities = {
                line["id"]: line["remainingQuantity"]
                for line in fo["lineItems"]
                if line["remainingQuantity"]
            }
        untouched = all(
            line["remainingQuantity"] == line["totalQuantity"]
            for line in fo["lineItems"]
        )
        everything = all(
            quantities.get(line["id"], 0) == line["remainingQuantity"]
            for line in fo["lineItems"]
        )
        if untouched and everything:
            fo["locationId"] = location_gid
            return fo, []
        moved_gid = gid("FulfillmentOrder", self.next_id())
        moved = {
            "id": moved_gid,
            "orderId": fo["orderId"],
            "status": "OPEN",
            "locationId": location_gid,
            "lineItems": [],
        }
        for line_id, quantity in quantities.items():
            line = by_id[line_id]
            line["remainingQuantity"] -= quantity
            line["totalQuantity"] -= quantity
            moved["lineItems"].append(
                {
                    "id": gid("FulfillmentOrderLineItem", self.next_id()),
                    "lineItemId": line["lineItemId"],
                    "sku": line["sku"],
                    "totalQuantity": quantity,
                    "remainingQuantity": quantity,
                }
            )
        fo["lineItems"] = [line for line in fo["lineItems"] if line["totalQuantity"]]
        if not any(line["remainingQuantity"] for line in fo["lineItems"]):
            fo["status"] = "CLOSED"
        self.fulfillment_orders[moved_gid] = moved
        return moved, []

    def _op_FulfillmentTrackingInfoUpdate(self, variables):
        found = [
            f for f in self.fulfillments if f["id"] == variables.get("fulfillmentId")
        ]
        tracking = variables.get("trackingInfoInput") or {}
        if not found:
            errors = [self._user_error(["fulfillmentId"], "Fulfillment not found.")]
        elif not (tracking.get("number") or tracking.get("numbers")):
            errors = [
                self._user_error(
                    ["trackingInfoInput", "number"], "Tracking number can't be blank."
                )
            ]
        else:
            errors = []
        if errors:
            return {
                "fulfillmentTrackingInfoUpdate": {
                    "fulfillment": None,
                    "userErrors": errors,
                }
            }, MUTATION_COST
        (fulfillment,) = found
        fulfillment["trackingInfo"] = tracking_info(tracking)
        fulfillment["trackingUpdates"] = fulfillment.get("trackingUpdates", 0) + 1
        if variables.get("notifyCustomer"):
            fulfillment["notifyCustomer"] = True
        return {
            "fulfillmentTrackingInfoUpdate": {
                "fulfillment": {
                    "id": fulfillment["id"],
                    "trackingInfo": fulfillment["trackingInfo"],
                },
                "userErrors": [],
            }
        }, MUTATION_COST

    def _op_FulfillmentEventCreate(self, variables):
        event = variables.get("fulfillmentEvent") or {}
        found = [f for f in self.fulfillments if f["id"] == event.get("fulfillmentId")]
        errors = []
        if not found:
            errors.append(
                self._user_error(
                    ["fulfillmentEvent", "fulfillmentId"], "Fulfillment does not exist."
                )
            )
        if event.get("status") not in FULFILLMENT_EVENT_STATUSES:
            errors.append(
                self._user_error(["fulfillmentEvent", "status"], "Status is invalid.")
            )
        happened = event.get("happenedAt")
        try:
            if happened is not None:
                parse_time(happened)
        except (TypeError, ValueError):
            happened = "invalid"
        if happened == "invalid":
            errors.append(
                self._user_error(
                    ["fulfillmentEvent", "happenedAt"], "Happened at is invalid."
                )
            )
        if errors:
            return {
                "fulfillmentEventCreate": {
                    "fulfillmentEvent": None,
                    "userErrors": errors,
                }
            }, MUTATION_COST
        created = {
            "id": gid("FulfillmentEvent", self.next_id()),
            "status": event["status"],
            "happenedAt": happened or iso_z(utc_now()),
            **{
                key: event.get(key)
                for key in ("message", "city", "province", "zip", "country")
                if event.get(key) is not None
            },
        }
        found[0].setdefault("events", []).append(created)
        return {
            "fulfillmentEventCreate": {
                "fulfillmentEvent": {
                    key: created[key] for key in ("id", "status", "happenedAt")
                },
                "userErrors": [],
            }
        }, MUTATION_COST

    def _plan_fulfillment(self, fulfillment):
        """Validate the input; (userErrors, [(fo, fo line, quantity)])."""
        groups = fulfillment.get("lineItemsByFulfillmentOrder") or []
        base = ["fulfillment", "lineItemsByFulfillmentOrder"]
        if not groups:
            return [
                self._user_error(base, "Line items by fulfillment order must be given.")
            ], []
        errors, plan, orders, locations = [], [], set(), set()
        for gindex, group in enumerate(groups):
            path = base + [str(gindex)]
            fo = self.fulfillment_orders.get(group.get("fulfillmentOrderId"))
            if not fo:
                errors.append(
                    self._user_error(
                        path + ["fulfillmentOrderId"],
                        "Fulfillment order does not exist.",
                    )
                )
                continue
            if fo["status"] not in ("OPEN", "IN_PROGRESS"):
                errors.append(
                    self._user_error(
                        path + ["fulfillmentOrderId"],
                        f"Fulfillment order {fo['id']} has an unfulfillable status= "
                        f"{fo['status'].lower()}.",
                    )
                )
                continue
            orders.add(fo["orderId"])
            locations.add(fo["locationId"])
            errors += self._plan_group(fo, group, path, plan)
        if len(orders) > 1 or len(locations) > 1:
            errors.append(
                self._user_error(
                    base,
                    "All fulfillment orders must belong to the same order and be "
                    "assigned to the same location.",
                )
            )
        return errors, plan

    def _plan_group(self, fo, group, path, plan):
        errors = []
        requested = group.get("fulfillmentOrderLineItems")
        if not requested:  # the whole remaining fulfillment order
            for line in fo["lineItems"]:
                if line["remainingQuantity"]:
                    plan.append((fo, line, line["remainingQuantity"]))
            return errors
        by_id = {line["id"]: line for line in fo["lineItems"]}
        for lindex, item in enumerate(requested):
            line_path = path + ["fulfillmentOrderLineItems", str(lindex)]
            line = by_id.get(item.get("id"))
            quantity = item.get("quantity")
            if not line:
                errors.append(
                    self._user_error(
                        line_path + ["id"], "Invalid fulfillment order line item id."
                    )
                )
            elif not isinstance(quantity, int) or quantity < 1:
                errors.append(
                    self._user_error(
                        line_path + ["quantity"], "Quantity must be positive."
                    )
                )
            elif quantity > line["remainingQuantity"]:
                errors.append(
                    self._user_error(
                        line_path + ["quantity"],
                        "Invalid fulfillment order line item quantity requested: "
                        f"{quantity} > {line['remainingQuantity']} remaining.",
                    )
                )
            else:
                plan.append((fo, line, quantity))
        return errors

    def _apply_fulfillment(self, fulfillment, plan):
        for _fo, line, quantity in plan:
            line["remainingQuantity"] -= quantity
        for fo in {id(fo): fo for fo, _line, _q in plan}.values():
            remaining = sum(line["remainingQuantity"] for line in fo["lineItems"])
            fo["status"] = "CLOSED" if remaining == 0 else "IN_PROGRESS"
        order_gid = plan[0][0]["orderId"]
        order = self.orders[int(legacy(order_gid))]
        tracking = fulfillment.get("trackingInfo") or {}
        number = len(self.fulfillments_of(order["id"])) + 1
        created = {
            "id": gid("Fulfillment", self.next_id()),
            "orderId": order_gid,
            "name": f"{order.get('name')}.{number}",
            "status": "SUCCESS",
            "createdAt": iso_z(utc_now()),
            "notifyCustomer": bool(fulfillment.get("notifyCustomer")),
            "trackingInfo": tracking_info(tracking) if tracking else [],
            "lineItems": [
                {"lineItemId": line["lineItemId"], "sku": line["sku"], "quantity": q}
                for _fo, line, q in plan
            ],
        }
        self.fulfillments.append(created)
        self._reflect_fulfillment(order, plan)
        return created

    def _reflect_fulfillment(self, order, plan):
        """Update the stored REST order as Shopify does after a fulfillment."""
        by_gid = {gid("LineItem", line["id"]): line for line in order["line_items"]}
        for _fo, fo_line, quantity in plan:
            line = by_gid.get(fo_line["lineItemId"])
            if line:
                line["fulfillable_quantity"] = max(
                    0,
                    line.get("fulfillable_quantity", line.get("quantity", 0))
                    - quantity,
                )
        left = sum(line.get("fulfillable_quantity", 0) for line in order["line_items"])
        order["fulfillment_status"] = "partial" if left else "fulfilled"
        self.update_order(order["id"])


class _Handler(BaseHTTPRequestHandler):
    sim = None
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, body = self.sim.handle(self.path, self.headers, raw)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - silence the access log
        return


ShopifySimulator.handler = _Handler
