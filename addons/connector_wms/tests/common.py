# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Fixtures of the WMS tests: a WMS backend running the main warehouse,
talking to the simulator (a real HTTP server), products plain, by lot and
by serial number, and helpers to make deliveries and receipts, release
them, and feed the warehouse's events through the inbox."""

from odoo import Command
from odoo.tests import TransactionCase

from odoo.addons.distribution_sync_core.tests.common import run_jobs, time_passes

from tests.simulators.wms import DEFAULT_API_KEY, WmsSimulator, contract


class WmsFixtures:
    """Mix into a TransactionCase or an HttpCase (before it)."""

    short_policy = "backorder"
    stock_owner = "wms"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.sim = WmsSimulator(sites=("WMT",)).start()
        cls.addClassCleanup(cls.sim.stop)
        # a warehouse of its own: no demo stock in the comparisons
        cls.warehouse = cls.env["stock.warehouse"].create(
            {"name": "3PL test warehouse", "code": "WMT"}
        )
        cls.stock = cls.warehouse.lot_stock_id
        cls.customers = cls.env.ref("stock.stock_location_customers")
        cls.suppliers = cls.env.ref("stock.stock_location_suppliers")
        cls.backend = cls.env["dsync.backend"].create(
            {
                "name": "WMS test",
                "backend_type": "wms",
                "api_url": cls.sim.url,
                "inbound_rate_limit": 0,
                "wms_warehouse_ids": [Command.set(cls.warehouse.ids)],
                "wms_short_policy": cls.short_policy,
                "wms_stock_owner": cls.stock_owner,
            }
        )
        cls.backend._dsync_set_secret("api_secret", DEFAULT_API_KEY)
        cls.backend._dsync_set_secret("webhook_secret", "wms-test-secret")
        Product = cls.env["product.product"]
        cls.sku_a = Product.create(
            {
                "name": "Anvil",
                "default_code": "WA-1",
                "is_storable": True,
                "weight": 2.0,
            }
        )
        cls.sku_b = Product.create(
            {"name": "Bolt", "default_code": "WB-1", "is_storable": True}
        )
        cls.lotted = Product.create(
            {
                "name": "Lotted glue",
                "default_code": "WL-1",
                "is_storable": True,
                "tracking": "lot",
            }
        )
        cls.serial = Product.create(
            {
                "name": "Serial drill",
                "default_code": "WS-1",
                "is_storable": True,
                "tracking": "serial",
            }
        )
        cls.partner = cls.env["res.partner"].create(
            {
                "name": "Jane Customer",
                "street": "1 Main St",
                "city": "Montreal",
                "zip": "H2X 1Y4",
                "country_id": cls.env.ref("base.ca").id,
                "email": "jane@example.com",
            }
        )

    def setUp(self):
        super().setUp()
        self.sim.reset()

    def tearDown(self):
        self.assertEqual(
            self.sim.contract_violations, [], "Odoo sent what the contract forbids"
        )
        super().tearDown()

    # ------------------------------------------------------------------
    # Odoo's side
    # ------------------------------------------------------------------
    def picking(self, picking_type, source, dest, lines, partner, confirm, **vals):
        """A transfer of ``lines`` [(product, quantity)]."""
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": picking_type.id,
                "location_id": source.id,
                "location_dest_id": dest.id,
                "partner_id": partner.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": quantity,
                            "product_uom": product.uom_id.id,
                            "location_id": source.id,
                            "location_dest_id": dest.id,
                        }
                    )
                    for product, quantity in lines
                ],
                **vals,
            }
        )
        if confirm:
            picking.action_confirm()
        return picking

    def delivery(self, lines, partner=None, confirm=True, **vals):
        """A delivery of ``lines`` [(product, quantity)] from the stock."""
        return self.picking(
            self.warehouse.out_type_id,
            self.stock,
            self.customers,
            lines,
            partner or self.partner,
            confirm,
            **vals,
        )

    def receipt(self, lines, confirm=True):
        return self.picking(
            self.warehouse.in_type_id,
            self.suppliers,
            self.stock,
            lines,
            self.partner,
            confirm,
        )

    def count_stock(self, product, quantity, lot=None):
        quant = (
            self.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": self.stock.id,
                    "inventory_quantity": quantity,
                    "lot_id": lot.id if lot else False,
                }
            )
        )
        quant.action_apply_inventory()

    def on_hand(self, product):
        return product.with_context(location=self.stock.id).qty_available

    def messages(self, **domain):
        return self.env["dsync.outbox"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id",
        )

    def drain(self):
        """Run every job (the outbox's drains included)."""
        return run_jobs(self.env, ignore_eta=False)

    def time_passes(self):
        """Make every scheduled retry and delayed job due now."""
        time_passes(self.env)

    def release(self, *pickings):
        """Release (by the policy's hook, already done at confirmation) and
        send everything to the simulator."""
        self.drain()
        for picking in pickings:
            picking.invalidate_recordset()
            self.assertEqual(picking.wms_state, "released", picking.name)
        return pickings

    # ------------------------------------------------------------------
    # the warehouse's side
    # ------------------------------------------------------------------
    def feed(self, *docs):
        """Store the warehouse's events as the webhook route does (sequence
        keys included), then run the jobs; returns the events in order."""
        for doc in docs:
            contract.check_event(doc)
        events = self.backend._wms_insert_events(list(docs), source="test")
        run_jobs(self.env)
        events.invalidate_recordset()
        by_id = {event.dedup_key: event for event in events}
        return self.env["dsync.event"].concat(*(by_id[doc["id"]] for doc in docs))

    def assert_done(self, *events):
        for event in events:
            self.assertEqual(event.state, "done", event.last_error)

    def follow_ups(self, event, category=None):
        return event.exception_ids.filtered(
            lambda e: e.follow_up and (not category or e.category == category)
        )


class WmsCase(WmsFixtures, TransactionCase):
    pass
