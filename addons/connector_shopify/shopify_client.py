# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify Admin GraphQL API client (plain Python, no ORM).

One :class:`ShopifyClient` per shop and process keeps one pooled
``requests.Session`` and the shop's throttle status. Every request names its
operation (``operationName``), so that logs, the simulator and Shopify's own
request logs agree on what was called.

Rate limit: Shopify's calculated query cost. Each response carries
``extensions.cost.throttleStatus`` (bucket size, points available, restore
rate). Before sending, the client estimates the points available now (the last
status plus what was restored since it was received) and sleeps until they
cover the request's expected cost, so that steady traffic is never throttled.
A wait longer than ``max_wait`` is not slept: the call raises
:class:`ShopifyThrottled` with the delay, and the job pipeline retries later.

Errors:

* ``THROTTLED`` / HTTP 429 → :class:`ShopifyThrottled` (a ``TransientError``)
  with ``retry_after``;
* network errors, timeouts, HTTP 5xx, ``INTERNAL_SERVER_ERROR`` →
  ``TransientError``;
* HTTP 401/403 → :class:`ShopifyAuthError`; other GraphQL ``errors`` →
  :class:`ShopifyError` (both ``BusinessError``: retrying does not help);
* ``userErrors`` of mutations are data: returned to the caller.
"""

import logging
import math
import threading
import time

import requests

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

_logger = logging.getLogger(__name__)

MAX_QUERY_COST = 1000
MAX_INPUT_SIZE = 250
SKUS_PER_QUERY = 50
ORDER_LINES_FIRST = 50
ORDER_SHIPPING_LINES_FIRST = 5
FULFILLMENT_ORDERS_FIRST = 5
FULFILLMENT_ORDER_LINES_FIRST = 50
DEFAULT_RETRY_AFTER = 2.0
MUTATION_COST = 10


class ShopifyError(BusinessError):
    """Shopify refused the request (GraphQL errors, 4xx): not retried."""

    def __init__(self, message, category="platform_rejected", **kw):
        super().__init__(category, message, **kw)


class ShopifyAuthError(ShopifyError):
    """The access token is missing, wrong, or lacks a scope."""

    def __init__(self, message, **kw):
        kw.setdefault("team", "it")
        kw.setdefault("kind_key", "shopify:auth")
        super().__init__(message, **kw)


class ShopifyThrottled(TransientError):
    """Throttled by Shopify (THROTTLED or HTTP 429): retry after a delay."""


def to_gid(kind, value):
    """``gid://shopify/<kind>/<id>`` from a numeric id or a gid."""
    value = str(value)
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def legacy_id(value):
    """The numeric id of a gid (int), or None."""
    if value in (None, ""):
        return None
    tail = str(value).rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else tail


def sku_search(skus):
    """``sku:"A" OR sku:"B"``: each SKU quoted, quotes and backslashes escaped."""
    terms = []
    for sku in skus:
        escaped = str(sku).replace("\\", "\\\\").replace('"', '\\"')
        terms.append(f'sku:"{escaped}"')
    return " OR ".join(terms)


# --------------------------------------------------------------------------
# queries (operation name = the key; the client sends it as operationName)
# --------------------------------------------------------------------------
MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
TAX_LINES = f"taxLines {{ title rate priceSet {{ {MONEY} }} }}"
ADDRESS = (
    "firstName lastName name company address1 address2 city province "
    "provinceCode zip country countryCodeV2 phone latitude longitude"
)
LINE_ITEM = f"""
    id sku name title variantTitle quantity currentQuantity unfulfilledQuantity
    requiresShipping isGiftCard
    taxable variant {{ id }} product {{ id }}
    originalUnitPriceSet {{ {MONEY} }}
    totalDiscountSet {{ {MONEY} }}
    discountAllocations {{ allocatedAmountSet {{ {MONEY} }}
                          discountApplication {{ index }} }}
    {TAX_LINES}
"""

