"""End to end, over real HTTP: a Shopify order webhook becomes a sale order,
its delivery is released to the warehouse simulator, the warehouse's signed
events come back through Odoo's route, validate the delivery, and the
Shopify connector's fulfillments reach the Shopify simulator with the
warehouse's tracking numbers."""

from datetime import timedelta

from odoo import Command, fields
from odoo.tests import HttpCase

from odoo.addons.connector_shopify.tests.order_common import (
    SECRET as SHOPIFY_SECRET,
)
from odoo.addons.connector_shopify.tests.order_common import (
    ShopifyOrderFixtures,
)
from odoo.addons.distribution_sync_core.intake import rate_limiter
from odoo.addons.distribution_sync_core.tests.common import run_jobs, time_passes

from tests.simulators.shopify import DEFAULT_TOKEN, ShopifySimulator
from tests.simulators.shopify_orders import make_order
from tests.simulators.wms import DEFAULT_API_KEY, WmsSimulator

WMS_SECRET = "e2e-wms-secret"


class TestWmsEndToEnd(ShopifyOrderFixtures, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shopify = ShopifySimulator().start()
        cls.addClassCleanup(cls.shopify.stop)
        cls.wms = WmsSimulator(sites=("WH",)).start()
        cls.addClassCleanup(cls.wms.stop)
        cls.warehouse = cls.env.ref("stock.warehouse0")
        cls.location_gid = cls.shopify.add_location("Main warehouse")
        cls.backend.api_url = cls.shopify.url
        cls.backend._dsync_set_secret("api_secret", DEFAULT_TOKEN)
        cls.env["dsync.value.map"].create(
            {
                "backend_id": cls.backend.id,
                "map_type": "location",
                "external_code": cls.location_gid,
                "target_ref": f"stock.warehouse,{cls.warehouse.id}",
            }
        )
        cls.wms_backend = cls.env["dsync.backend"].create(
            {
                "name": "e2e 3PL",
                "backend_type": "wms",
                "api_url": cls.wms.url,
                "inbound_rate_limit": 0,
                "wms_warehouse_ids": [Command.set(cls.warehouse.ids)],
                "wms_picking_type_ids": [
                    Command.set(
                        (cls.warehouse.out_type_id | cls.warehouse.in_type_id).ids
                    )
                ],
                "wms_stock_owner": "wms",
            }
        )
        cls.wms_backend._dsync_set_secret("api_secret", DEFAULT_API_KEY)
        cls.wms_backend._dsync_set_secret("webhook_secret", WMS_SECRET)
        for product in (cls.product_a, cls.product_b, cls.product_c):
            product.is_storable = True

    def setUp(self):
        super().setUp()
        rate_limiter.reset()
        self.wms.reset()
        self.wms.target(
            self.base_url(), self.wms_backend.token, WMS_SECRET, session=self.opener
        )

    def tearDown(self):
        self.assertEqual(self.wms.contract_violations, [])
        super().tearDown()

    def shopify_order(self, order_id, lines):
        doc = make_order(order_id, f"#{order_id}", lines)
        target = f"{self.base_url()}/dsync/shopify/{self.backend.token}/webhook"
        (response,) = self.shopify.send_order_event(
            "orders/create",
            doc,
            target_url=target,
            secret=SHOPIFY_SECRET,
            session=self.opener,
        )
        self.assertEqual(response.status_code, 202)
        run_jobs(self.env, ignore_eta=False)  # retries wait for their time
        sale = self.sale_orders(f"#{order_id}")
        self.assertEqual(sale.state, "sale")
        return sale

    def delivery_of(self, sale):
        picking = sale.picking_ids.filtered(lambda p: p.state not in ("done", "cancel"))
        self.assertEqual(len(picking), 1)
        return picking

    def events(self):
        return self.env["dsync.event"].search(
            [("backend_id", "=", self.wms_backend.id)], order="id"
        )

    def test_order_released_shipped_in_two_parts_fulfilled_twice(self):
        sale = self.shopify_order(9101, [("SKU-A", 3, "10.00"), ("SKU-B", 1, "20.00")])
        picking = self.delivery_of(sale)
        reference = picking.name
        self.assertEqual(picking.wms_state, "released", "released once confirmed")
        order = self.wms.orders[reference]["document"]
        self.assertEqual(order["order_ref"], "#9101")
        self.assertEqual(
            sorted((line["sku"], line["quantity"]) for line in order["lines"]),
            [("SKU-A", 3.0), ("SKU-B", 1.0)],
        )
        first = self.wms.shipment(
            reference,
            lines=[{"sku": "SKU-A", "quantity": 2, "package_ref": "BOX-1"}],
        )
        self.assertEqual(self.wms.send(first), [202])
        run_jobs(self.env)
        self.assertEqual(picking.state, "done")
        (partial,) = self.shopify.fulfillments_of(9101)
        tracking_1 = first["data"]["packages"][0]["tracking_number"]
        self.assertEqual(partial["trackingInfo"][0]["number"], tracking_1)
        self.assertEqual(
            [(li["sku"], li["quantity"]) for li in partial["lineItems"]], [("SKU-A", 2)]
        )
        second = self.wms.shipment(reference)  # the rest, in one package
        self.assertEqual(self.wms.send(second), [202])
        run_jobs(self.env)
        self.assertEqual(set(sale.picking_ids.mapped("state")), {"done"})
        partial, final = self.shopify.fulfillments_of(9101)
        self.assertEqual(
            final["trackingInfo"][0]["number"],
            second["data"]["packages"][0]["tracking_number"],
        )
        self.assertEqual(
            sorted((li["sku"], li["quantity"]) for li in final["lineItems"]),
            [("SKU-A", 1), ("SKU-B", 1)],
        )
        self.assertEqual(self.shopify.orders[9101]["fulfillment_status"], "fulfilled")
        self.assertEqual(self.events().mapped("state"), ["done", "done"])
        # the warehouse's *shipped* milestones reach Shopify as fulfillment events
        run_jobs(self.env)
        self.assertEqual(
            [[e["status"] for e in f.get("events", [])] for f in (partial, final)],
            [["CARRIER_PICKED_UP"], ["CARRIER_PICKED_UP"]],
        )

    def test_reversed_and_duplicated_events_then_a_gap_that_never_fills(self):
        sale = self.shopify_order(9102, [("SKU-A", 4, "10.00")])
        reference = self.delivery_of(sale).name
        hold = self.wms.on_hold(reference, "address_check")
        part = self.wms.shipment(reference, lines=[{"sku": "SKU-A", "quantity": 1}])
        rest = self.wms.shipment(reference)
        statuses = self.wms.deliver([hold, part, rest], order="reverse", duplicate=True)
        self.assertEqual(statuses, [202, 200] * 3)
        run_jobs(self.env)
        events = self.events()
        self.assertEqual(events.mapped("sequence"), [3, 2, 1])
        self.assertEqual(events.mapped("state"), ["done"] * 3)
        self.assertEqual(set(sale.picking_ids.mapped("state")), {"done"})
        self.assertEqual(len(self.shopify.fulfillments_of(9102)), 2)
        # another order: its second event arrives, its first never does
        other = self.delivery_of(self.shopify_order(9103, [("SKU-B", 2, "20.00")]))
        self.wms.on_hold(other.name, "address_check")  # sequence 1, never sent
        late = self.wms.shipment(other.name)
        self.assertEqual(self.wms.send(late), [202])
        run_jobs(self.env)
        event = self.events()[-1]
        self.assertEqual((event.state, event.waiting_for), ("waiting", 1))
        self.assertNotEqual(other.state, "done")
        event.sudo().waiting_since = fields.Datetime.now() - timedelta(hours=1)
        self.env["dsync.backend"]._cron_dsync_dispatch_received()
        self.assertEqual(event.state, "failed")
        exception = event.exception_ids
        self.assertEqual(
            (exception.category, exception.team), ("missing_event", "operations")
        )
        self.assertIn(other.name, exception.message)
        exception.action_apply_without_waiting()
        run_jobs(self.env)
        self.assertEqual(event.state, "done")
        self.assertEqual(other.state, "done")

    def test_outage_during_release_loses_nothing_and_keeps_the_order(self):
        self.wms.set_outage(503)
        sales = [
            self.shopify_order(9110 + n, [("SKU-A", n + 1, "10.00")]) for n in range(3)
        ]
        references = [self.delivery_of(sale).name for sale in sales]
        self.assertFalse(self.wms.orders)
        pending = self.env["dsync.outbox"].search(
            [("backend_id", "=", self.wms_backend.id), ("state", "=", "pending")]
        )
        self.assertTrue(pending)
        self.wms.clear_outage()
        time_passes(self.env)
        run_jobs(self.env, ignore_eta=False)
        self.assertEqual(list(self.wms.orders), references, "in their order")
        for sale in sales:
            self.assertEqual(self.delivery_of(sale).wms_state, "released")

    def test_short_picks_with_each_policy(self):
        for policy, sale_id in (("backorder", 9120), ("cancel", 9121)):
            self.wms_backend.wms_short_policy = policy
            sale = self.shopify_order(sale_id, [("SKU-A", 5, "10.00")])
            picking = self.delivery_of(sale)
            short = self.wms.short(picking.name, [("SKU-A", 2)])
            ship = self.wms.shipment(
                picking.name, lines=[{"sku": "SKU-A", "quantity": 3}]
            )
            self.assertEqual(self.wms.send(short, ship), [202, 202])
            run_jobs(self.env)
            self.assertEqual(picking.state, "done")
            open_rest = sale.picking_ids.filtered(
                lambda p: p.state not in ("done", "cancel")
            )
            if policy == "backorder":
                self.assertEqual(open_rest.move_ids.product_uom_qty, 2, policy)
            else:
                self.assertFalse(open_rest, policy)
            follow_up = self.events()[-2].exception_ids
            self.assertEqual(
                (follow_up.category, follow_up.team),
                ("short_shipped", "customer_service"),
            )
            self.assertIn(f"#{sale_id}", follow_up.message)
            (fulfillment,) = self.shopify.fulfillments_of(sale_id)
            self.assertEqual(fulfillment["lineItems"][0]["quantity"], 3)

    def test_lots_serials_and_packages(self):
        self.product_b.tracking = "lot"
        self.product_c.tracking = "serial"
        Lot = self.env["stock.lot"]
        Lot.create({"name": "B-2026-11", "product_id": self.product_b.id})
        Lot.create(
            [{"name": f"C-SN-{n}", "product_id": self.product_c.id} for n in (1, 2)]
        )
        sale = self.shopify_order(9130, [("SKU-B", 2, "20.00"), ("SKU-C", 2, "30.00")])
        picking = self.delivery_of(sale)
        self.assertEqual(
            {p["sku"]: p["tracking"] for p in self.wms.products.values()},
            {"SKU-B": "lot", "SKU-C": "serial"},
        )
        ship = self.wms.shipment(
            picking.name,
            lines=[
                {
                    "sku": "SKU-B",
                    "quantity": 2,
                    "package_ref": "CARTON-1",
                    "lots": [{"lot": "B-2026-11", "quantity": 2}],
                },
                {
                    "sku": "SKU-C",
                    "quantity": 2,
                    "package_ref": "CARTON-2",
                    "serials": ["C-SN-1", "C-SN-2"],
                },
            ],
        )
        self.assertEqual(self.wms.send(ship), [202])
        run_jobs(self.env)
        self.assertEqual(picking.state, "done")
        self.assertEqual(
            sorted(
                (ml.lot_id.name, ml.result_package_id.name)
                for ml in picking.move_line_ids
            ),
            [("B-2026-11", "CARTON-1"), ("C-SN-1", "CARTON-2"), ("C-SN-2", "CARTON-2")],
        )
        numbers = [p["tracking_number"] for p in ship["data"]["packages"]]
        self.assertEqual(picking.carrier_tracking_ref.split(","), numbers)
        (fulfillment,) = self.shopify.fulfillments_of(9130)
        self.assertEqual([t["number"] for t in fulfillment["trackingInfo"]], numbers)

    def test_receipt_with_a_lot_and_a_damaged_return(self):
        self.product_b.tracking = "lot"
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.in_type_id.id,
                "partner_id": self.env.ref("base.res_partner_1").id,
                "move_ids": [
                    Command.create(
                        {
                            "name": "B",
                            "product_id": self.product_b.id,
                            "product_uom_qty": 6,
                            "product_uom": self.product_b.uom_id.id,
                            "location_id": self.env.ref(
                                "stock.stock_location_suppliers"
                            ).id,
                            "location_dest_id": self.warehouse.lot_stock_id.id,
                        }
                    )
                ],
            }
        )
        receipt.action_confirm()
        run_jobs(self.env)
        self.assertIn(receipt.name, self.wms.inbounds, "announced as an ASN")
        arrival = self.wms.receipt(
            receipt.name,
            lines=[
                {
                    "sku": "SKU-B",
                    "quantity": 6,
                    "lots": [{"lot": "B-IN-1", "quantity": 6}],
                }
            ],
        )
        self.assertEqual(self.wms.send(arrival), [202])
        run_jobs(self.env)
        self.assertEqual(receipt.state, "done")
        self.assertEqual(receipt.move_line_ids.lot_id.name, "B-IN-1")
        sale = self.shopify_order(9140, [("SKU-B", 2, "20.00")])
        picking = self.delivery_of(sale)
        self.wms.send(
            self.wms.shipment(
                picking.name,
                lines=[
                    {
                        "sku": "SKU-B",
                        "quantity": 2,
                        "lots": [{"lot": "B-IN-1", "quantity": 2}],
                    }
                ],
            )
        )
        run_jobs(self.env)
        returned = self.wms.return_received(
            picking.name,
            [{"sku": "SKU-B", "quantity": 1, "condition": "damaged", "lot": "B-IN-1"}],
        )
        self.assertEqual(self.wms.send(returned), [202])
        run_jobs(self.env)
        event = self.events()[-1]
        self.assertEqual(event.state, "done", event.last_error)
        back = self.env["stock.picking"].browse(event.res_id)
        self.assertEqual(back.return_id, picking)
        scrap = self.env["stock.scrap"].search([("picking_id", "=", back.id)])
        self.assertEqual((scrap.lot_id.name, scrap.state), ("B-IN-1", "done"))
        stock = self.warehouse.lot_stock_id
        self.assertEqual(
            self.product_b.with_context(location=stock.id).qty_available, 4
        )

    def test_snapshot_of_a_few_thousand_skus_in_pages(self):
        count = 2500
        products = self.env["product.product"].create(
            [
                {
                    "name": f"Bulk {n}",
                    "default_code": f"BULK-{n:05d}",
                    "is_storable": True,
                    "standard_price": 2.0,
                }
                for n in range(count)
            ]
        )
        stock = self.warehouse.lot_stock_id
        self.env.flush_all()
        self.env.cr.execute_values(
            """INSERT INTO stock_quant
                   (product_id, location_id, company_id, quantity,
                    reserved_quantity, in_date, create_date, write_date)
               VALUES %s""",
            [(p.id, stock.id, stock.company_id.id, 10.0, 0.0) for p in products],
            template="(%s, %s, %s, %s, %s, now(), now(), now())",
            page_size=1000,
        )
        self.env.invalidate_all()
        quantities = {p.default_code: 10 for p in products}
        drifted_small = [f"BULK-{n:05d}" for n in range(0, count, 250)]  # 10 SKUs
        drifted_big = [f"BULK-{n:05d}" for n in range(125, count, 500)]  # 5 SKUs
        for sku in drifted_small:
            quantities[sku] = 11
        for sku in drifted_big:
            quantities[sku] = 40
        self.wms.set_stock(quantities)
        self.wms_backend.write({"wms_tolerance_qty": 2, "wms_tolerance_value": 10})
        pages = self.wms.snapshot_events(page_size=500)
        self.assertEqual(len(pages), 5)
        self.assertEqual(self.wms.deliver(pages, order="shuffle"), [202] * 5)
        run_jobs(self.env)
        runs = self.env["dsync.reconciliation.run"].search(
            [("backend_id", "=", self.wms_backend.id)]
        )
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs.item_count, count)
        lines = runs.line_ids.filtered(lambda line: line.sku.startswith("BULK-"))
        self.assertEqual(
            sorted(lines.filtered(lambda line: line.state == "repaired").mapped("sku")),
            sorted(drifted_small),
        )
        self.assertEqual(
            sorted(
                lines.filtered(lambda line: line.state == "to_approve").mapped("sku")
            ),
            sorted(drifted_big),
        )
        by_sku = {p.default_code: p for p in products}
        self.assertEqual(
            by_sku[drifted_small[0]].with_context(location=stock.id).qty_available, 11
        )
        self.assertEqual(
            by_sku[drifted_big[0]].with_context(location=stock.id).qty_available, 10
        )
