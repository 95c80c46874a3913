# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import hmac
import time
import unittest

from odoo.tests import HttpCase, tagged

from odoo.addons.distribution_sync_core.tests.webhook_common import (
    SECRET,
    WebhookContract,
)

from ..controllers.main import verify


def wms_headers(body, secret=SECRET, stamp=None):
    stamp = str(int(time.time()) if stamp is None else stamp)
    digest = hmac.new(
        secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return {"X-Dsync-Signature": f"sha256={digest}", "X-Dsync-Timestamp": stamp}


@tagged("post_install", "-at_install")
class TestWmsWebhook(WebhookContract, HttpCase):
    backend_type = "wms"

    def route(self, token):
        return f"/dsync/wms/{token}/events"

    def sign(self, body, secret=SECRET):
        return wms_headers(body, secret)

    def delivery(self, dedup):
        doc = {
            "id": dedup,
            "type": "shipment.confirmed",
            "occurred_at": "2026-11-20T10:00:00Z",
            "sequence": 1,
            "order_ref": "WH/OUT/00001",
            "data": {
                "shipment_id": f"SHP-{dedup}",
                "lines": [{"sku": "SKU-A", "quantity": 1}],
            },
        }
        return doc, {}

    def test_old_timestamp_rejected(self):
        body = b'{"id": "x", "type": "shipment.confirmed", "data": {}}'
        headers = wms_headers(body, stamp=int(time.time()) - 301)
        response = self.post(body, headers, sign=False)
        self.assertEqual(response.status_code, 401)

    def test_topic_and_source_time(self):
        dedup = self.new_dedup()
        doc, headers = self.delivery(dedup)
        self.post(doc, headers)
        event = self.events(dedup_key=dedup)
        self.assertEqual(event.topic, "shipment.confirmed")
        self.assertEqual(str(event.source_timestamp), "2026-11-20 10:00:00")
        self.assertEqual(
            (event.sequence_key, event.sequence), ("order:WH/OUT/00001", 1)
        )
        self.backend._dsync_dispatch_events()
        self.assertEqual(
            event.job_id.channel, f"root.dsync.wms_{self.backend.id}.wms_events"
        )


class TestWmsSignatureUnit(unittest.TestCase):
    def test_window_both_sides(self):
        body = b"{}"
        now = 1_800_000_000
        for skew, ok in (
            (0, True),
            (299, True),
            (-299, True),
            (301, False),
            (-301, False),
        ):
            headers = wms_headers(body, stamp=now + skew)
            self.assertEqual(
                verify({"webhook_secret": SECRET}, body, headers, now=now), ok, skew
            )
