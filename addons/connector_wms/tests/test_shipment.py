# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shipment confirmations, short picks, holds and cancellations, with the
simulator's events through the inbox and the job pipeline."""

from odoo.tests import tagged

from .common import WmsCase


class ShipmentCase(WmsCase):
    def released(self, lines, **vals):
        picking = self.delivery(lines, **vals)
        self.release(picking)
        return picking

    def assert_untouched(self, picking, before):
        """Nothing of a refused confirmation was applied."""
        picking.invalidate_recordset()
        self.assertNotEqual(picking.state, "done")
        self.assertFalse(picking.backorder_ids)
        for product, quantity in before.items():
            self.assertEqual(self.on_hand(product), quantity, product.default_code)


@tagged("post_install", "-at_install")
class TestShipments(ShipmentCase):
    def test_full_shipment_in_packages_validates_the_delivery_once(self):
        self.count_stock(self.sku_a, 10)
        picking = self.released([(self.sku_a, 3), (self.sku_b, 2)])
        doc = self.sim.shipment(
            picking.name,
            lines=[
                {"sku": "WA-1", "quantity": 3, "package_ref": "BOX-1"},
                {"sku": "WB-1", "quantity": 2, "package_ref": "BOX-2"},
            ],
            packages=[self.sim.package("BOX-1", weight=6.5), self.sim.package("BOX-2")],
        )
        (event,) = self.feed(doc)
        self.assert_done(event)
        self.assertEqual(event.res_id, picking.id)
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.wms_state, "shipped")
        self.assertFalse(picking.backorder_ids)
        self.assertEqual(self.on_hand(self.sku_a), 7)
        packages = picking.move_line_ids.result_package_id
        self.assertEqual(sorted(packages.mapped("name")), ["BOX-1", "BOX-2"])
        box1 = packages.filtered(lambda p: p.name == "BOX-1")
        self.assertEqual(box1.shipping_weight, 6.5)
        self.assertEqual(
            picking.carrier_tracking_ref,
            ",".join(p["tracking_number"] for p in doc["data"]["packages"]),
        )
        self.assertEqual(
            box1.wms_tracking_ref, doc["data"]["packages"][0]["tracking_number"]
        )
        # the shipment timeline: one *shipped* milestone per package
        milestones = self.env["dsync.shipment.milestone"].search(
            [("picking_id", "=", picking.id)]
        )
        self.assertEqual(
            sorted((m.package_id.name, m.status, m.source) for m in milestones),
            [("BOX-1", "shipped", "wms"), ("BOX-2", "shipped", "wms")],
        )
        self.assertEqual(
            milestones.filtered(lambda m: m.package_id == box1).tracking_ref,
            box1.wms_tracking_ref,
        )
        self.assertEqual(picking.dsync_shipment_status, "shipped")
        # the same shipment again, under a new event id: never twice
        again = dict(doc, id="evt-resent", sequence=2)
        (duplicate,) = self.feed(again)
        self.assertEqual(duplicate.state, "duplicate")
        self.assertEqual(self.on_hand(self.sku_a), 7)

    def test_two_partial_shipments(self):
        picking = self.released([(self.sku_a, 5)])
        first = self.sim.shipment(picking.name, lines=[{"sku": "WA-1", "quantity": 2}])
        self.assert_done(*self.feed(first))
        backorder = picking.backorder_ids
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.move_ids.quantity, 2)
        self.assertEqual(len(backorder), 1)
        self.assertEqual(backorder.move_ids.product_uom_qty, 3)
        self.assertEqual(
            (backorder.wms_reference, backorder.wms_state), (picking.name, "released")
        )
        self.assertFalse(self.messages(state="pending"), "the warehouse is not told")
        second = self.sim.shipment(picking.name)
        (event,) = self.feed(second)
        self.assert_done(event)
        self.assertEqual(event.res_id, backorder.id)
        self.assertEqual(backorder.state, "done")
        self.assertFalse(backorder.backorder_ids)
        self.assertEqual(self.on_hand(self.sku_a), -5)

    def test_transfer_the_warehouse_got_another_way_is_adopted(self):
        """Never released by Odoo (keyed in at the warehouse, released by a
        file): the warehouse names it, its shipments apply, its backorder
        keeps the reference."""
        self.backend.wms_release_policy = "manual"
        picking = self.delivery([(self.sku_a, 3)])
        self.assertFalse(picking.wms_state)
        doc = self.sim.event(
            "shipment.confirmed",
            {"shipment_id": "KEYED-1", "lines": [{"sku": "WA-1", "quantity": 1}]},
            order_ref=picking.name,
            sequence=1,
        )
        self.assert_done(*self.feed(doc))
        self.assertEqual(picking.state, "done")
        self.assertEqual(
            (picking.wms_reference, picking.backorder_ids.wms_reference),
            (picking.name, picking.name),
        )
        rest = self.sim.event(
            "shipment.confirmed",
            {"shipment_id": "KEYED-2", "lines": [{"sku": "WA-1", "quantity": 2}]},
            order_ref=picking.name,
            sequence=2,
        )
        (event,) = self.feed(rest)
        self.assert_done(event)
        self.assertEqual(picking.backorder_ids.state, "done")

    def test_lots_and_serials_on_the_move_lines(self):
        lot_model = self.env["stock.lot"]
        lot = lot_model.create({"name": "LOT-7", "product_id": self.lotted.id})
        serials = lot_model.create(
            [{"name": f"SN-{n}", "product_id": self.serial.id} for n in (1, 2)]
        )
        self.count_stock(self.lotted, 5, lot=lot)
        for serial in serials:
            self.count_stock(self.serial, 1, lot=serial)
        picking = self.released([(self.lotted, 3), (self.serial, 2)])
        doc = self.sim.shipment(
            picking.name,
            lines=[
                {
                    "sku": "WL-1",
                    "quantity": 3,
                    "package_ref": "P1",
                    "lots": [
                        {"lot": "LOT-7", "quantity": 3, "expiry_date": "2027-06-30"}
                    ],
                },
                {
                    "sku": "WS-1",
                    "quantity": 2,
                    "package_ref": "P1",
                    "serials": ["SN-1", "SN-2"],
                },
            ],
        )
        self.assert_done(*self.feed(doc))
        lines = picking.move_line_ids
        self.assertEqual(
            sorted(
                (ml.product_id.default_code, ml.lot_id.name, ml.quantity)
                for ml in lines
            ),
            [("WL-1", "LOT-7", 3.0), ("WS-1", "SN-1", 1.0), ("WS-1", "SN-2", 1.0)],
        )
        self.assertEqual(lines.result_package_id.name, "P1")
        self.assertEqual(
            self.env["stock.quant"]._get_available_quantity(
                self.lotted, self.stock, lot
            ),
            2,
        )

    def test_unknown_lot_is_a_missing_mapping_and_nothing_moves(self):
        self.count_stock(self.sku_a, 4)
        picking = self.released([(self.sku_a, 1), (self.lotted, 2)])
        doc = self.sim.shipment(
            picking.name,
            lines=[
                {"sku": "WA-1", "quantity": 1},
                {
                    "sku": "WL-1",
                    "quantity": 2,
                    "lots": [{"lot": "LOT-X", "quantity": 2}],
                },
            ],
        )
        (event,) = self.feed(doc)
        self.assertEqual(event.state, "failed")
        exception = event.exception_ids
        self.assertEqual(
            (exception.category, exception.team), ("missing_mapping", "warehouse")
        )
        self.assertIn("LOT-X", exception.message)
        self.assertIn("WL-1", exception.message)
        self.assert_untouched(picking, {self.sku_a: 4})
        # the lot is created in Odoo: the retry applies it
        self.env["stock.lot"].create({"name": "LOT-X", "product_id": self.lotted.id})
        exception.action_retry()
        from odoo.addons.distribution_sync_core.tests.common import run_jobs

        run_jobs(self.env)
        self.assertEqual(event.state, "done")
        self.assertEqual(picking.state, "done")
        self.assertEqual(exception.state, "resolved")

    def test_bad_inputs_each_with_its_exception_and_nothing_applied(self):
        self.count_stock(self.sku_a, 10)
        picking = self.released([(self.sku_a, 2), (self.lotted, 1)])
        cases = [
            (
                {"order_ref": "WH/OUT/NOPE"},
                [{"sku": "WA-1", "quantity": 1}],
                ("unknown_reference", "operations", "WH/OUT/NOPE"),
            ),
            (
                {},
                [{"sku": "NOT-A-SKU", "quantity": 1}],
                ("unknown_product", "warehouse", "NOT-A-SKU"),
            ),
            (
                {},
                [{"sku": "WA-1", "quantity": 3}],
                ("quantity_mismatch", "warehouse", "only 2"),
            ),
            (
                {},
                [
                    {
                        "sku": "WA-1",
                        "quantity": 1,
                        "lots": [{"lot": "L1", "quantity": 1}],
                    }
                ],
                ("invalid_payload", "warehouse", "does not track"),
            ),
            (
                {},
                [{"sku": "WL-1", "quantity": 1}],
                ("invalid_payload", "warehouse", "must send the lots"),
            ),
            (
                {},
                [
                    {
                        "sku": "WL-1",
                        "quantity": 1,
                        "lots": [{"lot": "L1", "quantity": 2}],
                    }
                ],
                ("invalid_payload", "warehouse", "add up to 2"),
            ),
            (
                {},
                [{"sku": "WB-1", "quantity": 1}],
                ("quantity_mismatch", "warehouse", "no such line"),
            ),
        ]
        for number, (envelope, lines, (category, team, words)) in enumerate(cases, 1):
            doc = self.sim.event(
                "shipment.confirmed",
                {"shipment_id": f"BAD-{number}", "lines": lines},
                order_ref=envelope.get("order_ref", picking.name),
                sequence=1,
            )
            (event,) = self.feed(doc)
            exception = event.exception_ids
            self.assertEqual(event.state, "failed", (number, event.state))
            self.assertEqual(
                (exception.category, exception.team), (category, team), number
            )
            self.assertIn(words, exception.message, number)
            self.assert_untouched(picking, {self.sku_a: 10})

    def test_more_than_released_after_everything_shipped(self):
        picking = self.released([(self.sku_a, 1)])
        self.assert_done(*self.feed(self.sim.shipment(picking.name)))
        extra = self.sim.event(
            "shipment.confirmed",
            {"shipment_id": "EXTRA", "lines": [{"sku": "WA-1", "quantity": 1}]},
            order_ref=picking.name,
        )
        (event,) = self.feed(extra)
        self.assertEqual(event.exception_ids.category, "quantity_mismatch")
        self.assertIn("nothing is left open", event.exception_ids.message)

    def test_reversed_events_apply_in_sequence_order(self):
        picking = self.released([(self.sku_a, 4)])
        hold = self.sim.on_hold(picking.name, "address_check")
        ship = self.sim.shipment(picking.name)
        events = self.feed(ship)
        self.assertEqual(events.state, "waiting")
        self.assertEqual(events.waiting_for, 1)
        self.assertNotEqual(picking.state, "done")
        hold_event = self.feed(hold)
        events.invalidate_recordset()
        self.assert_done(hold_event, events)
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.wms_state, "shipped", "shipped after the hold")

    def test_batch_of_shipments_validated_together_like_one_by_one(self):
        """Shipments of a batch job validated together leave what single
        events leave; a bad one among them opens its exception alone."""
        pickings = [
            self.released([(self.sku_a, 3), (self.sku_b, 1)]) for _i in range(4)
        ]
        docs = [
            self.sim.shipment(
                p.name,
                lines=[{"sku": "WA-1", "quantity": 2, "package_ref": "B"}],
                packages=[self.sim.package("B")],
            )
            for p in pickings[:3]
        ]
        docs.append(
            self.sim.event(
                "shipment.confirmed",
                {"shipment_id": "BAD", "lines": [{"sku": "WA-1", "quantity": 9}]},
                order_ref=pickings[3].name,
            )
        )
        self.backend._dsync_flow("wms_events").batch_size = 20
        applied_together = []
        Backend = type(self.backend)
        original = Backend._wms_apply_plans

        def spy(backend, plans):
            applied_together.append(len(plans))
            return original(backend, plans)

        from unittest.mock import patch

        with patch.object(Backend, "_wms_apply_plans", spy):
            events = self.feed(*docs)
        self.assertEqual(applied_together[0], 3, "the three good ones together")
        self.assert_done(*events[:3])
        self.assertEqual(events[3].exception_ids.category, "quantity_mismatch")
        for picking in pickings[:3]:
            self.assertEqual(picking.state, "done")
            self.assertEqual(
                picking.move_ids.mapped("quantity"),
                [2.0, 0.0] if len(picking.move_ids) == 2 else [2.0],
            )
            backorder = picking.backorder_ids
            self.assertEqual(
                sorted(
                    (m.product_id.default_code, m.product_uom_qty)
                    for m in backorder.move_ids
                ),
                [("WA-1", 1.0), ("WB-1", 1.0)],
            )
            self.assertEqual(picking.move_line_ids.result_package_id.name, "B")
        # the same shipment alone gives the same result
        alone = self.released([(self.sku_a, 3), (self.sku_b, 1)])
        self.assert_done(
            *self.feed(
                self.sim.shipment(
                    alone.name,
                    lines=[{"sku": "WA-1", "quantity": 2, "package_ref": "B"}],
                    packages=[self.sim.package("B")],
                )
            )
        )
        self.assertEqual(
            sorted(
                (m.product_id.default_code, m.product_uom_qty)
                for m in alone.backorder_ids.move_ids
            ),
            [("WA-1", 1.0), ("WB-1", 1.0)],
        )

    def test_hold_and_unasked_cancel_are_for_customer_service(self):
        picking = self.released([(self.sku_a, 1)])
        (hold,) = self.feed(
            self.sim.on_hold(picking.name, "address_invalid", "No such street")
        )
        self.assert_done(hold)
        self.assertEqual(picking.wms_state, "on_hold")
        follow_up = self.follow_ups(hold)
        self.assertEqual(
            (follow_up.category, follow_up.team), ("to_review", "customer_service")
        )
        self.assertIn("No such street", follow_up.message)
        (cancel,) = self.feed(self.sim.cancelled(picking.name, "address_invalid"))
        self.assert_done(cancel)
        self.assertEqual((picking.state, picking.wms_state), ("cancel", "cancelled"))
        self.assertEqual(self.follow_ups(cancel).team, "customer_service")
        self.assertFalse(self.messages(state="pending"), "nothing sent back")

    def test_cancel_odoo_asked_for_needs_no_one(self):
        picking = self.released([(self.sku_a, 1)])
        picking.action_cancel()
        self.drain()
        (cancel,) = self.feed(self.sim.cancelled(picking.name))
        self.assert_done(cancel)
        self.assertFalse(self.follow_ups(cancel))

    def test_event_context(self):
        picking = self.released([(self.sku_a, 1)], partner=self.partner)
        doc = self.sim.shipment(picking.name)
        event = self.backend._wms_insert_events([doc], source="test")
        context = self.backend._wms_event_context(event, doc)
        self.assertEqual(context["ref"], picking.name)
        self.assertEqual(context["skus"], ["WA-1"])
        self.assertEqual(context["record"], picking)
        self.assertEqual(context["partner"], self.partner)
        # through the pipeline: the core stores it on the event, and an
        # exception of an unknown reference names that reference
        self.drain()
        done = event
        done.invalidate_recordset()
        self.assert_done(done)
        self.assertEqual(
            (done.doc_ref, done.skus, done.partner_id, done.record_name),
            (picking.name, "WA-1", self.partner, picking.name),
        )
        other = self.released([(self.sku_a, 1)])
        wrong = dict(self.sim.shipment(other.name), order_ref="WH/OUT/NOPE")
        (failed,) = self.feed(wrong)
        self.assertEqual(failed.state, "failed")
        self.assertEqual(failed.exception_ids.doc_ref, "WH/OUT/NOPE")


