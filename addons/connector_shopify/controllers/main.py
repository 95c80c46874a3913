# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify's webhooks: ``POST /dsync/shopify/<token>/webhook``.

Shopify signs the body, not its headers: a captured body replayed under
another ``X-Shopify-Topic`` must not run another topic's processor. So a
delivery is accepted only when its topic is one of ``TOPIC_PROCESSORS``
(exactly, as Shopify spells it), its body has that topic's shape (an order
for ``orders/*``, a refund for ``refunds/create``, a payment transaction
for ``order_transactions/create``, the shop for
``app/uninstalled``, a privacy request for the privacy topics), and it comes
from the backend's own shop (``X-Shopify-Shop-Domain``, and the shop named
in the body where there is one: one app's secret signs the webhooks of
every shop it is installed on). Anything else gets 400 and is kept as a
rejected event.
"""

from odoo import http
from odoo.http import request

from odoo.addons.distribution_sync_core import intake
from odoo.addons.distribution_sync_core.intake import InvalidDelivery

from ..models.dsync_backend import TOPIC_PROCESSORS, normalize_shop_domain

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_HEADER = "X-Shopify-Shop-Domain"
KEPT_HEADERS = (
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    SHOP_HEADER,
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
)


def verify(secrets, raw_body, headers):
    """base64 HMAC-SHA256 of the raw body with the app's secret."""
    return intake.verify_base64_hmac(
        secrets.get("webhook_secret"), raw_body, headers.get(HMAC_HEADER)
    )


# --------------------------------------------------------------------------
# the shape of each topic's body
# --------------------------------------------------------------------------
def _shopify_id(doc, key, what):
    """A Shopify numeric id (a JSON integer, or its digits as a string)."""
    value = doc.get(key)
    if isinstance(value, bool) or not (
        (isinstance(value, int) and value > 0)
        or (isinstance(value, str) and value.isdigit() and len(value) <= 20)
    ):
        raise InvalidDelivery(f"the body is not {what}: no numeric {key!r}")
    return value


def _order(doc, shop):
    _shopify_id(doc, "id", "an order")
    if not isinstance(doc.get("line_items"), list):
        raise InvalidDelivery("the body is not an order: no 'line_items' list")


def _refund(doc, shop):
    _shopify_id(doc, "id", "a refund")
    _shopify_id(doc, "order_id", "a refund")


def _transaction(doc, shop):
    _shopify_id(doc, "id", "a transaction")
    _shopify_id(doc, "order_id", "a transaction")
    if not isinstance(doc.get("kind"), str):
        raise InvalidDelivery("the body is not a transaction: no 'kind'")


def _shop(doc, shop):
    _shopify_id(doc, "id", "a shop")
    _same_shop(doc, "myshopify_domain", shop, "a shop")


def _privacy_request(*required):
    def check(doc, shop):
        _shopify_id(doc, "shop_id", "a privacy request")
        _same_shop(doc, "shop_domain", shop, "a privacy request")
        for key, kind in required:
            if not isinstance(doc.get(key), kind):
                raise InvalidDelivery(f"the body is not a privacy request: no {key!r}")

    return check


def _same_shop(doc, key, shop, what):
    domain = doc.get(key)
    if not isinstance(domain, str):
        raise InvalidDelivery(f"the body is not {what}: no {key!r}")
    if normalize_shop_domain(domain) != shop:
        raise InvalidDelivery("the body names another shop than the backend's")


BODY_SHAPES = {
    "orders/create": _order,
    "orders/updated": _order,
    "orders/cancelled": _order,
    "refunds/create": _refund,
    "order_transactions/create": _transaction,
    "app/uninstalled": _shop,
    "customers/data_request": _privacy_request(
        ("customer", dict), ("orders_requested", list)
    ),
    "customers/redact": _privacy_request(("customer", dict)),
    "shop/redact": _privacy_request(),
}
assert set(BODY_SHAPES) == set(TOPIC_PROCESSORS)


def describe(payload, headers, route):
    """Topic and delivery id come from Shopify's headers; the body must have
    the topic's shape and come from the backend's shop. The source time is
    the resource's ``updated_at`` when it has one (orders), else the time
    Shopify triggered the webhook."""
    topic = intake.text_value(headers.get(TOPIC_HEADER), TOPIC_HEADER, 100)
    if topic not in BODY_SHAPES:
        raise InvalidDelivery("the topic is not one this backend accepts")
    webhook_id = intake.text_value(headers.get(WEBHOOK_ID_HEADER), WEBHOOK_ID_HEADER)
    shop = route.env["dsync.backend"]._shopify_route_shop_domain(route.backend["id"])
    if not shop:
        raise InvalidDelivery("the backend has no shop domain to check deliveries")
    if normalize_shop_domain(headers.get(SHOP_HEADER)) != shop:
        raise InvalidDelivery(f"{SHOP_HEADER} is not the backend's shop")
    BODY_SHAPES[topic](payload, shop)
    if payload.get("updated_at") is not None:
        source = intake.parse_utc(payload["updated_at"], "updated_at")
    else:
        source = intake.parse_utc(
            headers.get("X-Shopify-Triggered-At"), "X-Shopify-Triggered-At"
        )
    return intake.Delivery(
        topic=topic,
        dedup_key=webhook_id,
        source_timestamp=source,
        correlation_id=headers.get("X-Shopify-Event-Id"),
    )


class ShopifyWebhookController(http.Controller):
    @http.route(
        "/dsync/shopify/<string:token>/webhook",
        type="dsync_webhook",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def webhook(self, token, **_kw):
        return intake.accept(
            request,
            "shopify",
            token,
            verify,
            describe,
            kept_headers=KEPT_HEADERS,
            topic_header=TOPIC_HEADER,
        )
