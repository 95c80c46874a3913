# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stock levels and fulfillments out, and the recovery of missed orders,
against the Shopify simulator over real HTTP."""

import json
from datetime import timedelta

from odoo import fields
from odoo.tests import Form, TransactionCase

from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.shopify import DEFAULT_TOKEN, ShopifySimulator


class ShopifyOutboundCase(TransactionCase):
    """A Shopify backend talking to a simulator, WH/Stock mapped to its
    main location."""

    bucket_size = 2000
    restore_rate = 100

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.sim = ShopifySimulator(
            bucket_size=cls.bucket_size, restore_rate=cls.restore_rate
        ).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.location_gid = cls.sim.add_location("Main warehouse")
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1
        )
        cls.stock = cls.warehouse.lot_stock_id
        cls.backend = cls.env["dsync.backend"].create(
            {
                "name": "Shopify outbound test",
                "backend_type": "shopify",
                "api_url": cls.sim.url,
                "inbound_rate_limit": 0,
            }
        )
        cls.backend._dsync_set_secret("api_secret", DEFAULT_TOKEN)
        cls.env["dsync.value.map"].create(
            {
                "backend_id": cls.backend.id,
                "map_type": "location",
                "external_code": cls.location_gid,
                "target_ref": f"stock.warehouse,{cls.warehouse.id}",
            }
        )
        cls.Outbox = cls.env["dsync.outbox"]

    def setUp(self):
        super().setUp()
        self.sim.reset_counters()
        self.sim.refill_bucket()

    # helpers -----------------------------------------------------------
    def product(self, sku, in_shopify=True, **vals):
        if in_shopify:
            self.sim.add_variant(sku)
        return self.env["product.product"].create(
            dict(
                {
                    "name": f"Product {sku}",
                    "default_code": sku,
                    "is_storable": True,
                    "list_price": 10.0,
                },
                **vals,
            )
        )

    def count_stock(self, product, quantity, location=None):
        """An inventory adjustment: a stock move done, as a user would."""
        quant = (
            self.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": (location or self.stock).id,
                    "inventory_quantity": quantity,
                }
            )
        )
        quant.action_apply_inventory()

    def messages(self, flow, **domain):
        return self.Outbox.search(
            [("backend_id", "=", self.backend.id), ("flow_code", "=", flow)]
            + [(k, "=", v) for k, v in domain.items()]
        )

    def drain(self):
        return run_jobs(self.env, ignore_eta=False)


class TestStockExport(ShopifyOutboundCase):
    def test_stock_change_reaches_shopify_unthrottled(self):
        product = self.product("STK-1")
        self.count_stock(product, 7)
        message = self.messages("stock_export")
        self.assertEqual(message.coalesce_key, f"STK-1@{self.location_gid}")
        self.assertEqual(message._dsync_data()["quantity"], 7)
        self.drain()
        self.assertEqual(message.state, "sent")
        self.assertEqual(self.sim.available("STK-1", self.location_gid), 7)
        self.assertEqual(self.sim.calls["InventorySetQuantities"], 1)
        self.assertEqual(self.sim.throttled, 0)
        self.assertEqual(self.sim.status_429, 0)
        binding = self.env["dsync.binding"].search(
            [("backend_id", "=", self.backend.id), ("res_id", "=", product.id)]
        )
        self.assertTrue(binding.external_id.startswith("gid://shopify/InventoryItem/"))
        # the next change needs no SKU lookup: the inventory item is bound
        self.count_stock(product, 4)
        self.drain()
        self.assertEqual(self.sim.available("STK-1", self.location_gid), 4)
        self.assertEqual(self.sim.calls["ProductVariantsBySku"], 1)
        self.assertEqual(self.sim.throttled, 0)

    def test_changes_before_a_send_coalesce(self):
        product = self.product("STK-2")
        self.count_stock(product, 3)
        self.count_stock(product, 9)
        message = self.messages("stock_export")
        self.assertEqual(len(message), 1)
        self.assertEqual(message.coalesced_count, 1)
        self.drain()
        self.assertEqual(self.sim.available("STK-2", self.location_gid), 9)
        self.assertEqual(self.sim.calls["InventorySetQuantities"], 1)

    def pending_quantity(self, sku):
        message = self.messages(
            "stock_export",
            coalesce_key=f"{sku}@{self.location_gid}",
            state="pending",
        )
        return message and message._dsync_data()["quantity"]

    def odoo_sale(self, product, quantity):
        """A confirmed order entered in Odoo (another channel than Shopify)."""
        sale = self.env["sale.order"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "B2B"}).id,
                "warehouse_id": self.warehouse.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": quantity})
                ],
            }
        )
        sale.action_confirm()
        return sale

    def test_reservations_of_other_channels_are_published(self):
        product = self.product("STK-R")
        self.count_stock(product, 5)
        self.drain()
        self.assertEqual(self.sim.available("STK-R", self.location_gid), 5)
        # an order entered in Odoo (another channel) reserves 3: no move is done
        sale = self.odoo_sale(product, 3)
        self.assertEqual(sale.picking_ids.move_ids.quantity, 3, "reserved")
        self.env.cr.flush()  # what the commit runs
        self.assertEqual(self.pending_quantity("STK-R"), 2)
        self.drain()
        self.assertEqual(self.sim.available("STK-R", self.location_gid), 2)
        # cancelled, the order gives the units back to the channel
        sale.with_context(disable_cancel_warning=True).action_cancel()
        self.env.cr.flush()
        self.drain()
        self.assertEqual(self.sim.available("STK-R", self.location_gid), 5)
        self.assertEqual(self.sim.throttled, 0)

    def test_reservations_change_nothing_when_on_hand_is_published(self):
        self.backend.shopify_stock_quantity = "on_hand"
        product = self.product("STK-H")
        self.count_stock(product, 5)
        self.drain()
        self.odoo_sale(product, 3)
        self.env.cr.flush()
        self.assertFalse(self.pending_quantity("STK-H"))
        self.assertEqual(self.sim.available("STK-H", self.location_gid), 5)

    def test_stock_rule_buffer_reservations_and_zero_floor(self):
        backend = self.backend
        backend.shopify_stock_buffer = 2
        self.assertEqual(backend._shopify_published_quantity(10, 3), 5, "free - 2")
        self.assertEqual(backend._shopify_published_quantity(1, 0), 0, "never < 0")
        backend.shopify_stock_never_negative = False
        self.assertEqual(backend._shopify_published_quantity(1, 0), -1)
        backend.shopify_stock_quantity = "on_hand"
        self.assertEqual(backend._shopify_published_quantity(10, 3), 8, "on hand - 2")
        backend.shopify_stock_never_negative = True
        backend.shopify_stock_quantity = "free"
        product = self.product("STK-3")
        self.count_stock(product, 1)
        self.drain()
        self.assertEqual(self.sim.available("STK-3", self.location_gid), 0)

    def test_moves_outside_mapped_locations_post_nothing(self):
        other_wh = self.env["stock.warehouse"].create(
            {"name": "Unmapped", "code": "UNM", "company_id": self.env.company.id}
        )
        product = self.product("STK-4")
        self.count_stock(product, 5, location=other_wh.lot_stock_id)
        self.assertFalse(self.messages("stock_export"))

    def test_per_item_user_errors_become_exceptions(self):
        stocked = self.product("ERR-OK")
        self.sim.add_variant("ERR-ELSEWHERE", locations=[])  # not stocked there
        elsewhere = self.product("ERR-ELSEWHERE", in_shopify=False)
        unknown = self.product("ERR-UNKNOWN", in_shopify=False)
        for product in (stocked, elsewhere, unknown):
            self.count_stock(product, 2)
        self.drain()
        ok, rejected, missing = (
            self.messages("stock_export", res_id=p.id)
            for p in (stocked, elsewhere, unknown)
        )
        self.assertEqual(ok.state, "sent")
        self.assertEqual(self.sim.available("ERR-OK", self.location_gid), 2)
        self.assertEqual(rejected.state, "failed")
        self.assertEqual(rejected.exception_ids.category, "platform_rejected")
        self.assertIn("ITEM_NOT_STOCKED_AT_LOCATION", rejected.exception_ids.message)
        self.assertEqual(missing.state, "failed")
        self.assertEqual(missing.exception_ids.category, "unknown_product")
        self.assertEqual(missing.exception_ids.kind_key, "sku:ERR-UNKNOWN")
        self.assertEqual(missing.exception_ids.team, "warehouse")
        # the user error made the valid quantity go in a second call
        self.assertEqual(self.sim.calls["InventorySetQuantities"], 2)
        self.assertEqual(self.sim.throttled, 0)

    def test_deleted_inventory_item_is_looked_up_again(self):
        product = self.product("GONE-1")
        self.count_stock(product, 2)
        self.drain()
        self.sim.remove_variant("GONE-1")
        self.count_stock(product, 3)
        self.drain()
        message = self.messages("stock_export", state="failed")
        self.assertEqual(message.exception_ids.category, "unknown_product")
        self.assertIn("INVALID_INVENTORY_ITEM", message.exception_ids.message)
        self.sim.add_variant("GONE-1")
        message.action_retry()
        self.drain()
        self.assertEqual(message.state, "sent")
        self.assertEqual(self.sim.available("GONE-1", self.location_gid), 3)


class TestFullStockExport(ShopifyOutboundCase):
    # a bucket that a full export must wait for: 6 SKU look-ups of 102
    # points and 2 mutations of 10 do not fit in 250 points at once
    bucket_size = 250
    restore_rate = 400

    def test_full_export_in_batches_within_limits(self):
        products = self.env["product.product"].create(
            [
                {
                    "name": f"Bulk {n}",
                    "default_code": f"BULK-{n:04d}",
                    "is_storable": True,
                }
                for n in range(300)
            ]
        )
        self.sim.add_variants(products.mapped("default_code"))
        # only these products are published (demo products have SKUs too)
        self.env["product.product"].search(
            [("default_code", "!=", False), ("id", "not in", products.ids)]
        ).active = False
        self.env["stock.quant"]._update_available_quantity(products[0], self.stock, 12)
        count = self.backend._shopify_post_full_stock()
        self.assertGreaterEqual(count, 300)
        self.drain()
        pending = self.messages("stock_export").filtered(lambda m: m.state != "sent")
        self.assertFalse(pending, pending.mapped("last_error"))
        self.assertEqual(self.sim.calls["InventorySetQuantities"], 2, "250 + 50")
        groups = self.sim.adjustment_groups
        self.assertTrue(all(len(g["changes"]) <= 250 for g in groups))
        self.assertEqual(self.sim.throttled, 0)
        self.assertEqual(self.sim.status_429, 0)
        client = self.backend._shopify_client()
        self.assertGreater(client.waits, 0, "the client waited for the bucket")
        self.assertEqual(self.sim.available("BULK-0000", self.location_gid), 12)
        self.assertEqual(self.sim.available("BULK-0299", self.location_gid), 0)


class TestFulfillmentExport(ShopifyOutboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Jane Doe"})
        carrier_product = cls.env["product.product"].create(
            {"name": "Shipping", "type": "service"}
        )
        cls.carrier = cls.env["delivery.carrier"].create(
            {
                "name": "Parcel Express",
                "delivery_type": "fixed",
                "product_id": carrier_product.id,
                "tracking_url": "https://track.example/<shipmenttrackingnumber>",
            }
        )

    def shopify_sale(self, order_id, lines):
        """A confirmed sale order bound to a Shopify order, as the importer
        leaves it; ``lines``: [(product, quantity)]."""
        sale = self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "warehouse_id": self.warehouse.id,
                "order_line": [
                    (0, 0, {"product_id": p.id, "product_uom_qty": q}) for p, q in lines
                ],
            }
        )
        line_ids = [order_id * 100 + n for n in range(len(lines))]
        self.sim.add_order(
            {
                "id": order_id,
                "name": f"#{order_id}",
                "line_items": [
                    {"id": line_id, "sku": p.default_code, "quantity": q}
                    for line_id, (p, q) in zip(line_ids, lines, strict=True)
                ],
            },
            location_gid=self.location_gid,
        )
        Binding = self.env["dsync.binding"]
        Binding._bind(self.backend, sale, str(order_id))
        for line_id, line in zip(line_ids, sale.order_line, strict=True):
            Binding._bind(self.backend, line, str(line_id))
        for product, quantity in lines:
            self.env["stock.quant"]._update_available_quantity(
                product, self.stock, quantity
            )
        sale.action_confirm()
        return sale

    def ship(self, picking, quantities, tracking):
        """Validate ``picking`` shipping {product: quantity}; the rest goes
        to a backorder."""
        picking.carrier_id = self.carrier
        picking.carrier_tracking_ref = tracking
        for move in picking.move_ids:
            move.quantity = quantities.get(move.product_id, 0)
            move.picked = bool(move.quantity)
        result = picking.button_validate()
        if isinstance(result, dict) and result.get("res_model"):
            wizard = Form(
                self.env[result["res_model"]].with_context(**result["context"])
            ).save()
            wizard.process()
        self.assertEqual(picking.state, "done")
        return picking

    def test_partial_then_final_shipment_two_fulfillments(self):
        item_a, item_b = self.product("FUL-A"), self.product("FUL-B")
        sale = self.shopify_sale(7001, [(item_a, 3), (item_b, 1)])
        first = self.ship(sale.picking_ids, {item_a: 2}, "TRK-1")
        self.drain()
        message = self.messages("fulfillment_export", res_id=first.id)
        self.assertEqual(message.state, "sent")
        self.assertEqual(len(self.sim.fulfillments_of(7001)), 1)
        second = sale.picking_ids - first
        self.ship(second, {item_a: 1, item_b: 1}, "TRK-2")
        self.drain()
        partial, final = self.sim.fulfillments_of(7001)
        self.assertEqual(
            [(li["sku"], li["quantity"]) for li in partial["lineItems"]],
            [("FUL-A", 2)],
        )
        self.assertEqual(
            sorted((li["sku"], li["quantity"]) for li in final["lineItems"]),
            [("FUL-A", 1), ("FUL-B", 1)],
        )
        self.assertEqual(
            partial["trackingInfo"],
            [
                {
                    "number": "TRK-1",
                    "company": "Parcel Express",
                    "url": "https://track.example/TRK-1",
                }
            ],
        )
        self.assertEqual(final["trackingInfo"][0]["number"], "TRK-2")
        (fo,) = self.sim._fulfillment_orders_of(7001)
        self.assertEqual(fo["status"], "CLOSED")
        self.assertEqual(self.sim.orders[7001]["fulfillment_status"], "fulfilled")
        binding = self.env["dsync.binding"].search(
            [("res_model", "=", "stock.picking"), ("res_id", "=", first.id)]
        )
        self.assertEqual(binding.external_id, partial["id"])
        self.assertEqual(self.sim.throttled, 0)

    def test_never_twice_for_the_same_delivery(self):
        item = self.product("FUL-C")
        sale = self.shopify_sale(7002, [(item, 2)])
        picking = self.ship(sale.picking_ids, {item: 2}, "TRK-3")
        self.drain()
        # the delivery is validated again by a WMS redelivery, or posted twice
        self.backend._shopify_post_fulfillments(picking)
        self.drain()
        self.assertEqual(len(self.sim.fulfillments_of(7002)), 1)
        self.assertEqual(self.sim.calls["FulfillmentCreate"], 1)
        self.assertEqual(
            set(self.messages("fulfillment_export", res_id=picking.id).mapped("state")),
            {"sent"},
        )

    def test_items_routed_to_another_location_are_moved_then_fulfilled(self):
        item_a, item_b = self.product("FUL-M1"), self.product("FUL-M2")
        sale = self.shopify_sale(7008, [(item_a, 2), (item_b, 1)])
        elsewhere = self.sim.add_location("Second warehouse")
        # Shopify's routing gives the second line (id 700801) to another
        # location than the warehouse that ships it
        self.sim.move_line_items(7008, [700801], elsewhere)
        self.assertEqual(len(self.sim._fulfillment_orders_of(7008)), 2)
        picking = self.ship(sale.picking_ids, {item_a: 2, item_b: 1}, "TRK-M")
        self.drain()
        self.assertEqual(self.sim.calls["FulfillmentOrderMove"], 1)
        (fulfillment,) = self.sim.fulfillments_of(7008)
        self.assertEqual(
            sorted((li["sku"], li["quantity"]) for li in fulfillment["lineItems"]),
            [("FUL-M1", 2), ("FUL-M2", 1)],
        )
        self.assertEqual(
            {fo["status"] for fo in self.sim._fulfillment_orders_of(7008)}, {"CLOSED"}
        )
        message = self.messages("fulfillment_export", res_id=picking.id)
        self.assertEqual(message.state, "sent")
        self.assertEqual(self.sim.throttled, 0)

    def test_tracking_added_after_shipping_updates_the_fulfillment(self):
        item = self.product("FUL-T")
        sale = self.shopify_sale(7004, [(item, 1)])
        picking = self.ship(sale.picking_ids, {item: 1}, False)
        self.drain()
        (fulfillment,) = self.sim.fulfillments_of(7004)
        self.assertFalse([t for t in fulfillment["trackingInfo"] if t["number"]])
        # the label is bought once the parcel has left
        picking.carrier_tracking_ref = "TRK-LATE"
        self.drain()
        self.assertEqual(self.sim.calls["FulfillmentTrackingInfoUpdate"], 1)
        self.assertEqual(
            fulfillment["trackingInfo"],
            [
                {
                    "number": "TRK-LATE",
                    "company": "Parcel Express",
                    "url": "https://track.example/TRK-LATE",
                }
            ],
        )
        # the same value again changes nothing; a correction is sent
        picking.carrier_tracking_ref = "TRK-LATE"
        self.drain()
        self.assertEqual(self.sim.calls["FulfillmentTrackingInfoUpdate"], 1)
        picking.carrier_tracking_ref = "TRK-FIXED"
        self.drain()
        self.assertEqual(self.sim.calls["FulfillmentTrackingInfoUpdate"], 2)
        self.assertEqual(fulfillment["trackingInfo"][0]["number"], "TRK-FIXED")
        self.assertEqual(len(self.sim.fulfillments_of(7004)), 1)
        self.assertEqual(
            set(self.messages("fulfillment_export", res_id=picking.id).mapped("state")),
            {"sent"},
        )
        self.assertEqual(self.sim.throttled, 0)

    def test_several_packages_give_one_tracking_number_each(self):
        item = self.product("FUL-P")
        sale = self.shopify_sale(7011, [(item, 2)])
        self.ship(sale.picking_ids, {item: 2}, "TRK-P1, TRK-P2")
        self.drain()
        (fulfillment,) = self.sim.fulfillments_of(7011)
        self.assertEqual(
            fulfillment["trackingInfo"],
            [
                {
                    "number": number,
                    "company": "Parcel Express",
                    "url": f"https://track.example/{number}",
                }
                for number in ("TRK-P1", "TRK-P2")
            ],
        )

    def test_tracking_given_before_the_fulfillment_is_sent_once(self):
        item = self.product("FUL-U")
        sale = self.shopify_sale(7005, [(item, 1)])
        picking = self.ship(sale.picking_ids, {item: 1}, False)
        picking.carrier_tracking_ref = "TRK-EARLY"  # before the outbox drains
        self.drain()
        (fulfillment,) = self.sim.fulfillments_of(7005)
        self.assertEqual(fulfillment["trackingInfo"][0]["number"], "TRK-EARLY")
        self.assertEqual(self.sim.calls["FulfillmentTrackingInfoUpdate"], 0)
        messages = self.messages("fulfillment_export", res_id=picking.id)
        self.assertEqual(len(messages), 2, "the fulfillment and the tracking")
        self.assertEqual(set(messages.mapped("state")), {"sent"})

    def test_tracking_waiting_for_its_fulfillment_holds_no_other_back(self):
        item = self.product("FUL-W")
        stuck = self.shopify_sale(7009, [(item, 1)])
        (fo,) = self.sim._fulfillment_orders_of(7009)
        fo["lineItems"][0]["remainingQuantity"] = 0  # its fulfillment is refused
        stuck_picking = self.ship(stuck.picking_ids, {item: 1}, False)
        self.drain()
        stuck_picking.carrier_tracking_ref = "TRK-W"
        # the next delivery's fulfillment goes in the same batch, after it
        other = self.shopify_sale(7010, [(item, 1)])
        self.ship(other.picking_ids, {item: 1}, "TRK-X")
        self.drain()
        self.assertEqual(len(self.sim.fulfillments_of(7010)), 1)
        waiting = self.messages("fulfillment_export", res_id=stuck_picking.id).filtered(
            lambda m: m.coalesce_key.startswith("tracking:")
        )
        self.assertEqual(waiting.state, "pending")
        self.assertEqual(waiting.attempts, 1)
        self.assertIn("no Shopify fulfillment yet", waiting.last_error)

    def test_tracking_refused_by_shopify_opens_an_exception(self):
        item = self.product("FUL-V")
        sale = self.shopify_sale(7006, [(item, 1)])
        picking = self.ship(sale.picking_ids, {item: 1}, "TRK-6")
        self.drain()
        (fulfillment,) = self.sim.fulfillments_of(7006)
        fulfillment["id"] = "gid://shopify/Fulfillment/0"  # deleted in Shopify
        picking.carrier_tracking_ref = "TRK-7"
        self.drain()
        message = self.messages("fulfillment_export", res_id=picking.id).filtered(
            lambda m: m.state == "failed"
        )
        self.assertEqual(message.exception_ids.category, "platform_rejected")
        self.assertIn(f"new tracking of {picking.name}", message.last_error)
        self.assertIn("Fulfillment not found", message.last_error)

    def test_already_fulfilled_in_shopify_opens_an_exception(self):
        item = self.product("FUL-D")
        sale = self.shopify_sale(7003, [(item, 1)])
        (fo,) = self.sim._fulfillment_orders_of(7003)
        fo["lineItems"][0]["remainingQuantity"] = 0  # fulfilled by hand in Shopify
        picking = self.ship(sale.picking_ids, {item: 1}, "TRK-4")
        self.drain()
        message = self.messages("fulfillment_export", res_id=picking.id)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.exception_ids.category, "platform_rejected")
        self.assertFalse(self.sim.fulfillments_of(7003))

    def test_unbound_sale_orders_post_nothing(self):
        item = self.product("FUL-E")
        self.env["stock.quant"]._update_available_quantity(item, self.stock, 1)
        sale = self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "order_line": [(0, 0, {"product_id": item.id, "product_uom_qty": 1})],
            }
        )
        sale.action_confirm()
        self.ship(sale.picking_ids, {item: 1}, "TRK-5")
        self.assertFalse(self.messages("fulfillment_export"))


class TestOrderRecovery(ShopifyOutboundCase):
    def setUp(self):
        super().setUp()
        self.sim.orders.clear()
        self.sim.fulfillment_orders.clear()

    def order(self, order_id, updated_at):
        return self.sim.add_order(
            {
                "id": order_id,
                "name": f"#{order_id}",
                "email": "jane@example.com",
                "updated_at": updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "total_price": "20.00",
                "line_items": [{"id": order_id * 10, "sku": "REC-1", "quantity": 2}],
            }
        )

    def recovered(self):
        return self.env["dsync.event"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("dedup_key", "=like", "recovery:%"),
            ]
        )

    def test_fast_accept_only_for_order_topics_the_recovery_job_covers(self):
        """Order topics are acknowledged before the disk flush only while
        this job can fetch them again; every change of that is seen at once
        (the route's cache is cleared)."""
        Backend = self.env["dsync.backend"]
        self.assertFalse(Backend._dsync_route_fast_topics(self.backend.id), "opt-in")
        self.backend.fast_accept = True
        topics = Backend._dsync_route_fast_topics(self.backend.id)
        self.assertEqual(
            topics, {"orders/create", "orders/updated", "orders/cancelled"}
        )
        self.assertNotIn("refunds/create", topics, "refunds are not recovered")
        cron = self.env.ref("connector_shopify.ir_cron_shopify_recover_orders")
        cron.active = False
        self.assertFalse(Backend._dsync_route_fast_topics(self.backend.id))
        cron.active = True
        self.assertTrue(Backend._dsync_route_fast_topics(self.backend.id))
        self.env["dsync.secret"].search(
            [("backend_id", "=", self.backend.id), ("key", "=", "api_secret")]
        ).unlink()
        self.assertFalse(
            Backend._dsync_route_fast_topics(self.backend.id),
            "no API token: nothing can be fetched again",
        )
        wms = Backend.create({"name": "WMS fast", "backend_type": "wms"})
        wms.fast_accept = True
        self.assertFalse(Backend._dsync_route_fast_topics(wms.id))

    def test_missed_webhook_is_recovered_once(self):
        updated = fields.Datetime.now().replace(microsecond=0) - timedelta(hours=1)
        self.order(8001, updated)
        events = self.backend._shopify_recover_orders()
        self.assertEqual(events, self.recovered())
        self.assertEqual(len(events), 1)
        self.assertEqual(events.topic, "orders/updated")
        self.assertEqual(events.dedup_key, "recovery:8001:" + updated.isoformat() + "Z")
        self.assertEqual(events.source_timestamp, updated)
        self.assertEqual(events.state, "queued", "a processing job is queued")
        self.assertTrue(events.job_id)
        payload = json.loads(events.payload)
        self.assertEqual(payload["id"], 8001)
        self.assertEqual(payload["line_items"][0]["sku"], "REC-1")
        self.assertEqual(payload["line_items"][0]["quantity"], 2)
        self.assertEqual(self.backend.shopify_orders_cursor, updated)
        # a second run finds the same order again, and creates nothing
        self.assertFalse(self.backend._shopify_recover_orders())
        self.assertEqual(len(self.recovered()), 1)
        # a newer version of the order is a new event
        self.sim.update_order(8001, {"note": "gift"})
        again = self.backend._shopify_recover_orders()
        self.assertEqual(len(again), 1)
        self.assertEqual(json.loads(again.payload)["note"], "gift")
        self.assertGreater(self.backend.shopify_orders_cursor, updated)

    def test_versions_delivered_by_webhook_are_not_fetched_again(self):
        updated = fields.Datetime.now().replace(microsecond=0) - timedelta(minutes=30)
        delivered = self.order(8002, updated)
        self.env["dsync.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "topic": "orders/create",
                "payload": json.dumps(delivered),
                "dedup_key": "webhook-8002",
                "source_timestamp": updated,
            }
        )
        applied = self.order(8003, updated)
        sale = self.env["sale.order"].create(
            {"partner_id": self.env.user.partner_id.id}
        )
        self.env["dsync.binding"]._bind(
            self.backend, sale, str(applied["id"]), updated_at=updated
        )
        self.order(8004, updated)  # never delivered
        events = self.backend._shopify_recover_orders()
        self.assertEqual([json.loads(e.payload)["id"] for e in events], [8004])

    def test_cursor_pages_through_many_orders(self):
        start = fields.Datetime.now().replace(microsecond=0) - timedelta(hours=2)
        for n in range(40):
            self.order(8100 + n, start + timedelta(minutes=n))
        events = self.backend._shopify_recover_orders()
        self.assertEqual(len(events), 40)
        self.assertGreater(self.sim.calls["OrdersUpdatedSince"], 1, "several pages")
        self.assertEqual(
            self.backend.shopify_orders_cursor, start + timedelta(minutes=39)
        )
        self.assertEqual(self.sim.throttled, 0)


class TestConnection(ShopifyOutboundCase):
    def test_connection_report_names_shop_locations_and_missing_scopes(self):
        self.sim.add_location("Pop-up store")
        self.sim.scopes.remove("write_inventory")
        self.addCleanup(self.sim.scopes.append, "write_inventory")
        result = self.backend.action_shopify_test_connection()
        params = result["params"]
        self.assertEqual(params["type"], "warning")
        self.assertIn("Demo Store", params["title"])
        self.assertIn("Main warehouse: published from", params["message"])
        self.assertIn("Pop-up store: not mapped", params["message"])
        self.assertIn("write_inventory", params["message"])
        self.assertNotIn("read_orders", params["message"])
        new_map = self.backend.shopify_location_map_ids.filtered(
            lambda m: m.external_label == "Pop-up store"
        )
        self.assertTrue(new_map, "listed, ready to be mapped")
        self.assertFalse(new_map.target_ref)
        self.assertIn("Demo Store", self.backend.message_ids[0].body)

    def test_connection_failure_is_reported_in_plain_words(self):
        self.backend._dsync_set_secret("api_secret", "shpat_wrong")
        result = self.backend.action_shopify_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("refused the access token", result["params"]["message"])