@tagged("post_install", "-at_install")
class TestShortPickBackorder(ShipmentCase):
    short_policy = "backorder"

    def test_short_then_partial_shipment_keeps_a_backorder(self):
        picking = self.released([(self.sku_a, 5), (self.sku_b, 2)])
        short = self.sim.short(picking.name, [("WA-1", 2)])
        (event,) = self.feed(short)
        self.assert_done(event)
        follow_up = self.follow_ups(event, "short_shipped")
        self.assertEqual(follow_up.team, "customer_service")
        self.assertIn("2 × WA-1", follow_up.message)
        self.assertIn("stay open", follow_up.message)
        self.assertEqual(sum(picking.move_ids.mapped("product_uom_qty")), 7, "kept")
        (ship,) = self.feed(
            self.sim.shipment(
                picking.name,
                lines=[{"sku": "WA-1", "quantity": 3}, {"sku": "WB-1", "quantity": 2}],
            )
        )
        self.assert_done(ship)
        self.assertEqual(picking.backorder_ids.move_ids.product_uom_qty, 2)
        self.assertEqual(picking.backorder_ids.state, "confirmed")

    def test_short_of_more_than_is_open(self):
        picking = self.released([(self.sku_a, 2)])
        (event,) = self.feed(self.sim.short(picking.name, [("WA-1", 5)]))
        exception = event.exception_ids
        self.assertEqual(exception.category, "quantity_mismatch")
        self.assertIn("5.0 × WA-1 short", exception.message)
        self.assertEqual(picking.move_ids.product_uom_qty, 2)

    def test_shipment_completing_the_order_short_keeps_the_rest(self):
        picking = self.released([(self.sku_a, 5)])
        (ship,) = self.feed(
            self.sim.shipment(
                picking.name, lines=[{"sku": "WA-1", "quantity": 4}], complete=True
            )
        )
        self.assert_done(ship)
        self.assertEqual(picking.backorder_ids.move_ids.product_uom_qty, 1)
        follow_up = self.follow_ups(ship, "short_shipped")
        self.assertIn(picking.backorder_ids.name, follow_up.message)


