# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The walks of the people who use the exception queue, in a real browser
(headless Chromium): a warehouse clerk fixes an unknown product from its
exception and lands on the sale order; customer service finds an order by
its Shopify number."""

from odoo.tests import HttpCase, new_test_user, tagged

from tests.simulators.shopify_orders import make_order

from .order_common import ShopifyOrderFixtures


@tagged("post_install", "-at_install")
class TestClerkTours(ShopifyOrderFixtures, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.unknown = make_order(
            9101,
            "#1001",
            [("SKU-A", 1, "19.99"), ("TOUR-NEW", 2, "24.50", None, "Tour lamp")],
            customer={"first_name": "Ada", "last_name": "Lovelace"},
        )
        cls.imported = make_order(
            9102,
            "#1002",
            [("SKU-B", 1, "12.00")],
            customer={
                "id": 77,
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@example.com",
                "phone": "+15145550177",
            },
        )

    def setUp(self):
        super().setUp()
        self.events = self.deliver(
            ("orders/create", self.unknown), ("orders/create", self.imported)
        )
        self.assertEqual(self.events.mapped("state"), ["failed", "done"])

    def test_clerk_creates_the_unknown_product_and_lands_on_the_order(self):
        new_test_user(
            self.env,
            login="clerk",
            groups="distribution_sync_core.group_dsync_user,"
            "stock.group_stock_manager,sales_team.group_sale_salesman_all_leads",
        )
        self.start_tour(
            "/odoo/action-distribution_sync_core.dsync_exception_action",
            "dsync_clerk_unknown_product",
            login="clerk",
        )
        sale = self.sale_orders("#1001")
        self.assertEqual(sale.state, "sale")
        self.assertEqual(self.events[0].exception_ids.state, "resolved")
        self.assertEqual(
            self.env["product.product"]
            .search([("default_code", "=", "TOUR-NEW")])
            .list_price,
            24.5,
        )

    def test_customer_service_finds_an_order_by_its_shopify_number(self):
        new_test_user(
            self.env,
            login="support",
            groups="distribution_sync_core.group_dsync_user,"
            "sales_team.group_sale_salesman_all_leads",
        )
        self.start_tour(
            "/odoo/action-distribution_sync_core.dsync_exception_action",
            "dsync_find_order_by_number",
            login="support",
        )
