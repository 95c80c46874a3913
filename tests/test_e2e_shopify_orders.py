"""End to end: Shopify order webhooks, signed by the sender, through the real
route, the inbox, the dispatcher and the job queue, to sale orders."""

from odoo.tests import HttpCase

from odoo.addons.connector_shopify.tests.order_common import (
    SECRET,
    ShopifyOrderFixtures,
)
from odoo.addons.distribution_sync_core.intake import rate_limiter
from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.shopify_orders import make_order, make_transaction, updated
from tests.simulators.webhook_sender import ShopifySender

T1 = "2026-11-21T10:00:00Z"
T2 = "2026-11-21T10:05:00Z"
T3 = "2026-11-21T10:10:00Z"


class TestShopifyOrdersEndToEnd(ShopifyOrderFixtures, HttpCase):
    def setUp(self):
        super().setUp()
        rate_limiter.reset()
        self.sender = ShopifySender(
            self.base_url(), self.backend.token, SECRET, session=self.opener
        )

    def events(self):
        return self.env["dsync.event"].search(
            [("backend_id", "=", self.backend.id)], order="id"
        )

    def test_order_webhook_to_confirmed_sale_order(self):
        doc = make_order(
            7001,
            "#2001",
            [("SKU-A", 2, "24.99", "3.00"), ("SKU-B", 1, "80.00")],
            order_discount=("WELCOME", "percentage", 15),
            updated_at=T1,
        )
        response = self.sender.deliver(doc, "orders/create")
        self.assertEqual(response.status_code, 202)
        run_jobs(self.env)
        sale = self.sale_orders("#2001")
        self.assertEqual(sale.state, "sale")
        self.assert_totals(sale, doc)
        event = self.events()
        self.assertEqual((event.state, event.res_id), ("done", sale.id))
        self.assertEqual(event.headers["X-Shopify-Topic"], "orders/create")

    def test_duplicate_and_reordered_deliveries_give_one_order_in_latest_state(self):
        v1 = make_order(7002, "#2002", [("SKU-A", 1, "10.00")], updated_at=T1)
        v2 = make_order(7002, "#2002", [("SKU-A", 4, "10.00")], updated_at=T2)
        v3 = make_order(
            7002, "#2002", [("SKU-A", 4, "10.00"), ("SKU-C", 2, "3.50")], updated_at=T3
        )
        # the newest first, a redelivery of it, then the older ones
        first, again = self.sender.deliver_twice(v3, "orders/updated")
        self.assertEqual((first.status_code, again.status_code), (202, 200))
        self.assertEqual(self.sender.deliver(v1, "orders/create").status_code, 202)
        self.assertEqual(self.sender.deliver(v2, "orders/updated").status_code, 202)
        # the same content again under a new delivery id (Shopify's retry
        # after a lost answer)
        self.assertEqual(self.sender.deliver(v3, "orders/updated").status_code, 202)
        run_jobs(self.env)
        self.assertEqual(
            self.events().mapped("state"), ["done", "stale", "stale", "duplicate"]
        )
        sale = self.sale_orders("#2002")
        self.assertEqual(len(sale), 1)
        self.assertEqual(
            sorted(self.product_lines(sale).mapped("product_uom_qty")), [2.0, 4.0]
        )
        self.assert_totals(sale, v3)
        self.assertEqual(len(sale.picking_ids), 1)

    def test_unknown_sku_exception_fix_retry(self):
        doc = make_order(7003, "#2003", [("SKU-LATE", 1, "42.00")], updated_at=T1)
        self.assertEqual(self.sender.deliver(doc, "orders/create").status_code, 202)
        run_jobs(self.env)
        exception = self.events().exception_ids
        self.assertEqual(
            (exception.category, exception.team, exception.kind_key),
            ("unknown_product", "warehouse", "sku:SKU-LATE"),
        )
        self.env["product.product"].create({"name": "Late", "default_code": "SKU-LATE"})
        exception.action_retry()
        run_jobs(self.env)
        self.assertEqual(self.sale_orders("#2003").state, "sale")
        self.assertEqual(exception.state, "resolved")

    def test_cancellation_webhook(self):
        doc = make_order(7004, "#2004", [("SKU-B", 1, "15.00")], updated_at=T1)
        self.sender.deliver(doc, "orders/create")
        self.sender.deliver(updated(doc, T2, cancelled_at=T2), "orders/cancelled")
        run_jobs(self.env)
        self.assertEqual(self.sale_orders("#2004").state, "cancel")

    def test_b2b_order_with_special_lines_then_updates_before_and_after_shipping(
        self,
    ):
        """A B2B order with a custom item, a gift card, a tip, a shipping
        discount, a note and tags through the real route; an address and
        note change before shipping reaches the delivery; after shipping,
        a new address is a conflict for customer service."""
        products = self.env["product.product"].create(
            [
                {"name": "Custom charge", "type": "service"},
                {"name": "Gift card", "type": "service"},
                {"name": "Tip", "type": "service"},
            ]
        )
        self.backend.write(
            {
                "shopify_custom_item_product_id": products[0].id,
                "shopify_gift_card_product_id": products[1].id,
                "shopify_tip_product_id": products[2].id,
            }
        )
        company = {"id": 4400002, "name": "Northwind Traders"}
        lines = [
            ("SKU-A", 4, "12.50", "2.00"),
            {"kind": "custom", "title": "Pallet handling", "price": "15.00"},
            {"kind": "gift_card", "title": "Gift Card", "price": "50.00"},
        ]
        common = {
            "company": company,
            "po_number": "NW-2024-118",
            "payment_terms": ("Net 15", "NET", 15),
            "financial_status": "pending",
            "shipping_discount": ("FREESHIP", "percentage", 100),
            "tip": "4.00",
            "tags": "Wholesale",
        }
        v1 = make_order(
            7005, "#2005", lines, note="Dock 4, 8am-4pm", updated_at=T1, **common
        )
        self.assertEqual(self.sender.deliver(v1, "orders/create").status_code, 202)
        run_jobs(self.env)
        sale = self.sale_orders("#2005")
        self.assertEqual(sale.state, "sale", self.events().mapped("last_error"))
        self.assert_totals(sale, v1)
        self.assertEqual(sale.client_order_ref, "NW-2024-118")
        self.assertEqual(
            sale.partner_id.commercial_partner_id.name, "Northwind Traders"
        )
        self.assertEqual(sale.tag_ids.mapped("name"), ["Wholesale"])
        picking = sale.picking_ids
        self.assertEqual(picking.move_ids.product_id, self.product_a)
        self.assertIn("Dock 4, 8am-4pm", picking.note)
        # before shipping: new address and note reach the delivery
        moved = {"address1": "9 Quay Street", "city": "Quebec", "zip": "G1K 4E4"}
        v2 = make_order(
            7005,
            "#2005",
            lines,
            note="Dock 6",
            shipping_address=moved,
            updated_at=T2,
            **common,
        )
        self.assertEqual(self.sender.deliver(v2, "orders/updated").status_code, 202)
        run_jobs(self.env)
        self.assertEqual(self.events()[-1].state, "done", self.events()[-1].last_error)
        self.assertEqual(picking.partner_id.street, "9 Quay Street")
        self.assertEqual(picking.partner_id, sale.partner_shipping_id)
        self.assertIn("Dock 6", picking.note)
        self.assertNotIn("Dock 4", picking.note)
        self.assertFalse(
            self.env["mail.activity"].search(
                [("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)]
            )
        )
        # after shipping: a new address is a conflict, nothing changes
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        v3 = make_order(
            7005,
            "#2005",
            lines,
            note="Dock 6",
            shipping_address={"address1": "1 Elsewhere Road"},
            updated_at=T3,
            **common,
        )
        self.assertEqual(self.sender.deliver(v3, "orders/updated").status_code, 202)
        run_jobs(self.env)
        event = self.events()[-1]
        self.assertEqual(event.state, "failed")
        self.assertEqual(
            (event.exception_ids.category, event.exception_ids.team),
            ("conflict", "customer_service"),
        )
        self.assertEqual(sale.partner_shipping_id.street, "9 Quay Street")

    def test_order_paid_with_a_gift_card(self):
        """A gift card is a payment: the order keeps Shopify's total, and the
        transactions webhook tells what the gift card paid."""
        doc = make_order(
            7006,
            "#2006",
            [("SKU-B", 3, "20.00")],
            payment_gateway_names=["gift_card", "shopify_payments"],
            updated_at=T1,
        )
        deliveries = [
            (doc, "orders/create"),
            (make_transaction(71, doc, "25.00", gateway="gift_card"), None),
            (make_transaction(72, doc, "48.50"), None),
        ]
        for payload, topic in deliveries:
            response = self.sender.deliver(
                payload, topic or "order_transactions/create"
            )
            self.assertEqual(response.status_code, 202)
        run_jobs(self.env)
        self.assertEqual(set(self.events().mapped("state")), {"done"})
        sale = self.sale_orders("#2006")
        self.assert_totals(sale, doc)
        self.assertEqual(sale.amount_total, 73.5)
        self.assertEqual(sale.shopify_gift_card_amount, 25.0)
        self.assertEqual(len(sale.shopify_transaction_ids), 2)
