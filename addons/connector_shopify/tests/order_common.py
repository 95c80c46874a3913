# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shared fixtures of the Shopify order tests (unit and end-to-end): a
Shopify backend, a CAD pricelist, GST/QST sales taxes (price-excluded and a
price-included GST twin), products SKU-A/B/C and a mapped delivery method."""

import json
import uuid
from decimal import Decimal

from odoo.addons.distribution_sync_core.tests.common import run_jobs

SECRET = "shopify-orders-secret"


class ShopifyOrderFixtures:
    """Mix into a TransactionCase or an HttpCase (before it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.setup_shopify_fixtures(cls.env)

    @classmethod
    def setup_shopify_fixtures(cls, env):
        cls.backend = env["dsync.backend"].create(
            {
                "name": "Shopify orders test",
                "backend_type": "shopify",
                "shopify_shop_domain": "demo-store.myshopify.com",
                "inbound_rate_limit": 0,
            }
        )
        cls.backend._dsync_set_secret("webhook_secret", SECRET)
        cad = env.ref("base.CAD")
        cad.active = True
        cls.pricelist_cad = env["product.pricelist"].create(
            {"name": "Shopify CAD", "currency_id": cad.id}
        )
        Tax = env["account.tax"]
        cls.gst = Tax.create(
            {
                "name": "GST 5% (test)",
                "amount": 5.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "price_include_override": "tax_excluded",
                "sequence": 1,
            }
        )
        cls.gst_included = Tax.create(
            {
                "name": "GST 5% included (test)",
                "amount": 5.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "price_include_override": "tax_included",
                "sequence": 1,
            }
        )
        cls.qst = Tax.create(
            {
                "name": "QST 9.975% (test)",
                "amount": 9.975,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "price_include_override": "tax_excluded",
            }
        )
        Product = env["product.product"]
        cls.product_a = Product.create(
            {"name": "Anvil", "default_code": "SKU-A", "list_price": 1.0}
        )
        cls.product_b = Product.create(
            {"name": "Bucket", "default_code": "SKU-B", "list_price": 1.0}
        )
        cls.product_c = Product.create(
            {"name": "Chain", "default_code": "SKU-C", "barcode": "0123456789012"}
        )
        shipping_product = Product.create(
            {"name": "Shopify shipping", "type": "service", "list_price": 0.0}
        )
        cls.carrier = env["delivery.carrier"].create(
            {
                "name": "Shopify Standard",
                "delivery_type": "fixed",
                "fixed_price": 0.0,
                "product_id": shipping_product.id,
            }
        )
        ValueMap = env["dsync.value.map"]
        ValueMap.create(
            [
                {
                    "backend_id": cls.backend.id,
                    "map_type": "tax_code",
                    "external_code": "GST 5.0",
                    "target_ref": f"account.tax,{cls.gst.id}",
                },
                {
                    "backend_id": cls.backend.id,
                    "map_type": "shipping_method",
                    "external_code": "standard",
                    "target_ref": f"delivery.carrier,{cls.carrier.id}",
                },
                {
                    "backend_id": cls.backend.id,
                    "map_type": "payment_method",
                    "external_code": "shopify_payments",
                    "odoo_value": "card",
                },
            ]
        )

    # helpers ----------------------------------------------------------
    def make_event(self, topic, doc, dedup_key=None):
        return (
            self.env["dsync.event"]
            .sudo()
            .create(
                {
                    "backend_id": self.backend.id,
                    "company_id": self.backend.company_id.id,
                    "topic": topic,
                    "payload": json.dumps(doc),
                    "dedup_key": dedup_key or uuid.uuid4().hex,
                    "correlation_id": uuid.uuid4().hex,
                }
            )
        )

    def deliver(self, *deliveries):
        """Store (topic, doc) deliveries in this order, then run the jobs
        (dispatcher first, then one job per event, oldest first)."""
        events = self.env["dsync.event"]
        for topic, doc in deliveries:
            events |= self.make_event(topic, doc)
        self.backend._dsync_wake_dispatcher()
        run_jobs(self.env)
        events.invalidate_recordset()
        return events

    def sale_orders(self, name):
        """The sale orders of a Shopify order name (#1001) or of a customer
        reference (a B2B purchase order number)."""
        return self.env["sale.order"].search(
            ["|", ("shopify_order_name", "=", name), ("client_order_ref", "=", name)]
        )

    def assert_totals(self, sale, doc):
        self.assertEqual(
            Decimal(str(sale.amount_total)).quantize(Decimal("0.01")),
            Decimal(doc["total_price"]),
        )
        self.assertEqual(
            Decimal(str(sale.amount_tax)).quantize(Decimal("0.01")),
            Decimal(doc["total_tax"]),
        )

    def product_lines(self, sale):
        return sale.order_line.filtered(lambda line: not line.is_delivery)

    def binding(self, record, external_id):
        return self.env["dsync.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", record._name),
                ("external_id", "=", str(external_id)),
            ]
        )
