# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Tracking webhooks of the carrier platform.

The platform signs each delivery the way EasyPost-style platforms do:
``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>``,
keyed with the webhook secret. Each body is an event object
``{"id": "evt_...", "description": "tracker.updated", "created_at": ...,
"result": {...}}``; its ``id`` is the dedup key.
"""

from odoo import http
from odoo.http import request

from odoo.addons.distribution_sync_core import intake

from ..models.dsync_backend import TOPIC_PROCESSORS

SIGNATURE_HEADER = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="


def verify(secrets, raw_body, headers):
    return intake.verify_hex_hmac(
        secrets.get("webhook_secret"),
        raw_body,
        headers.get(SIGNATURE_HEADER),
        prefix=PREFIX,
    )


def describe(payload, headers, route):
    """An event of the platform (``{"object": "Event", "id", "description",
    "result": {...}}``) whose description is one this backend accepts."""
    event_id, topic = intake.event_in_body(
        payload, TOPIC_PROCESSORS, "description", "result", "description"
    )
    field = "updated_at" if payload.get("updated_at") else "created_at"
    return intake.Delivery(
        topic=topic,
        dedup_key=event_id,
        source_timestamp=intake.parse_utc(payload.get(field), field),
    )


class CarrierWebhookController(http.Controller):
    @http.route(
        "/dsync/carrier/<string:token>/tracking",
        type="dsync_webhook",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def tracking(self, token, **_kw):
        return intake.accept(
            request, "carrier", token, verify, describe, kept_headers=("User-Agent",)
        )
