# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The warehouse's events: ``POST /dsync/wms/<token>/events``.

A delivery is accepted when it is signed (``X-Dsync-Signature`` over
``<timestamp>.<raw body>``, the timestamp within 5 minutes), and its body is
an event of one of the contract's types with that type's shape
(``static/openapi/wms-v1.yaml``, checked with the contract itself). The
event's ``id`` is the dedup key, ``occurred_at`` the source time; an order's
events are sequenced by ``order_ref`` and ``sequence``, a snapshot's pages
by ``snapshot_id`` and ``page`` (see the core's sequencing). Anything else
gets 400 and is kept as a rejected event with the reason.
"""

import time

from odoo import http
from odoo.http import request

from odoo.addons.distribution_sync_core import intake
from odoo.addons.distribution_sync_core.intake import InvalidDelivery

from ..contract import ContractError, check_event
from ..models.dsync_backend import TOPIC_PROCESSORS

SIGNATURE_HEADER = "X-Dsync-Signature"
TIMESTAMP_HEADER = "X-Dsync-Timestamp"
TOLERANCE_SECONDS = 300


# A Unix time in seconds has at most this many digits until the year 2286.
MAX_TIMESTAMP_DIGITS = 10


def verify(secrets, raw_body, headers, now=None):
    """``sha256=<hex HMAC of "<timestamp>.<raw body>">`` within 5 minutes."""
    stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        return False
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > TOLERANCE_SECONDS:
        return False
    message = stamp.encode() + b"." + raw_body
    return intake.verify_hex_hmac(
        secrets.get("webhook_secret"),
        message,
        headers.get(SIGNATURE_HEADER),
        prefix="sha256=",
    )


def describe(payload, headers, route):
    """A WMS event of one of the contract's types, with its type's shape."""
    event_id, topic = intake.event_in_body(
        payload, TOPIC_PROCESSORS, "type", "data", "type"
    )
    source = intake.parse_utc(payload.get("occurred_at"), "occurred_at")
    correlation = intake.text_value(
        payload.get("correlation_id") or headers.get("X-Correlation-Id"),
        "correlation id",
        required=False,
    )
    try:
        check_event(payload)
    except ContractError as err:
        raise InvalidDelivery(f"the event does not match the contract: {err}") from err
    key, number = route.env["dsync.backend"]._wms_sequence_key(topic, payload)
    return intake.Delivery(
        topic=topic,
        dedup_key=event_id,
        source_timestamp=source,
        correlation_id=correlation,
        sequence_key=key,
        sequence=number,
    )


class WmsWebhookController(http.Controller):
    @http.route(
        "/dsync/wms/<string:token>/events",
        type="dsync_webhook",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def events(self, token, **_kw):
        return intake.accept(
            request,
            "wms",
            token,
            verify,
            describe,
            kept_headers=(TIMESTAMP_HEADER, "X-Correlation-Id", "User-Agent"),
        )
