# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Receipts, returns, stock adjustments and snapshot reconciliation."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from odoo.addons.distribution_sync_core.tests.common import run_jobs

from .common import WmsCase


@tagged("post_install", "-at_install")
class TestReceipts(WmsCase):
    def test_receipt_with_a_lot_under_then_complete(self):
        picking = self.receipt([(self.lotted, 10), (self.sku_a, 4)])
        self.release(picking)
        doc = self.sim.receipt(
            picking.name,
            lines=[
                {
                    "sku": "WL-1",
                    "quantity": 6,
                    "lots": [
                        {"lot": "RCV-LOT-1", "quantity": 6, "expiry_date": "2027-01-31"}
                    ],
                },
                {"sku": "WA-1", "quantity": 5},  # one more than expected
            ],
        )
        (event,) = self.feed(doc)
        self.assert_done(event)
        self.assertEqual(picking.state, "done")
        lot = self.env["stock.lot"].search([("name", "=", "RCV-LOT-1")])
        self.assertEqual(lot.product_id, self.lotted, "created by the receipt")
        self.assertEqual(self.on_hand(self.lotted), 6)
        self.assertEqual(
            self.on_hand(self.sku_a), 5, "over-receipt taken, as Odoo does"
        )
        backorder = picking.backorder_ids
        self.assertEqual(backorder.move_ids.product_uom_qty, 4, "the rest stays open")
        self.assertEqual(backorder.wms_reference, picking.name)
        (rest,) = self.feed(
            self.sim.receipt(
                picking.name,
                lines=[
                    {
                        "sku": "WL-1",
                        "quantity": 1,
                        "lots": [{"lot": "RCV-LOT-2", "quantity": 1}],
                    }
                ],
                complete=True,
            )
        )
        self.assert_done(rest)
        self.assertEqual(backorder.state, "done")
        self.assertFalse(backorder.backorder_ids, "complete: no further backorder")


@tagged("post_install", "-at_install")
class TestReturns(WmsCase):
    def shipped(self, lines):
        self.count_stock(self.sku_a, 10)
        picking = self.delivery(lines)
        self.release(picking)
        self.assert_done(*self.feed(self.sim.shipment(picking.name)))
        return picking

    def test_damaged_and_resaleable_return(self):
        delivery = self.shipped([(self.sku_a, 3)])
        self.assertEqual(self.on_hand(self.sku_a), 7)
        doc = self.sim.return_received(
            delivery.name, [("WA-1", 1, "resaleable"), ("WA-1", 1, "damaged")]
        )
        (event,) = self.feed(doc)
        self.assert_done(event)
        returned = self.env["stock.picking"].browse(event.res_id)
        self.assertEqual(returned.return_id, delivery, "Odoo's return of the delivery")
        self.assertEqual(returned.state, "done")
        received = returned.move_ids.filtered(lambda m: not m.scrapped)
        self.assertEqual(sum(received.mapped("quantity")), 2)
        self.assertEqual(received.origin_returned_move_id, delivery.move_ids)
        scrap = self.env["stock.scrap"].search([("picking_id", "=", returned.id)])
        self.assertEqual((scrap.state, scrap.scrap_qty), ("done", 1.0))
        self.assertEqual(scrap.scrap_location_id.usage, "inventory")
        self.assertEqual(self.on_hand(self.sku_a), 8, "the resaleable one is back")
        (again,) = self.feed(dict(doc, id="evt-again"))
        self.assertEqual(again.state, "duplicate")

    def test_return_without_a_known_original_is_for_customer_service(self):
        doc = self.sim.return_received(None, [("WA-1", 1, "resaleable")])
        (event,) = self.feed(doc)
        self.assertEqual(
            (event.exception_ids.category, event.exception_ids.team),
            ("unknown_reference", "customer_service"),
        )
        doc = self.sim.return_received("WH/OUT/NOTHING", [("WA-1", 1, "resaleable")])
        (event,) = self.feed(doc)
        self.assertEqual(event.exception_ids.team, "customer_service")

    def test_returning_more_than_shipped(self):
        delivery = self.shipped([(self.sku_a, 1)])
        (event,) = self.feed(
            self.sim.return_received(delivery.name, [("WA-1", 2, "resaleable")])
        )
        self.assertEqual(event.exception_ids.category, "quantity_mismatch")
        self.assertFalse(delivery.return_ids)


@tagged("post_install", "-at_install")
class TestAdjustments(WmsCase):
    def test_adjustment_applies_where_the_wms_owns_stock(self):
        self.count_stock(self.sku_a, 10)
        doc = self.sim.adjustment([("WA-1", -2, "damaged"), ("WB-1", 5, "found")])
        (event,) = self.feed(doc)
        self.assert_done(event)
        self.assertEqual(self.on_hand(self.sku_a), 8)
        self.assertEqual(self.on_hand(self.sku_b), 5)
        moves = self.env["stock.move"].search(
            [
                ("product_id", "in", [self.sku_a.id, self.sku_b.id]),
                ("is_inventory", "=", True),
            ],
            order="id desc",
            limit=2,
        )
        self.assertTrue(all("damaged" in m.name or "found" in m.name for m in moves))
        (again,) = self.feed(dict(doc, id="evt-resent"))
        self.assertEqual(again.state, "duplicate", "one adjustment id, applied once")

    def test_adjustment_where_odoo_owns_stock_is_a_conflict(self):
        self.backend.wms_stock_owner = "odoo"
        self.count_stock(self.sku_a, 10)
        (event,) = self.feed(self.sim.adjustment([("WA-1", -2, "damaged")]))
        self.assertEqual(event.exception_ids.category, "conflict")
        self.assertIn("Odoo owns stock quantities", event.exception_ids.message)
        self.assertEqual(self.on_hand(self.sku_a), 10)

    def test_bad_adjustments(self):
        for lines, category in (([("NOPE", 1, "count")], "unknown_product"),):
            (event,) = self.feed(self.sim.adjustment(lines))
            self.assertEqual(event.exception_ids.category, category)
        doc = self.sim.event(
            "inventory.adjusted",
            {
                "lines": [
                    {"sku": "WA-1", "delta": 1, "reason_code": "count", "lot": "L9"}
                ]
            },
        )
        (event,) = self.feed(doc)
        self.assertEqual(event.exception_ids.category, "invalid_payload")
        self.assertIn("does not track", event.exception_ids.message)
        self.assertEqual(self.on_hand(self.sku_a), 0)


