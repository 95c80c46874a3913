# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Tracking webhooks of the carrier platform.

EasyPost signs each delivery with ``X-Hmac-Signature:
hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>``, keyed with the webhook
secret normalised to NFKD (as its client libraries' ``validate_webhook``).
Each body is an ``Event`` (``{"object": "Event", "id": "evt_...",
"description": "tracker.updated", "result": {...}}``); its ``id`` is the
dedup key. The description must be one the backend declares
(``TOPIC_PROCESSORS``) and the result must have its shape (a ``Tracker``
for ``tracker.*``, a ``Refund`` for ``refund.successful``): anything else is
400 and kept as a rejected event.
"""

from odoo import http
from odoo.http import request

from odoo.addons.distribution_sync_core import intake

from ..models.dsync_backend import TOPIC_PROCESSORS
from ..platforms import easypost

SIGNATURE_HEADER = easypost.SIGNATURE_HEADER


def verify(secrets, raw_body, headers):
    return easypost.verify_signature(
        secrets.get("webhook_secret"), raw_body, headers.get(SIGNATURE_HEADER)
    )


def describe(payload, headers, route):
    event_id, topic, stamp = easypost.describe_event(payload, TOPIC_PROCESSORS)
    return intake.Delivery(topic=topic, dedup_key=event_id, source_timestamp=stamp)


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
