# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An unknown product fixed from its exception, for any connector: created
from what the platform sent, or its SKU linked to an existing product; and a
picking's business context and links to its events."""

import json
import uuid

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user

from odoo.addons.distribution_sync_core.errors import BusinessError


class TestProductFix(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["dsync.backend"].create(
            {"name": "Warehouse system", "backend_type": "generic"}
        )
        cls.event = cls.env["dsync.event"].create(
            {
                "backend_id": cls.backend.id,
                "company_id": cls.backend.company_id.id,
                "topic": "order",
                "payload": json.dumps({"id": 1}),
                "dedup_key": uuid.uuid4().hex,
                "state": "failed",
            }
        )
        cls.exception = cls.env["dsync.exception"]._dsync_open(
            BusinessError(
                "unknown_product",
                "Unknown SKUs W-1, W-2",
                kind_key="sku:W-1",
                context={"skus": ["W-1", "W-2"]},
                fix={
                    "products": [
                        {"sku": "W-1", "name": "Widget", "price": "3.20"},
                        {"sku": "W-2", "name": "Gadget", "price": "7"},
                    ]
                },
            ),
            event=cls.event,
        )

    def wizard(self, mode, user=None):
        exception = self.exception.with_user(user) if user else self.exception
        action = exception.with_context(dsync_fix_mode=mode).action_fix_product()
        return (
            self.env["dsync.product.fix"]
            .with_user(user or self.env.user)
            .browse(action["res_id"])
        )

    def test_create_from_what_the_platform_sent(self):
        wizard = self.wizard("create")
        self.assertEqual(wizard.line_ids.mapped("sku"), ["W-1", "W-2"])
        self.assertEqual(wizard.line_ids.mapped("price"), [3.2, 7.0])
        wizard.line_ids[1].name = "Gadget XL"
        wizard.action_apply()
        products = self.env["product.product"].search(
            [("default_code", "in", ["W-1", "W-2"])], order="default_code"
        )
        self.assertEqual(products.mapped("name"), ["Widget", "Gadget XL"])
        self.assertTrue(all(products.mapped("is_storable")))
        self.assertIn("W-1 → ", self.exception.message_ids[0].body)
        # a second time: the products exist, link them instead
        with self.assertRaises(UserError):
            self.wizard("create").action_apply()

    def test_link_to_existing_products(self):
        widget = self.env["product.product"].create({"name": "Old widget"})
        wizard = self.wizard("link")
        with self.assertRaises(UserError):
            wizard.action_apply()  # each SKU needs its product
        wizard.line_ids.product_id = widget
        wizard.action_apply()
        Map = self.env["dsync.value.map"]
        self.assertEqual(
            Map._dsync_products_by_sku(self.backend, ["W-1", "W-2", "W-3"]),
            {"W-1": widget, "W-2": widget},
        )
        # linking again moves the link
        other = self.env["product.product"].create({"name": "New widget"})
        wizard = self.wizard("link")
        wizard.line_ids.product_id = other
        wizard.action_apply()
        self.assertEqual(
            Map._dsync_products_by_sku(self.backend, ["W-1"]), {"W-1": other}
        )
        self.assertEqual(
            Map.search_count(
                [("backend_id", "=", self.backend.id), ("map_type", "=", "sku")]
            ),
            2,
        )

    def test_a_clerk_without_product_rights_may_only_link(self):
        clerk = new_test_user(
            self.env, login="clerk", groups="distribution_sync_core.group_dsync_user"
        )
        wizard = self.wizard("create", user=clerk)
        self.assertFalse(wizard.can_create)
        with self.assertRaises(UserError):
            wizard.action_apply()
        widget = self.env["product.product"].create({"name": "Widget"})
        wizard = self.wizard("link", user=clerk)
        wizard.line_ids.product_id = widget
        wizard.action_apply()  # a SKU map, on the clerk's behalf
        self.assertEqual(
            self.env["dsync.value.map"]._dsync_products_by_sku(self.backend, ["W-2"]),
            {"W-2": widget},
        )


class TestPickingContext(TransactionCase):
    def test_picking_context_and_its_events(self):
        partner = self.env["res.partner"].create({"name": "Ada Lovelace"})
        product = self.env["product.product"].create(
            {"name": "Widget", "default_code": "W-1", "is_storable": True}
        )
        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )
        picking = self.env["stock.picking"].create(
            {
                "partner_id": partner.id,
                "picking_type_id": warehouse.out_type_id.id,
                "origin": "S00042",
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Widget",
                            "product_id": product.id,
                            "product_uom_qty": 1,
                            "location_id": warehouse.lot_stock_id.id,
                            "location_dest_id": self.env.ref(
                                "stock.stock_location_customers"
                            ).id,
                        },
                    )
                ],
            }
        )
        context = picking._dsync_record_context()
        self.assertEqual(context["ref"], "S00042")
        self.assertEqual(context["partner"], partner)
        self.assertEqual(context["skus"], ["W-1"])
        backend = self.env["dsync.backend"].create({"name": "3PL"})
        event = self.env["dsync.event"].create(
            {
                "backend_id": backend.id,
                "company_id": backend.company_id.id,
                "topic": "shipment.confirmed",
                "dedup_key": uuid.uuid4().hex,
                "res_model": "stock.picking",
                "res_id": picking.id,
            }
        )
        self.assertEqual(picking.dsync_event_count, 1)
        self.assertEqual(
            self.env["dsync.event"].search(picking.action_dsync_events()["domain"]),
            event,
        )
