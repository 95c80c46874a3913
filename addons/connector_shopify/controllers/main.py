# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import http
from odoo.http import request

from odoo.addons.distribution_sync_core import intake

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
KEPT_HEADERS = (
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
)


def verify(secrets, raw_body, headers):
    """base64 HMAC-SHA256 of the raw body with the app's secret."""
    return intake.verify_base64_hmac(
        secrets.get("webhook_secret"), raw_body, headers.get(HMAC_HEADER)
    )


def describe(payload, headers):
    """Topic and delivery id come from Shopify's headers; the payload must be
    a JSON object. The source time is the resource's ``updated_at`` when it
    has one (orders), else the time Shopify triggered the webhook."""
    topic = (headers.get(TOPIC_HEADER) or "").strip()
    webhook_id = (headers.get(WEBHOOK_ID_HEADER) or "").strip()
    if not topic or not webhook_id:
        raise ValueError("X-Shopify-Topic and X-Shopify-Webhook-Id are required")
    if not isinstance(payload, dict) or not payload:
        raise ValueError("the body is not a JSON object")
    source = payload.get("updated_at") or headers.get("X-Shopify-Triggered-At")
    return intake.Delivery(
        topic=topic,
        dedup_key=webhook_id,
        source_timestamp=intake.parse_utc(source),
        correlation_id=headers.get("X-Shopify-Event-Id"),
    )


class ShopifyWebhookController(http.Controller):
    @http.route(
        "/dsync/shopify/<string:token>/webhook",
        type="http",
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
