# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What every Shopify event and exception is about, in people's words: the
order number, the customer, the amount, the SKUs and the Odoo record, for
each topic the store accepts; the fixes of the exceptions they open."""

from odoo.tests import TransactionCase

from tests.simulators.shopify_orders import (
    make_customers_data_request,
    make_customers_redact,
    make_order,
    make_refund,
    make_shop_redact,
)

from .order_common import ShopifyOrderFixtures

# Shopify's app/uninstalled body: the shop resource
APP_UNINSTALLED = {
    "id": 548380009,
    "name": "Demo Store",
    "email": "owner@example.com",
    "domain": "shop.example.com",
    "myshopify_domain": "demo-store.myshopify.com",
    "currency": "CAD",
}


class TestShopifyBusinessContext(ShopifyOrderFixtures, TransactionCase):
    def context_of(self, topic, doc):
        event = self.make_event(topic, doc)
        event._dsync_fill_context()
        return event

    def import_order(self, order_id=5301, name="#1301", **kw):
        doc = make_order(
            order_id, name, [("SKU-A", 2, "19.99"), ("SKU-B", 1, "12.00")], **kw
        )
        (event,) = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        return doc, event, self.sale_orders(name)

    def test_order_topics_before_processing(self):
        doc = make_order(
            5300,
            "#1300",
            [("SKU-A", 2, "19.99"), ("SKU-B", 1, "12.00"), ("SKU-A", 1, "19.99")],
            customer={"first_name": "Ada", "last_name": "Lovelace"},
        )
        for topic in ("orders/create", "orders/updated", "orders/cancelled"):
            event = self.context_of(topic, doc)
            self.assertEqual(event.doc_ref, "#1300", topic)
            self.assertEqual(event.partner_name, "Ada Lovelace", topic)
            self.assertEqual(event.amount, float(doc["total_price"]), topic)
            self.assertEqual(event.currency_id.name, "CAD", topic)
            self.assertEqual(event.skus, "SKU-A, SKU-B", topic)
            self.assertFalse(event.partner_id, "no lookup before processing")
        self.assertEqual(event.topic_label, "Order cancelled")
        self.assertEqual(event.display_name, "Order cancelled #1300")

    def test_order_customer_name_falls_back_to_the_addresses(self):
        doc = make_order(5302, "#1302", [("SKU-A", 1, "5.00")], customer=False)
        doc["billing_address"]["company"] = "Analytical Engines Ltd"
        event = self.context_of("orders/create", doc)
        self.assertEqual(event.partner_name, "Jane Doe (Analytical Engines Ltd)")

    def test_presentment_currency_policy(self):
        self.backend.shopify_currency_policy = "presentment"
        doc = make_order(5303, "#1303", [("SKU-A", 1, "5.00")])
        doc["presentment_currency"] = "USD"
        doc["total_price_set"]["presentment_money"] = {
            "amount": "4.20",
            "currency_code": "USD",
        }
        event = self.context_of("orders/create", doc)
        self.assertEqual((event.amount, event.currency_id.name), (4.2, "USD"))

    def test_order_done_links_the_sale_order_and_its_customer(self):
        _doc, event, sale = self.import_order()
        self.assertEqual((event.res_model, event.res_id), ("sale.order", sale.id))
        self.assertEqual(event.record_name, sale.name)
        self.assertEqual(event.partner_id, sale.partner_id)
        self.assertEqual(event.doc_ref, "#1301")
        # the sale order's buttons
        self.assertEqual(sale.dsync_event_count, 1)
        self.assertEqual(sale.dsync_exception_count, 0)
        action = sale.action_dsync_events()
        self.assertEqual(self.env["dsync.event"].search(action["domain"]), event)

    def test_refund(self):
        doc, _event, sale = self.import_order(5304, "#1304")
        refund = make_refund(401, doc, [("SKU-B", 1)])
        event = self.context_of("refunds/create", refund)
        self.assertEqual(event.doc_ref, "#1304")
        self.assertEqual(event.partner_id, sale.partner_id)
        self.assertEqual(event.amount, float(refund["transactions"][0]["amount"]))
        self.assertEqual(event.currency_id.name, "CAD")
        self.assertEqual(event.skus, "SKU-B")
        self.assertEqual((event.res_model, event.res_id), ("sale.order", sale.id))
        self.assertEqual(event.topic_label, "Refund")
        # a refund of an order not imported (yet) still names it
        other = dict(refund, order_id=999)
        self.assertEqual(
            self.context_of("refunds/create", other).doc_ref, "Shopify order 999"
        )
        # the refund shows on the sale order
        self.assertIn(
            event, self.env["dsync.event"].search(sale._dsync_linked_domain())
        )

    def test_privacy_topics_name_no_personal_data(self):
        _doc, _event, sale = self.import_order(5305, "#1305")
        redact = self.context_of(
            "customers/redact", make_customers_redact(orders_to_redact=[5305])
        )
        self.assertEqual(redact.partner_id, sale.partner_id, "the contact, by binding")
        self.assertEqual(redact.doc_ref, "Customer 6940095564088")
        self.assertEqual(redact.topic_label, "Customer data erasure")
        request = self.context_of(
            "customers/data_request", make_customers_data_request(request_id=4242)
        )
        self.assertEqual(request.doc_ref, "Data request 4242")
        self.assertEqual(request.partner_id, sale.partner_id)
        for event in (redact, request):
            self.assertNotIn("jane.doe", (event.partner_name or "").lower())
            self.assertNotIn("example.com", event.doc_ref)
        shop = self.context_of("shop/redact", make_shop_redact())
        self.assertEqual(shop.doc_ref, "demo-store.myshopify.com")
        uninstalled = self.context_of("app/uninstalled", APP_UNINSTALLED)
        self.assertEqual(uninstalled.doc_ref, "demo-store.myshopify.com")
        self.assertEqual(
            (uninstalled.res_model, uninstalled.res_id),
            ("dsync.backend", self.backend.id),
        )

    def test_unknown_sku_exception_and_its_fix(self):
        doc = make_order(
            5306,
            "#1306",
            [("SKU-A", 1, "19.99"), ("SKU-LAMP", 2, "24.50", None, "Desk lamp")],
            customer={"first_name": "Grace", "last_name": "Hopper"},
        )
        (event,) = self.deliver(("orders/create", doc))
        exc = event.exception_ids
        self.assertEqual(exc.category, "unknown_product")
        self.assertEqual(exc.name, "#1306 · Unknown product")
        self.assertEqual(
            (exc.doc_ref, exc.partner_name, exc.skus, exc.currency_id.name),
            ("#1306", "Grace Hopper", "SKU-LAMP", "CAD"),
        )
        self.assertEqual(exc.amount, float(doc["total_price"]))
        self.assertEqual(
            exc.fix_data["products"],
            [{"sku": "SKU-LAMP", "name": "Desk lamp", "price": "24.50"}],
        )
        # the sale order does not exist yet: the order number finds it
        self.assertEqual(
            self.env["dsync.exception"].search(
                [("doc_ref", "ilike", "1306"), ("backend_id", "=", self.backend.id)]
            ),
            exc,
        )
        # create the product from the exception, then retry: the order
        wizard = self.env["dsync.product.fix"].browse(
            exc.with_context(dsync_fix_mode="create").action_fix_product()["res_id"]
        )
        self.assertEqual(
            wizard.line_ids.read(["sku", "name", "price"])[0],
            {
                "id": wizard.line_ids.id,
                "sku": "SKU-LAMP",
                "name": "Desk lamp",
                "price": 24.5,
            },
        )
        result = wizard.action_apply_retry()
        sale = self.sale_orders("#1306")
        self.assertEqual(sale.state, "sale")
        self.assertEqual(result["params"]["next"]["res_id"], sale.id)
        self.assertIn(sale.name, result["params"]["message"])
        self.assertEqual(exc.state, "resolved")
        self.assertEqual((exc.res_model, exc.res_id), ("sale.order", sale.id))
        product = self.env["product.product"].search(
            [("default_code", "=", "SKU-LAMP")]
        )
        self.assertEqual((product.name, product.list_price), ("Desk lamp", 24.5))
        # the order's buttons count the exception that stopped its import
        self.assertEqual(sale.dsync_event_count, 1)
        self.assertIn(
            exc, self.env["dsync.exception"].search(sale._dsync_linked_domain())
        )

    def test_link_the_sku_to_an_existing_product(self):
        doc = make_order(5307, "#1307", [("LEGACY-7", 1, "19.99")])
        (event,) = self.deliver(("orders/create", doc))
        exc = event.exception_ids
        wizard = self.env["dsync.product.fix"].browse(
            exc.with_context(dsync_fix_mode="link").action_fix_product()["res_id"]
        )
        wizard.line_ids.product_id = self.product_b
        wizard.action_apply_retry()
        sale = self.sale_orders("#1307")
        self.assertEqual(sale.order_line[0].product_id, self.product_b)
        mapping = self.env["dsync.value.map"].search(
            [("backend_id", "=", self.backend.id), ("map_type", "=", "sku")]
        )
        self.assertEqual(mapping.external_code, "LEGACY-7")
        self.assertEqual(mapping.target_ref, self.product_b)
        # the next order with that SKU uses the link at once
        (again,) = self.deliver(
            ("orders/create", make_order(5308, "#1308", [("LEGACY-7", 2, "19.99")]))
        )
        self.assertEqual(again.state, "done", again.last_error)

    def test_amount_mismatch_shows_both_totals(self):
        doc = make_order(5309, "#1309", [("SKU-A", 1, "10.00")])
        doc["total_price"] = doc["total_price_set"]["shop_money"]["amount"] = "99.99"
        (event,) = self.deliver(("orders/create", doc))
        exc = event.exception_ids
        self.assertEqual(exc.category, "amount_mismatch")
        self.assertEqual(exc.fix_kind, "amounts")
        totals = exc.fix_data["totals"]
        self.assertEqual(totals["channel_total"], "99.99")
        self.assertNotEqual(totals["odoo_total"], "99.99")
        self.assertIn("Shopify CAD", exc.fix_html)
        self.assertIn("Odoo CAD", exc.fix_html)
        self.assertIn("99.99", exc.fix_html)
        self.assertIn("text-danger", exc.fix_html, "the differing total stands out")

    def test_missing_tax_mapping_warns_on_the_backend(self):
        self.backend.shopify_tax_by_rate = False
        doc = make_order(5310, "#1310", [("SKU-A", 1, "10.00")], tax_rate=0.07)
        self.deliver(("orders/create", doc))
        self.assertIn("Tax code GST 7.0 (1)", self.backend.config_warning)
        exc = self.env["dsync.exception"].search(
            [("backend_id", "=", self.backend.id), ("doc_ref", "=", "#1310")]
        )
        self.assertEqual(exc.fix_kind, "mapping")
        self.assertEqual(exc.name, "#1310 · Missing mapping: Tax code GST 7.0")
