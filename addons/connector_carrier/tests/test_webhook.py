# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import hmac

from odoo.tests import HttpCase, tagged

from odoo.addons.distribution_sync_core.tests.webhook_common import (
    SECRET,
    WebhookContract,
)


def carrier_headers(body, secret=SECRET):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}


@tagged("post_install", "-at_install")
class TestCarrierWebhook(WebhookContract, HttpCase):
    backend_type = "carrier"

    def route(self, token):
        return f"/dsync/carrier/{token}/tracking"

    def sign(self, body, secret=SECRET):
        return carrier_headers(body, secret)

    def delivery(self, dedup):
        # an account event: processed without a label (a tracker no label
        # knows is retried, then an exception: see test_tracking)
        doc = {
            "id": f"evt_{dedup}",
            "object": "Event",
            "description": "batch.updated",
            "created_at": "2026-11-21T08:30:00Z",
            "result": {"object": "Batch", "id": "batch_contract", "state": "purchased"},
        }
        return doc, {}

    def expected_dedup(self, dedup):
        return f"evt_{dedup}"

    def test_dedup_on_event_id(self):
        dedup = self.new_dedup()
        doc, headers = self.delivery(dedup)
        self.post(doc, headers)
        event = self.events(dedup_key=f"evt_{dedup}")
        self.assertEqual(event.topic, "batch.updated")
        self.backend._dsync_dispatch_events()
        self.assertEqual(
            event.job_id.channel, f"root.dsync.carrier_{self.backend.id}.account_events"
        )
