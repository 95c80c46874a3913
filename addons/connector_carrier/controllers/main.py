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

SIGNATURE_HEADER = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="


def verify(secrets, raw_body, headers):
    return intake.verify_hex_hmac(
        secrets.get("webhook_secret"),
        raw_body,
        headers.get(SIGNATURE_HEADER),
        prefix=PREFIX,
    )


def describe(payload, headers):
    event_id = str(payload["id"]).strip()
    topic = str(payload["description"]).strip()
    if not event_id or not topic:
        raise ValueError("event id and description are required")
    source_ts = intake.parse_utc(payload.get("updated_at") or payload.get("created_at"))
    return intake.Delivery(topic=topic, dedup_key=event_id, source_timestamp=source_ts)


class CarrierWebhookController(http.Controller):
    @http.route(
        "/dsync/carrier/<string:token>/tracking",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def tracking(self, token, **_kw):
        return intake.accept(
            request, "carrier", token, verify, describe, kept_headers=("User-Agent",)
        )
