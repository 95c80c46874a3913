# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields

from ..masking import mask_payload
from ..models import dsync_backend
from .common import DsyncCase

ORDER = {
    "id": 820982911946154508,
    "email": "jon@example.com",
    "total_price": "12.00",
    "customer": {
        "id": 115310627314723954,
        "first_name": "Jon",
        "email": "jon@example.com",
        "phone": "+1-555",
    },
    "shipping_address": {
        "address1": "1 Main St",
        "city": "Ottawa",
        "country_code": "CA",
    },
    "line_items": [{"sku": "SKU-1", "quantity": 2, "name": "Widget"}],
}


class TestRetention(DsyncCase):
    def backdate(self, record, days):
        self.env.flush_all()
        self.env.cr.execute(
            f"UPDATE {record._table} SET create_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(days=days), record.id),
        )
        record.invalidate_recordset()

    def test_mask_function(self):
        masked = json.loads(mask_payload(json.dumps(ORDER)))
        self.assertEqual(masked["email"], "***")
        self.assertEqual(masked["customer"]["first_name"], "***")
        self.assertEqual(
            masked["customer"]["id"], ORDER["customer"]["id"], "ids stay for tracing"
        )
        self.assertEqual(masked["shipping_address"]["city"], "***")
        self.assertEqual(masked["shipping_address"]["country_code"], "***")
        self.assertEqual(masked["total_price"], "12.00")
        self.assertEqual(masked["line_items"][0]["sku"], "SKU-1")
        self.assertEqual(mask_payload("not json"), "***")

    def test_cron_masks_then_purges_per_backend_days(self):
        self.backend.write({"pii_mask_days": 30, "payload_retention_days": 90})
        fresh = self.make_event("orders/create", ORDER)
        month = self.make_event(
            "orders/create", ORDER, headers={"X-Customer-Email": "jon@example.com"}
        )
        old = self.make_event("orders/create", ORDER)
        self.backdate(month, 40)
        self.backdate(old, 100)
        self.env["dsync.backend"]._cron_dsync_retention()
        self.assertEqual(json.loads(fresh.payload)["email"], "jon@example.com")
        self.assertFalse(fresh.payload_masked)
        self.assertTrue(month.payload_masked)
        self.assertNotIn("jon@example.com", month.payload)
        self.assertEqual(month.headers["X-Customer-Email"], "***")
        self.assertEqual(json.loads(month.payload)["line_items"][0]["sku"], "SKU-1")
        self.assertTrue(old.payload_purged)
        self.assertFalse(old.payload)
        self.assertTrue(old.exists(), "the event row stays as an audit record")

    def test_outbox_retention(self):
        message = self.env["dsync.outbox"]._dsync_post(
            self.backend, "outbound", "c-1", {"email": "a@b.c", "qty": 1}, trigger=False
        )
        message._dsync_mark_sent()
        self.backdate(message, 100)
        self.env["dsync.backend"]._cron_dsync_retention()
        self.assertTrue(message.payload_purged)
        self.assertFalse(message.payload)

    def test_cron_works_through_a_backlog_in_batches(self):
        # retention switched on over a backlog: one batch per call, each call
        # telling Odoo's cron runner what remains so that it calls again
        self.backend.write({"pii_mask_days": 30, "payload_retention_days": 0})
        events = self.env["dsync.event"].concat(
            *(self.make_event("orders/create", ORDER) for _i in range(5))
        )
        for event in events:
            self.backdate(event, 40)
        cron = self.env.ref("distribution_sync_core.ir_cron_dsync_retention")
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        Backend = self.env["dsync.backend"].with_context(
            ir_cron_progress_id=progress.id
        )
        seen = []
        with patch.object(dsync_backend, "RETENTION_BATCH", 2):
            for _call in range(10):
                Backend._cron_dsync_retention()
                seen.append((progress.done, progress.remaining))
                if len(seen) == 1:  # oldest first
                    self.assertEqual(
                        events.sorted("id").mapped("payload_masked"),
                        [True, True, False, False, False],
                    )
                if not progress.remaining:
                    break
        self.assertEqual(seen, [(2, 3), (2, 1), (1, 0)])
        self.assertEqual(events.mapped("payload_masked"), [True] * 5)
        self.assertEqual(
            events[:2].mapped("id"), sorted(events[:2].ids), "oldest first"
        )

    def test_payloads_past_both_limits_are_purged_not_masked_first(self):
        self.backend.write({"pii_mask_days": 30, "payload_retention_days": 90})
        old = self.make_event("orders/create", ORDER)
        self.backdate(old, 100)
        masked, purged = self.backend._dsync_apply_retention()
        self.assertEqual((masked, purged), (0, 1))
        self.assertTrue(old.payload_purged)
        self.assertFalse(old.payload_masked, "nothing left to mask")