QUERIES = {
    "ShopInfo": """
query ShopInfo {
  shop { name myshopifyDomain currencyCode }
  currentAppInstallation { accessScopes { handle } }
}""",
    "Locations": """
query Locations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    nodes { id name isActive }
    pageInfo { hasNextPage endCursor }
  }
}""",
    "OrdersUpdatedSince": f"""
query OrdersUpdatedSince($first: Int!, $after: String, $query: String!,
                         $sortKey: OrderSortKeys!, $lineItemsFirst: Int!,
                         $shippingLinesFirst: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey) {{
    nodes {{
      id legacyResourceId name email phone note tags test
      createdAt updatedAt processedAt cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus
      currencyCode presentmentCurrencyCode taxesIncluded
      totalPriceSet {{ {MONEY} }} subtotalPriceSet {{ {MONEY} }}
      totalTaxSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }}
      totalShippingPriceSet {{ {MONEY} }}
      currentTotalPriceSet {{ {MONEY} }} currentSubtotalPriceSet {{ {MONEY} }}
      currentTotalTaxSet {{ {MONEY} }} totalTipReceivedSet {{ {MONEY} }}
      discountCodes paymentGatewayNames poNumber
      customAttributes {{ key value }}
      paymentTerms {{ paymentTermsName paymentTermsType dueInDays }}
      purchasingEntity {{ ... on PurchasingCompany {{ company {{ id name }} }} }}
      {TAX_LINES}
      customer {{ id email firstName lastName phone
                 defaultAddress {{ {ADDRESS} }} }}
      shippingAddress {{ {ADDRESS} }}
      billingAddress {{ {ADDRESS} }}
      lineItems(first: $lineItemsFirst) {{
        nodes {{ {LINE_ITEM} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
      shippingLines(first: $shippingLinesFirst) {{
        nodes {{
          id title code source isRemoved
          originalPriceSet {{ {MONEY} }} discountedPriceSet {{ {MONEY} }}
          discountAllocations {{ allocatedAmountSet {{ {MONEY} }}
                                discountApplication {{ index }} }}
          {TAX_LINES}
        }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
    "OrderLineItems": f"""
query OrderLineItems($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    id
    lineItems(first: $first, after: $after) {{
      nodes {{ {LINE_ITEM} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}""",
    "ProductVariantsBySku": """
query ProductVariantsBySku($first: Int!, $query: String!, $after: String) {
  productVariants(first: $first, query: $query, after: $after) {
    nodes { id sku inventoryItem { id } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    "InventorySetQuantities": """
mutation InventorySetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id createdAt reason referenceDocumentUri }
    userErrors { field message code }
  }
}""",
    "InventorySetQuantitiesIdempotent": """
mutation InventorySetQuantities($input: InventorySetQuantitiesInput!,
                                $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id createdAt reason referenceDocumentUri }
    userErrors { field message code }
  }
}""",
    "FulfillmentOrders": """
query FulfillmentOrders($id: ID!, $first: Int!, $lineItemsFirst: Int!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: $first) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: $lineItemsFirst) {
          nodes { id totalQuantity remainingQuantity lineItem { id sku } }
        }
      }
    }
  }
}""",
    "FulfillmentCreate": """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id name status trackingInfo { number company url } }
    userErrors { field message }
  }
}""",
    "FulfillmentOrderMove": """
mutation FulfillmentOrderMove($id: ID!, $newLocationId: ID!,
    $fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]) {
  fulfillmentOrderMove(id: $id, newLocationId: $newLocationId,
      fulfillmentOrderLineItems: $fulfillmentOrderLineItems) {
    movedFulfillmentOrder { id status }
    userErrors { field message }
  }
}""",
    "FulfillmentTrackingInfoUpdate": """
mutation FulfillmentTrackingInfoUpdate($fulfillmentId: ID!,
    $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId,
      trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) {
    fulfillment { id trackingInfo { number company url } }
    userErrors { field message }
  }
}""",
}

# The first API version whose inventory mutations take @idempotent.
IDEMPOTENT_DIRECTIVE_SINCE = "2026-01"


def order_node_cost(line_items_first, shipping_lines_first):
    """Requested cost of one order node of OrdersUpdatedSince."""
    return 1 + (2 + line_items_first) + (2 + shipping_lines_first)


class ThrottleStatus:
    """The last ``throttleStatus`` Shopify sent, and what was restored since."""

    def __init__(self, maximum, available, restore_rate, stamp):
        self.maximum = float(maximum)
        self.available = float(available)
        self.restore_rate = float(restore_rate)
        self.stamp = stamp

    def estimate(self, now):
        restored = max(0.0, now - self.stamp) * self.restore_rate
        return min(self.maximum, self.available + restored)

    def seconds_until(self, points, now):
        """Seconds until ``points`` are available (0 when they are)."""
        missing = min(points, self.maximum) - self.estimate(now)
        if missing <= 0:
            return 0.0
        return missing / self.restore_rate if self.restore_rate else math.inf

    def spend(self, points, now):
        """Count ``points`` as spent now (until the next response says)."""
        self.available = self.estimate(now) - points
        self.stamp = now


class ShopifyClient:
    """Admin GraphQL API of one shop; see the module docstring."""

    def __init__(
        self,
        base_url,
        access_token,
        api_version,
        session=None,
        timeout=20,
        max_wait=30.0,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        if not base_url:
            raise ShopifyError(
                "The Shopify shop URL is not set.", category="missing_mapping"
            )
        if not access_token:
            raise ShopifyAuthError("The Shopify Admin API access token is not set.")
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.api_version = api_version
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self.throttle = None
        self.requested_costs = {}  # operation -> last requestedQueryCost
        self.last_cost = None
        # what the client did, for logs, tests and benchmarks
        self.calls = 0
        self.waits = 0
        self.waited_seconds = 0.0
        self.throttled = 0

    @property
    def endpoint(self):
        return f"{self.base_url}/admin/api/{self.api_version}/graphql.json"

    # ------------------------------------------------------------------
    # the one request method
    # ------------------------------------------------------------------
    def execute(self, operation_name, query, variables=None, cost=None):
        """Run one GraphQL operation; return its ``data``.

        ``cost`` is the expected (requested) query cost; without it the last
        requested cost of the same operation is used.
        """
        expected = max(cost or 0, self.requested_costs.get(operation_name, 0))
        self._wait_for(expected or MUTATION_COST)
        body = {
            "operationName": operation_name,
            "query": query,
            "variables": variables or {},
        }
        headers = {
            "X-Shopify-Access-Token": self.access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.calls += 1
        try:
            response = self.session.post(
                self.endpoint, json=body, headers=headers, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as err:
            raise TransientError(f"Shopify is unreachable: {err}") from err
        received = self._clock()
        self._check_status(response, operation_name)
        try:
            payload = response.json()
        except ValueError as err:
            raise TransientError(
                f"Shopify answered {operation_name} with a body that is not JSON"
            ) from err
        self._record_cost(operation_name, payload.get("extensions"), received)
        if payload.get("errors"):
            self._raise_errors(operation_name, payload)
        return payload.get("data") or {}

    def run(self, operation_name, variables=None, cost=None):
        """:meth:`execute` with the query of :data:`QUERIES`."""
        return self.execute(operation_name, QUERIES[operation_name], variables, cost)

    # ------------------------------------------------------------------
    # throttle
    # ------------------------------------------------------------------
    def _wait_for(self, points):
        """Sleep until ``points`` are estimated available, then reserve them."""
        with self._lock:
            if self.throttle is None:
                return
            now = self._clock()
            wait = self.throttle.seconds_until(points, now)
            if wait > self.max_wait:
                raise ShopifyThrottled(
                    f"Shopify's rate limit needs {wait:.0f}s for {points} points",
                    retry_after=int(math.ceil(wait)),
                )
            if wait > 0:
                # a small margin: the shop's clock is not ours
                wait += 0.02
                self.waits += 1
                self.waited_seconds += wait
                self._sleep(wait)
                now = self._clock()
            self.throttle.spend(points, now)

    def _record_cost(self, operation_name, extensions, received):
        cost = (extensions or {}).get("cost")
        if not cost:
            return
        self.last_cost = cost
        if cost.get("requestedQueryCost"):
            self.requested_costs[operation_name] = cost["requestedQueryCost"]
        status = cost.get("throttleStatus")
        if status:
            with self._lock:
                # stamped when received: the shop computed it earlier, so the
                # estimate errs on the low side
                self.throttle = ThrottleStatus(
                    status["maximumAvailable"],
                    status["currentlyAvailable"],
                    status["restoreRate"],
                    received,
                )

    # ------------------------------------------------------------------
    # errors
    # ------------------------------------------------------------------
    @staticmethod
    def _retry_after(response, default=DEFAULT_RETRY_AFTER):
        try:
            return max(1, int(math.ceil(float(response.headers.get("Retry-After")))))
        except (TypeError, ValueError):
            return int(math.ceil(default))

    def _check_status(self, response, operation_name):
        status = response.status_code
        if status == 200:
            return
        text = response.text[:300]
        if status == 429:
            self.throttled += 1
            raise ShopifyThrottled(
                f"Shopify answered 429 to {operation_name}: {text}",
                retry_after=self._retry_after(response),
            )
        if status >= 500:
            raise TransientError(
                f"Shopify answered {status} to {operation_name}",
                retry_after=self._retry_after(response, 30)
                if response.headers.get("Retry-After")
                else None,
            )
        if status in (401, 403):
            raise ShopifyAuthError(
                f"Shopify refused the access token (HTTP {status}): {text}"
            )
        raise ShopifyError(f"Shopify answered {status} to {operation_name}: {text}")

    def _raise_errors(self, operation_name, payload):
        errors = payload["errors"]
        if not isinstance(errors, list):
            errors = [{"message": str(errors)}]
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        messages = "; ".join(str(e.get("message")) for e in errors)
        if "THROTTLED" in codes:
            self.throttled += 1
            raise ShopifyThrottled(
                f"Shopify throttled {operation_name}",
                retry_after=self._throttled_retry_after(),
            )
        if "INTERNAL_SERVER_ERROR" in codes:
            raise TransientError(f"Shopify failed on {operation_name}: {messages}")
        if "ACCESS_DENIED" in codes:
            raise ShopifyAuthError(
                f"Shopify denied {operation_name} (a missing access scope?): {messages}"
            )
        raise ShopifyError(f"Shopify rejected {operation_name}: {messages}")

    def _throttled_retry_after(self):
        cost = self.last_cost or {}
        status = cost.get("throttleStatus") or {}
        missing = (cost.get("requestedQueryCost") or 0) - status.get(
            "currentlyAvailable", 0
        )
        rate = status.get("restoreRate") or 0
        if missing > 0 and rate:
            return max(1, int(math.ceil(missing / rate)))
        return int(DEFAULT_RETRY_AFTER)

    # ------------------------------------------------------------------
    # operations
    # ------------------------------------------------------------------
    def shop_info(self):
        """{name, myshopifyDomain, currencyCode, accessScopes: [handle]}."""
        data = self.run("ShopInfo", cost=2)
        shop = dict(data.get("shop") or {})
        installation = data.get("currentAppInstallation") or {}
        shop["accessScopes"] = [
            s["handle"] for s in installation.get("accessScopes") or []
        ]
        return shop

    def locations(self, page_size=100):
        """Every location of the shop (all pages)."""
        result, after = [], None
        while True:
            data = self.run(
                "Locations", {"first": page_size, "after": after}, cost=2 + page_size
            )
            connection = data["locations"]
            result += connection["nodes"]
            info = connection["pageInfo"]
            if not info["hasNextPage"]:
                return result
            after = info["endCursor"]

    def orders_updated_since(self, since_iso, cursor=None, page_size=50):
        """One page of orders updated at or after ``since_iso``, oldest update
        first: (nodes, next cursor or None). Each node has all its line items
        (orders with more than one page of lines are completed here). The page
        size is capped so that the requested cost fits Shopify's maximum."""
        per_order = order_node_cost(ORDER_LINES_FIRST, ORDER_SHIPPING_LINES_FIRST)
        first = max(1, min(page_size, (MAX_QUERY_COST - 2) // per_order))
        variables = {
            "first": first,
            "after": cursor,
            "query": f"updated_at:>='{since_iso}'",
            "sortKey": "UPDATED_AT",
            "lineItemsFirst": ORDER_LINES_FIRST,
            "shippingLinesFirst": ORDER_SHIPPING_LINES_FIRST,
        }
        data = self.run("OrdersUpdatedSince", variables, cost=2 + first * per_order)
        connection = data["orders"]
        nodes = connection["nodes"]
        for node in nodes:
            self._complete_line_items(node)
        info = connection["pageInfo"]
        return nodes, (info["endCursor"] if info["hasNextPage"] else None)

    def _complete_line_items(self, node):
        lines = node["lineItems"]
        while lines.get("pageInfo", {}).get("hasNextPage"):
            data = self.run(
                "OrderLineItems",
                {
                    "id": node["id"],
                    "first": 250,
                    "after": lines["pageInfo"]["endCursor"],
                },
                cost=3 + 250,
            )
            more = (data.get("order") or {}).get("lineItems")
            if not more:
                break
            lines["nodes"] = lines["nodes"] + more["nodes"]
            lines["pageInfo"] = more["pageInfo"]

    def variants_by_sku(self, skus):
        """{sku: {"variant_id", "inventory_item_id"}} for the SKUs Shopify
        knows (queried ≤ 50 SKUs at a time; the first variant of a SKU wins)."""
        found = {}
        skus = list(dict.fromkeys(s for s in skus if s))
        for start in range(0, len(skus), SKUS_PER_QUERY):
            batch = skus[start : start + SKUS_PER_QUERY]
            for node in self._variants_page_by_page(batch):
                if node.get("sku") in batch and node["sku"] not in found:
                    found[node["sku"]] = {
                        "variant_id": node["id"],
                        "inventory_item_id": (node.get("inventoryItem") or {}).get(
                            "id"
                        ),
                    }
        return found

    def _variants_page_by_page(self, skus):
        """Variants of ``skus``, following the pages (SKUs are not unique in
        Shopify: one SKU may have several variants)."""
        after = None
        while True:
            variables = {"first": len(skus), "query": sku_search(skus), "after": after}
            data = self.run("ProductVariantsBySku", variables, cost=2 + 2 * len(skus))
            connection = data["productVariants"]
            yield from connection["nodes"]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    def inventory_set_quantities(
        self,
        quantities,
        reference_uri=None,
        idempotency_key=None,
        name="available",
        reason="correction",
    ):
        """Set absolute quantities (≤ 250 per call; the caller batches).

        ``quantities``: [{inventoryItemId, locationId, quantity}]. Returns the
        mutation payload {inventoryAdjustmentGroup, userErrors}. The
        idempotency key is sent with the ``@idempotent`` directive on API
        versions that have it.
        """
        if len(quantities) > MAX_INPUT_SIZE:
            raise ValueError(f"at most {MAX_INPUT_SIZE} quantities per call")
        variables = {
            "input": {
                "name": name,
                "reason": reason,
                "referenceDocumentUri": reference_uri,
                "ignoreCompareQuantity": True,
                "quantities": [
                    {
                        "inventoryItemId": q["inventoryItemId"],
                        "locationId": q["locationId"],
                        "quantity": int(q["quantity"]),
                    }
                    for q in quantities
                ],
            }
        }
        query = QUERIES["InventorySetQuantities"]
        if idempotency_key and self.api_version >= IDEMPOTENT_DIRECTIVE_SINCE:
            query = QUERIES["InventorySetQuantitiesIdempotent"]
            variables["idempotencyKey"] = idempotency_key
        data = self.execute("InventorySetQuantities", query, variables, MUTATION_COST)
        return data["inventorySetQuantities"]

    def fulfillment_orders(self, order_gid):
        """Fulfillment orders of an order: [{id, status, locationId,
        lineItems: [{id, totalQuantity, remainingQuantity, lineItemId, sku}]}];
        None when Shopify does not know the order."""
        variables = {
            "id": to_gid("Order", order_gid),
            "first": FULFILLMENT_ORDERS_FIRST,
            "lineItemsFirst": FULFILLMENT_ORDER_LINES_FIRST,
        }
        cost = 3 + FULFILLMENT_ORDERS_FIRST * (4 + 2 * FULFILLMENT_ORDER_LINES_FIRST)
        data = self.run("FulfillmentOrders", variables, cost=cost)
        order = data.get("order")
        if not order:
            return None
        result = []
        for node in order["fulfillmentOrders"]["nodes"]:
            location = (node.get("assignedLocation") or {}).get("location") or {}
            result.append(
                {
                    "id": node["id"],
                    "status": node["status"],
                    "locationId": location.get("id"),
                    "lineItems": [
                        {
                            "id": line["id"],
                            "totalQuantity": line["totalQuantity"],
                            "remainingQuantity": line["remainingQuantity"],
                            "lineItemId": line["lineItem"]["id"],
                            "sku": line["lineItem"].get("sku"),
                        }
                        for line in node["lineItems"]["nodes"]
                    ],
                }
            )
        return result

    def fulfillment_create(
        self,
        line_items_by_fulfillment_order,
        tracking=None,
        notify_customer=False,
        message=None,
    ):
        """Create one fulfillment. ``line_items_by_fulfillment_order``:
        {fulfillment order id: [(fulfillment order line item id, quantity)]};
        ``tracking``: {number, company, url}. Returns {fulfillment, userErrors}."""
        fulfillment = {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo_id,
                    "fulfillmentOrderLineItems": [
                        {"id": line_id, "quantity": int(quantity)}
                        for line_id, quantity in lines
                    ],
                }
                for fo_id, lines in line_items_by_fulfillment_order.items()
            ],
            "notifyCustomer": bool(notify_customer),
        }
        tracking = {k: v for k, v in (tracking or {}).items() if v}
        if tracking:
            fulfillment["trackingInfo"] = tracking
        data = self.run(
            "FulfillmentCreate",
            {"fulfillment": fulfillment, "message": message},
            cost=MUTATION_COST,
        )
        return data["fulfillmentCreate"]

    def fulfillment_order_move(self, fulfillment_order_id, location_gid, lines):
        """Assign ``lines`` ([(fulfillment order line item id, quantity)]) of
        a fulfillment order to another location. Returns {fulfillment:
        the moved fulfillment order, userErrors}."""
        data = self.run(
            "FulfillmentOrderMove",
            {
                "id": fulfillment_order_id,
                "newLocationId": location_gid,
                "fulfillmentOrderLineItems": [
                    {"id": line_id, "quantity": int(quantity)}
                    for line_id, quantity in lines
                ],
            },
            cost=MUTATION_COST,
        )
        payload = data["fulfillmentOrderMove"]
        return {
            "fulfillment": payload.get("movedFulfillmentOrder"),
            "userErrors": payload.get("userErrors") or [],
        }

    def fulfillment_tracking_update(
        self, fulfillment_gid, tracking, notify_customer=False
    ):
        """Replace the tracking of a fulfillment already made. ``tracking``:
        {number, company, url}. Returns {fulfillment, userErrors}."""
        data = self.run(
            "FulfillmentTrackingInfoUpdate",
            {
                "fulfillmentId": fulfillment_gid,
                "trackingInfoInput": {k: v for k, v in tracking.items() if v},
                "notifyCustomer": bool(notify_customer),
            },
            cost=MUTATION_COST,
        )
        return data["fulfillmentTrackingInfoUpdate"]


# --------------------------------------------------------------------------
# GraphQL order node → REST/webhook JSON
# --------------------------------------------------------------------------
def _amount(money_set):
    """The shop-currency amount of a MoneyBag as Shopify's REST string."""
    shop = (money_set or {}).get("shopMoney") or {}
    return shop.get("amount")


def _price_set(money_set):
    if not money_set:
        return None
    shop = money_set.get("shopMoney") or {}
    presentment = money_set.get("presentmentMoney") or shop
    return {
        "shop_money": {
            "amount": shop.get("amount"),
            "currency_code": shop.get("currencyCode"),
        },
        "presentment_money": {
            "amount": presentment.get("amount"),
            "currency_code": presentment.get("currencyCode"),
        },
    }


def _tax_lines(tax_lines):
    return [
        {
            "title": tax.get("title"),
            "rate": tax.get("rate"),
            "price": _amount(tax.get("priceSet")),
            "price_set": _price_set(tax.get("priceSet")),
        }
        for tax in tax_lines or []
    ]


def _address(address):
    if not address:
        return None
    return {
        "first_name": address.get("firstName"),
        "last_name": address.get("lastName"),
        "name": address.get("name"),
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "zip": address.get("zip"),
        "country": address.get("country"),
        "country_code": address.get("countryCodeV2"),
        "phone": address.get("phone"),
        "latitude": address.get("latitude"),
        "longitude": address.get("longitude"),
    }


def _customer(customer):
    if not customer:
        return None
    return {
        "id": legacy_id(customer.get("id")),
        "email": customer.get("email"),
        "first_name": customer.get("firstName"),
        "last_name": customer.get("lastName"),
        "phone": customer.get("phone"),
        "default_address": _address(customer.get("defaultAddress")),
    }


def _line_item(node):
    allocations = node.get("discountAllocations") or []
    return {
        "id": legacy_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "sku": node.get("sku"),
        "name": node.get("name"),
        "title": node.get("title"),
        "variant_title": node.get("variantTitle"),
        "quantity": node.get("quantity"),
        "current_quantity": node.get("currentQuantity", node.get("quantity")),
        "fulfillable_quantity": node.get("unfulfilledQuantity"),
        "requires_shipping": node.get("requiresShipping"),
        "taxable": node.get("taxable"),
        "variant_id": legacy_id((node.get("variant") or {}).get("id")),
        "product_id": legacy_id((node.get("product") or {}).get("id")),
        "product_exists": bool(node.get("product")),
        "gift_card": bool(node.get("isGiftCard")),
        "price": _amount(node.get("originalUnitPriceSet")),
        "price_set": _price_set(node.get("originalUnitPriceSet")),
        "total_discount": _amount(node.get("totalDiscountSet")),
        "total_discount_set": _price_set(node.get("totalDiscountSet")),
        "discount_allocations": _allocations(allocations),
        "tax_lines": _tax_lines(node.get("taxLines")),
    }


def _allocations(allocations):
    return [
        {
            "amount": _amount(alloc.get("allocatedAmountSet")),
            "amount_set": _price_set(alloc.get("allocatedAmountSet")),
            "discount_application_index": (alloc.get("discountApplication") or {}).get(
                "index"
            ),
        }
        for alloc in allocations or []
    ]


def _shipping_line(node):
    return {
        "id": legacy_id(node["id"]),
        "title": node.get("title"),
        "code": node.get("code"),
        "source": node.get("source"),
        "is_removed": bool(node.get("isRemoved")),
        "discount_allocations": _allocations(node.get("discountAllocations")),
        "price": _amount(node.get("originalPriceSet")),
        "price_set": _price_set(node.get("originalPriceSet")),
        "discounted_price": _amount(node.get("discountedPriceSet")),
        "discounted_price_set": _price_set(node.get("discountedPriceSet")),
        "tax_lines": _tax_lines(node.get("taxLines")),
    }


FULFILLMENT_STATUS = {
    "UNFULFILLED": None,
    "PARTIALLY_FULFILLED": "partial",
    "FULFILLED": "fulfilled",
}


def order_node_to_payload(node):
    """A GraphQL ``Order`` node (as OrdersUpdatedSince selects it) in the
    REST/webhook JSON shape, so that a recovered order goes through the same
    processor as a webhook. Amounts are Shopify's decimal strings."""
    fulfillment = node.get("displayFulfillmentStatus")
    payload = {
        "id": legacy_id(node["id"]),
        "admin_graphql_api_id": node["id"],
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "note": node.get("note"),
        "tags": ", ".join(node.get("tags") or []),
        "test": node.get("test"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": (node.get("cancelReason") or "").lower() or None,
        "financial_status": (node.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": FULFILLMENT_STATUS.get(
            fulfillment, (fulfillment or "").lower() or None
        ),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode"),
        "taxes_included": node.get("taxesIncluded"),
        "total_price": _amount(node.get("totalPriceSet")),
        "total_price_set": _price_set(node.get("totalPriceSet")),
        "subtotal_price": _amount(node.get("subtotalPriceSet")),
        "subtotal_price_set": _price_set(node.get("subtotalPriceSet")),
        "total_tax": _amount(node.get("totalTaxSet")),
        "total_tax_set": _price_set(node.get("totalTaxSet")),
        "total_discounts": _amount(node.get("totalDiscountsSet")),
        "total_discounts_set": _price_set(node.get("totalDiscountsSet")),
        "total_shipping_price_set": _price_set(node.get("totalShippingPriceSet")),
        "current_total_price": _amount(node.get("currentTotalPriceSet")),
        "current_total_price_set": _price_set(node.get("currentTotalPriceSet")),
        "current_subtotal_price": _amount(node.get("currentSubtotalPriceSet")),
        "current_subtotal_price_set": _price_set(node.get("currentSubtotalPriceSet")),
        "current_total_tax": _amount(node.get("currentTotalTaxSet")),
        "current_total_tax_set": _price_set(node.get("currentTotalTaxSet")),
        "total_tip_received": _amount(node.get("totalTipReceivedSet")),
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or []],
        "payment_gateway_names": list(node.get("paymentGatewayNames") or []),
        "po_number": node.get("poNumber"),
        "note_attributes": [
            {"name": attribute.get("key"), "value": attribute.get("value")}
            for attribute in node.get("customAttributes") or []
        ],
        "payment_terms": _payment_terms(node.get("paymentTerms")),
        "company": _company(node.get("purchasingEntity")),
        "tax_lines": _tax_lines(node.get("taxLines")),
        "customer": _customer(node.get("customer")),
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "line_items": [
            _line_item(line) for line in (node.get("lineItems") or {}).get("nodes", [])
        ],
        "shipping_lines": [
            _shipping_line(line)
            for line in (node.get("shippingLines") or {}).get("nodes", [])
        ],
    }
    _mark_tips(payload["line_items"], payload["total_tip_received"])
    return payload


def _payment_terms(terms):
    if not terms:
        return None
    return {
        "payment_terms_name": terms.get("paymentTermsName"),
        "payment_terms_type": terms.get("paymentTermsType"),
        "due_in_days": terms.get("dueInDays"),
    }


def _company(entity):
    """A B2B order's purchasing company as the REST ``company`` object."""
    company = (entity or {}).get("company")
    if not company:
        return None
    return {"id": legacy_id(company.get("id")), "name": company.get("name")}


def _mark_tips(line_items, total_tip):
    """GraphQL's line items do not tell a tip from a custom item (REST's
    tips carry ``tip_payment_gateway``): the lines titled "Tip" without a
    product whose amounts make up the order's tips are marked as REST
    marks them."""
    if not total_tip or not float(total_tip):
        return
    tips = [
        line
        for line in line_items
        if not line.get("variant_id")
        and (line.get("title") or "").strip().lower() == "tip"
    ]
    amount = sum(float(line["price"] or 0) * (line["quantity"] or 0) for line in tips)
    if tips and abs(amount - float(total_tip)) < 0.005:
        for line in tips:
            line["tip_payment_gateway"] = None