@tagged("post_install", "-at_install")
class TestShortPickCancel(ShipmentCase):
    short_policy = "cancel"

    def test_short_cancels_the_units_at_once(self):
        picking = self.released([(self.sku_a, 5), (self.sku_b, 2)])
        (event,) = self.feed(self.sim.short(picking.name, [("WA-1", 2), ("WB-1", 2)]))
        self.assert_done(event)
        open_moves = picking.move_ids.filtered(lambda m: m.state != "cancel")
        self.assertEqual(
            [(m.product_id.default_code, m.product_uom_qty) for m in open_moves],
            [("WA-1", 3.0)],
        )
        cancelled = picking.move_ids.filtered(lambda m: m.state == "cancel")
        self.assertEqual(sum(cancelled.mapped("product_uom_qty")), 4)
        self.assertIn("cancelled", self.follow_ups(event).message)
        # the warehouse gets the new version: it will not ship them later
        order = self.sim.orders[picking.name]
        self.assertEqual(order["version"], 2)
        self.assertEqual(
            [(line["sku"], line["quantity"]) for line in order["document"]["lines"]],
            [("WA-1", 3.0)],
        )
        (ship,) = self.feed(
            self.sim.shipment(picking.name, lines=[{"sku": "WA-1", "quantity": 3}])
        )
        self.assert_done(ship)
        self.assertEqual(picking.state, "done")
        self.assertFalse(picking.backorder_ids)

    def test_shipment_completing_the_order_short_cancels_the_rest(self):
        picking = self.released([(self.sku_a, 5)])
        (ship,) = self.feed(
            self.sim.shipment(
                picking.name, lines=[{"sku": "WA-1", "quantity": 4}], complete=True
            )
        )
        self.assert_done(ship)
        self.assertEqual(picking.state, "done")
        self.assertFalse(picking.backorder_ids)
        # as Odoo's "no backorder": the move is done with what was shipped
        self.assertEqual(
            [(m.state, m.quantity) for m in picking.move_ids], [("done", 4.0)]
        )
        self.assertEqual(self.follow_ups(ship).category, "short_shipped")
