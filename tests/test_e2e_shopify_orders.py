"""End to end: Shopify order webhooks, signed by the sender, through the real
route, the inbox, the dispatcher and the job queue, to sale orders."""

from odoo.tests import HttpCase

from odoo.addons.connector_shopify.tests.order_common import (
    SECRET,
    ShopifyOrderFixtures,
)
from odoo.addons.distribution_sync_core.intake import rate_limiter
from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.shopify_orders import make_order, updated
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
