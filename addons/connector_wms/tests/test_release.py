# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Releases out, against the simulator over real HTTP: deliveries and
receipts, products first, changes and cancellations, duplicates, outages,
release policies."""

from datetime import datetime
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import WmsCase


@tagged("post_install", "-at_install")
class TestRelease(WmsCase):
    def test_confirmed_delivery_is_released_with_its_products_first(self):
        picking = self.delivery([(self.sku_a, 3), (self.sku_b, 1)])
        messages = self.messages()
        kinds = [m._dsync_data()["kind"] for m in messages]
        self.assertEqual(kinds, ["product", "product", "order"], "products first")
        self.assertEqual(picking.wms_state, "pending")
        self.assertEqual(picking.wms_reference, picking.name)
        self.release(picking)
        order = self.sim.orders[picking.name]["document"]
        self.assertEqual(order["version"], 1)
        self.assertEqual(
            sorted((line["sku"], line["quantity"]) for line in order["lines"]),
            [("WA-1", 3.0), ("WB-1", 1.0)],
        )
        self.assertEqual(order["ship_to"]["city"], "Montreal")
        self.assertEqual(order["site"], "WMT")
        self.assertEqual(set(self.sim.products), {"WA-1", "WB-1"})
        self.assertEqual(self.sim.products["WA-1"]["weight"], 2.0)
        self.assertTrue(picking.wms_released_at)
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        # the products are not published again for the next release
        second = self.delivery([(self.sku_a, 1)])
        self.assertEqual(
            [m._dsync_data()["kind"] for m in self.messages(state="pending")], ["order"]
        )
        self.release(second)

    def test_receipt_is_announced(self):
        picking = self.receipt([(self.sku_a, 10)])
        self.release(picking)
        inbound = self.sim.inbounds[picking.name]["document"]
        self.assertEqual(inbound["lines"][0]["quantity"], 10.0)

    def test_duplicate_reference_counts_as_released(self):
        """The warehouse already has the order (keyed in by hand, or a
        release whose answer was lost and is sent again as a new version):
        its 409 duplicate_reference counts as released."""
        self.backend.wms_release_policy = "manual"
        picking = self.delivery([(self.sku_a, 1)])
        client = self.backend._wms_client()
        self.backend._wms_publish(client, picking.move_ids.product_id)
        client.create_order(
            self.backend._wms_document(picking, picking.name, 1), "keyed-in-by-hand"
        )
        picking.action_wms_release()
        self.drain()
        self.assertEqual(picking.wms_state, "released")
        self.assertEqual(self.sim.count("POST", "/v1/orders"), 2)
        self.assertEqual(len(self.sim.orders), 1)
        self.assertEqual(self.messages(state="sent").mapped("state"), ["sent"])
        picking.invalidate_recordset()
        self.assertTrue(
            any("already had" in (m.body or "") for m in picking.message_ids)
        )

    def test_change_and_cancel_of_a_released_delivery(self):
        picking = self.release(self.delivery([(self.sku_a, 3)]))[0]
        picking.move_ids.product_uom_qty = 5
        picking.scheduled_date = datetime(2026, 12, 24, 9, 0)
        self.assertEqual(len(self.messages(state="pending")), 1, "changes coalesce")
        self.drain()
        state = self.sim.orders[picking.name]
        self.assertEqual(state["version"], 3)
        self.assertEqual(state["document"]["lines"][0]["quantity"], 5.0)
        self.assertEqual(state["document"]["requested_date"], "2026-12-24T09:00:00Z")
        picking.action_cancel()
        self.assertEqual(picking.wms_state, "cancel_requested")
        self.drain()
        self.assertEqual(self.sim.orders[picking.name]["status"], "cancelled")
        self.assertEqual(picking.wms_state, "cancelled")

    def test_a_released_delivery_is_not_validated_by_hand(self):
        self.count_stock(self.sku_a, 5)
        picking = self.release(self.delivery([(self.sku_a, 2)]))[0]
        picking.move_ids.quantity = 2
        picking.move_ids.picked = True
        with self.assertRaisesRegex(UserError, "released to the warehouse system"):
            picking.button_validate()
        self.assertEqual(picking.state, "assigned")
        # an integration applying the warehouse's confirmation itself may
        picking.with_context(dsync_wms_apply=True).button_validate()
        self.assertEqual(picking.state, "done")

    def test_cancel_refused_by_the_warehouse_is_for_customer_service(self):
        picking = self.release(self.delivery([(self.sku_a, 3)]))[0]
        self.sim.hold_order(picking.name, "picking")
        picking.action_cancel()
        self.drain()
        message = self.messages(state="failed")
        self.assertEqual(len(message), 1)
        exception = message.exception_ids
        self.assertEqual(
            (exception.category, exception.team),
            ("platform_rejected", "customer_service"),
        )
        self.assertIn("too late", exception.message)
        self.assertIn(picking.name, exception.message)

    def test_never_released_then_cancelled_sends_nothing_harmful(self):
        self.backend.wms_release_policy = "manual"
        picking = self.delivery([(self.sku_a, 3)])
        self.assertFalse(picking.wms_state)
        self.assertFalse(
            self.messages().filtered(lambda m: m._dsync_data()["kind"] == "order")
        )
        picking.action_wms_release()
        picking.action_cancel()
        self.drain()
        self.assertEqual(picking.wms_state, "cancelled")
        self.assertNotIn(
            picking.name, self.sim.orders, "the cancel replaced the release"
        )

    def test_outage_keeps_the_order_of_releases(self):
        self.sim.set_outage(503)
        pickings = [self.delivery([(self.sku_a, n)]) for n in (1, 2, 3)]
        self.drain()
        self.assertFalse(self.sim.orders)
        self.assertTrue(self.messages(state="pending"))
        self.sim.clear_outage()
        self.time_passes()
        self.drain()
        created = [
            path
            for method, path, status in self.sim.requests
            if method == "POST" and path == "/v1/orders" and status == 201
        ]
        self.assertEqual(len(created), 3)
        self.assertEqual(list(self.sim.orders), [p.name for p in pickings], "in order")
        self.assertEqual({p.wms_state for p in pickings}, {"released"})

    def test_rate_limit_is_retried(self):
        self.sim.set_outage(429, count=1)
        picking = self.delivery([(self.sku_a, 1)])
        self.drain()
        self.assertNotIn(picking.name, self.sim.orders)
        message = self.messages(state="pending")
        self.assertTrue(all(message.mapped("next_attempt_at")))
        self.time_passes()
        self.drain()
        self.assertIn(picking.name, self.sim.orders)

    def test_waves_release_at_their_time(self):
        self.backend.write({"wms_release_policy": "waves", "wms_wave_times": "09:00"})
        self.backend.user_id.tz = "UTC"
        picking = self.delivery([(self.sku_a, 1)])
        self.assertFalse(picking.wms_state)
        morning = datetime(2026, 11, 23, 8, 0)
        self.assertFalse(self.backend._wms_wave_due(morning))
        self.assertTrue(self.backend._wms_wave_due(datetime(2026, 11, 23, 9, 5)))
        with patch.object(
            type(self.backend), "_wms_wave_due", lambda backend, now=None: True
        ):
            self.env["dsync.backend"]._cron_wms_release()
        self.assertEqual(picking.wms_state, "pending")
        self.assertTrue(self.backend.wms_last_wave_at)

    def test_product_without_sku_fails_its_release_with_a_fix(self):
        nameless = self.env["product.product"].create(
            {"name": "No reference", "is_storable": True}
        )
        picking = self.delivery([(nameless, 1)])
        self.drain()
        message = self.messages(state="failed")
        self.assertEqual(message.exception_ids.category, "missing_mapping")
        self.assertIn("internal reference", message.exception_ids.message)
        nameless.default_code = "NR-1"
        message.exception_ids.action_retry()
        self.drain()
        self.assertIn(picking.name, self.sim.orders)