@tagged("post_install", "-at_install")
class TestSnapshots(WmsCase):
    def setUp(self):
        super().setUp()
        self.backend.write({"wms_tolerance_qty": 2, "wms_tolerance_value": 1000})

    def test_paged_snapshot_reversed_reconciles_exactly_the_drift(self):
        Product = self.env["product.product"]
        products = Product.create(
            [
                {
                    "name": f"Snap {n}",
                    "default_code": f"SNAP-{n:04d}",
                    "is_storable": True,
                }
                for n in range(30)
            ]
        )
        for n, product in enumerate(products):
            self.count_stock(product, 10 + n)
        quantities = {p.default_code: 10 + n for n, p in enumerate(products)}
        quantities["SNAP-0003"] += 1  # within tolerance
        quantities["SNAP-0007"] -= 5  # beyond
        quantities["NEW-SKU"] = 4  # unknown to Odoo
        del quantities["SNAP-0011"]  # missing at the warehouse
        self.sim.set_stock(quantities)
        docs = self.sim.snapshot_events(page_size=8)
        self.assertEqual(len(docs), 4)
        events = self.feed(*reversed(docs))
        # the last page came first: it waited for the others, then reconciled
        self.assert_done(*events)
        self.assertTrue(events[0].waiting_since)
        run = self.env["dsync.reconciliation.run"].browse(events[0].res_id)
        self.assertEqual(run.item_count, 30)
        lines = {line.sku: line for line in run.line_ids}
        self.assertEqual(set(lines), {"SNAP-0003", "SNAP-0007", "NEW-SKU", "SNAP-0011"})
        self.assertEqual(lines["SNAP-0003"].state, "repaired")
        self.assertEqual(self.on_hand(products[3]), 14)
        self.assertEqual(
            (lines["SNAP-0007"].state, lines["SNAP-0007"].drift_qty), ("to_approve", -5)
        )
        self.assertEqual(
            (lines["NEW-SKU"].reason, lines["NEW-SKU"].state),
            ("unknown_sku", "to_approve"),
        )
        self.assertEqual(lines["SNAP-0011"].reason, "missing_on_platform")
        self.assertEqual(run.state, "to_approve")
        lines["SNAP-0007"].action_approve()
        self.assertEqual(self.on_hand(products[7]), 12)
        self.assertIn(
            run.name, self.env["stock.move"].browse(lines["SNAP-0007"].repair_id).name
        )

    def test_in_flight_releases_are_not_drift(self):
        self.count_stock(self.sku_a, 10)
        picking = self.delivery([(self.sku_a, 3)])
        self.release(picking)
        # the warehouse picked 3 for the order and has not shipped them yet
        self.sim.set_stock({"WA-1": 10})
        (event,) = self.feed(*self.sim.snapshot_events())
        run = self.env["dsync.reconciliation.run"].browse(event.res_id)
        self.assertFalse(
            run.line_ids, run.line_ids.mapped(lambda line: (line.sku, line.drift_qty))
        )
        self.assertEqual(run.state, "done")

    def test_odoo_owning_stock_leaves_every_drift_to_a_manager(self):
        self.backend.wms_stock_owner = "odoo"
        self.count_stock(self.sku_a, 10)
        self.sim.set_stock({"WA-1": 11})
        (event,) = self.feed(*self.sim.snapshot_events())
        run = self.env["dsync.reconciliation.run"].browse(event.res_id)
        self.assertEqual(run.line_ids.state, "to_approve")
        self.assertEqual(self.on_hand(self.sku_a), 10)

    def test_missing_page_becomes_an_exception(self):
        self.sim.set_stock({f"M-{n}": n for n in range(1, 10)})
        docs = self.sim.snapshot_events(page_size=3)
        events = self.feed(docs[0], docs[2])
        self.assertEqual(events.mapped("state"), ["done", "waiting"])
        events[1].sudo().waiting_since = fields.Datetime.now() - timedelta(hours=2)
        self.env["dsync.event"]._dsync_fail_expired_waits()
        exception = events[1].exception_ids
        self.assertEqual(
            (exception.category, exception.team), ("missing_event", "operations")
        )
        self.assertFalse(
            self.env["dsync.reconciliation.run"].search(
                [("backend_id", "=", self.backend.id)]
            )
        )

    def test_reconcile_now_pulls_the_snapshot(self):
        self.count_stock(self.sku_a, 5)
        self.sim.set_stock({"WA-1": 6, "WB-1": 0})
        self.backend.wms_snapshot_page_size = 1
        events = self.backend._wms_fetch_snapshot()
        self.assertEqual(len(events), 2)
        run_jobs(self.env)
        events.invalidate_recordset()
        self.assert_done(*events)
        run = self.env["dsync.reconciliation.run"].browse(
            events.sorted("id")[-1].res_id
        )
        self.assertEqual(run.line_ids.mapped("sku"), ["WA-1"])
        self.assertEqual(run.line_ids.state, "repaired")
        self.assertEqual(self.on_hand(self.sku_a), 6)
