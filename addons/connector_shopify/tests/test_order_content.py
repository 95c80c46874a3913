# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What real stores' orders carry beyond products with SKUs: custom items,
gift cards, tips, shipping discounts, notes, tags, B2B companies with their
purchase order numbers and payment terms, order edits and refunds; and how
updates reach the deliveries before shipping, or become conflicts after."""

from decimal import Decimal

from odoo.tests import TransactionCase, tagged

from odoo.addons.connector_shopify.order_payload import parse_order
from odoo.addons.distribution_sync_core.tests.common import run_jobs

from tests.simulators.shopify_orders import make_order, make_transaction, updated

from .order_common import ShopifyOrderFixtures

T1 = "2026-11-20T12:00:00-05:00"
T2 = "2026-11-20T12:05:00-05:00"
T3 = "2026-11-20T12:10:00-05:00"
ACME = {"id": 4400001, "name": "Acme Wholesale Ltd"}


def custom(title, price, quantity=1, **kw):
    return dict(kind="custom", title=title, price=price, quantity=quantity, **kw)


def gift_card(price, title="Gift Card"):
    return {"kind": "gift_card", "title": title, "price": price, "quantity": 1}


class ContentFixtures(ShopifyOrderFixtures):
    @classmethod
    def setup_shopify_fixtures(cls, env):
        super().setup_shopify_fixtures(env)
        Product = env["product.product"]
        service = {"type": "service", "list_price": 0.0}
        cls.wrapping = Product.create(dict(service, name="Gift wrapping service"))
        cls.custom_charge = Product.create(dict(service, name="Custom charge"))
        cls.gift_card_product = Product.create(dict(service, name="Gift card"))
        cls.tip_product = Product.create(dict(service, name="Tip"))
        Term = env["account.payment.term"]
        cls.net30 = Term.create(
            {
                "name": "Net 30",
                "line_ids": [
                    (0, 0, {"value": "percent", "value_amount": 100, "nb_days": 30})
                ],
            }
        )
        cls.net60 = Term.create(
            {
                "name": "Net 60",
                "line_ids": [
                    (0, 0, {"value": "percent", "value_amount": 100, "nb_days": 60})
                ],
            }
        )

    def configure_products(self):
        self.backend.write(
            {
                "shopify_custom_item_product_id": self.custom_charge.id,
                "shopify_gift_card_product_id": self.gift_card_product.id,
                "shopify_tip_product_id": self.tip_product.id,
            }
        )

    def value_map(self, map_type, code, record):
        return self.env["dsync.value.map"].create(
            {
                "backend_id": self.backend.id,
                "map_type": map_type,
                "external_code": code,
                "target_ref": f"{record._name},{record.id}",
            }
        )

    def line_named(self, sale, name):
        return sale.order_line.filtered(lambda line: line.name == name)

    def ship(self, sale):
        picking = sale.picking_ids.filtered(lambda p: p.state not in ("done", "cancel"))
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")

    def activities(self, records):
        return self.env["mail.activity"].search(
            [("res_model", "=", records._name), ("res_id", "in", records.ids)]
        )


@tagged("post_install", "-at_install")
class TestLinesWithoutProduct(ContentFixtures, TransactionCase):
    def test_custom_items_by_title_then_default_product(self):
        self.value_map("custom_item", "Gift wrapping", self.wrapping)
        self.configure_products()
        doc = make_order(
            5501,
            "#1501",
            [
                ("SKU-A", 2, "19.99"),
                custom("Gift wrapping", "4.50"),
                custom("Rush handling", "7.25", discount="1.00"),
            ],
            order_discount=("TEN", "percentage", 10),
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1501")
        self.assert_totals(sale, doc)
        wrap = self.line_named(sale, "Gift wrapping")
        self.assertEqual(wrap.product_id, self.wrapping)
        self.assertEqual(wrap.tax_id, self.gst, "taxed as Shopify taxed it")
        rush = self.line_named(sale, "Rush handling")
        self.assertEqual(rush.product_id, self.custom_charge)
        self.assertTrue(rush.discount, "its own and the order's discount")
        self.assertEqual(
            sale.picking_ids.move_ids.product_id, self.product_a, "services: no move"
        )
        for item in doc["line_items"]:
            self.assertTrue(self.binding(sale.order_line, item["id"]))

    def test_custom_item_without_mapping_says_what_to_configure(self):
        docs = [
            make_order(
                5502, "#1502", [("SKU-A", 1, "5.00"), custom("Engraving", "12")]
            ),
            make_order(5503, "#1503", [custom("Engraving", "8.00")]),
        ]
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertEqual(events.mapped("state"), ["failed", "failed"])
        exception = events[0].exception_ids
        self.assertEqual(exception.category, "missing_mapping")
        self.assertEqual(exception.kind_key, "custom_item:Engraving")
        self.assertIn("'Engraving' is a custom item", exception.message)
        self.assertIn("value map type 'Custom item'", exception.message)
        self.assertIn("Default Product for Custom Items", exception.message)
        self.assertNotIn("?", exception.message)
        self.assertFalse(self.sale_orders("#1502"))
        # the exception opens the mapping it waits for, prefilled, for products
        context = exception.action_open_mapping()["context"]
        self.assertEqual(
            (context["default_map_type"], context["default_external_code"]),
            ("custom_item", "Engraving"),
        )
        mapping = self.env["dsync.value.map"].new(
            {"backend_id": self.backend.id, "map_type": "custom_item"}
        )
        self.assertIn("product.product", mapping.allowed_model_ids.mapped("model"))
        self.backend.shopify_custom_item_product_id = self.custom_charge
        exception.action_retry_same_kind()
        run_jobs(self.env)
        events.invalidate_recordset()
        self.assertEqual(events.mapped("state"), ["done", "done"])
        self.assertEqual(
            self.line_named(self.sale_orders("#1503"), "Engraving").product_id,
            self.custom_charge,
        )

    def test_product_without_sku_names_its_variant(self):
        doc = make_order(
            5504, "#1504", [{"sku": "", "title": "Blue mug", "price": "9.00"}]
        )
        variant = doc["line_items"][0]["variant_id"]
        self.assertTrue(variant)
        event = self.deliver(("orders/create", doc))
        exception = event.exception_ids
        self.assertEqual(
            (exception.category, exception.kind_key),
            ("unknown_product", f"variant:{variant}"),
        )
        self.assertIn("Blue mug", exception.message)
        self.assertIn("has no SKU", exception.message)
        self.assertIn("Mappings › Bindings", exception.message)
        # the default product for custom items is not for real products
        self.configure_products()
        exception.action_retry()
        run_jobs(self.env)
        self.assertEqual(event.state, "failed")
        # a title mapping is
        self.value_map("custom_item", "Blue mug", self.product_b)
        event.exception_ids.action_retry()
        run_jobs(self.env)
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(
            self.product_lines(self.sale_orders("#1504")).product_id, self.product_b
        )

    def test_line_of_a_deleted_product_is_a_custom_item(self):
        self.configure_products()
        doc = make_order(
            5505,
            "#1505",
            [
                {
                    "sku": "",
                    "title": "Old poster",
                    "price": "15.00",
                    "product_exists": False,
                }
            ],
        )
        self.assertTrue(doc["line_items"][0]["variant_id"])
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(
            self.line_named(self.sale_orders("#1505"), "Old poster").product_id,
            self.custom_charge,
        )

    def test_gift_card_sold_and_tip_to_the_cent(self):
        self.configure_products()
        doc = make_order(
            5506,
            "#1506",
            [("SKU-A", 3, "10.00"), gift_card("50.00")],
            order_discount=("SAVE10", "percentage", 10),
            tip="5.00",
        )
        self.assertEqual(doc["total_tip_received"], "5.00")
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1506")
        self.assert_totals(sale, doc)
        card = self.line_named(sale, "Gift Card")
        self.assertEqual(card.product_id, self.gift_card_product)
        self.assertFalse(card.tax_id, "Shopify does not tax gift cards")
        self.assertFalse(card.discount, "discount codes do not apply to gift cards")
        self.assertEqual(card.price_total, 50.0)
        tip = self.line_named(sale, "Tip")
        self.assertEqual((tip.product_id, tip.price_total), (self.tip_product, 5.0))
        self.assertFalse(tip.tax_id)
        self.assertEqual(sale.picking_ids.move_ids.product_id, self.product_a)

    def test_gift_card_and_tip_without_products(self):
        events = self.deliver(
            ("orders/create", make_order(5507, "#1507", [gift_card("25.00")])),
            (
                "orders/create",
                make_order(5508, "#1508", [("SKU-A", 1, "9.00")], tip="2.00"),
            ),
        )
        self.assertEqual(
            [(e.exception_ids.category, e.exception_ids.kind_key) for e in events],
            [
                ("missing_mapping", "gift_card_product"),
                ("missing_mapping", "tip_product"),
            ],
        )
        self.assertIn("Gift Card Product", events[0].exception_ids.message)
        self.assertIn("Tip Product", events[1].exception_ids.message)

    def test_tip_known_only_from_the_total_tip_received(self):
        """A payload whose tip is not among its line items (an older or
        reshaped payload) still gets its tip line: the order total has it."""
        self.configure_products()
        doc = make_order(5509, "#1509", [("SKU-A", 1, "20.00")], tip="3.50")
        doc["line_items"] = [
            item for item in doc["line_items"] if "tip_payment_gateway" not in item
        ]
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1509")
        self.assert_totals(sale, doc)
        self.assertEqual(self.line_named(sale, "Tip").price_unit, 3.5)

    def test_tip_in_the_customers_currency(self):
        """An order imported in the customer's currency takes its tip lines
        as they are: ``total_tip_received`` (shop money) adds nothing."""
        doc = make_order(5519, "#1519", [("SKU-A", 1, "20.00")], tip="3.50")
        doc["presentment_currency"] = "USD"
        doc["total_tip_received"] = "4.70"  # the same tip in CAD
        order = parse_order(doc, "presentment")
        self.assertEqual(
            [(line.kind, line.price) for line in order.lines],
            [("product", Decimal("20.00")), ("tip", Decimal("3.50"))],
        )
        doc["line_items"] = doc["line_items"][:1]
        self.assertEqual(len(parse_order(doc, "presentment").lines), 1)
        self.assertEqual(parse_order(doc, "shop").lines[-1].price, Decimal("4.70"))

    def test_paid_with_a_gift_card_is_a_payment_not_a_discount(self):
        doc = make_order(
            5510,
            "#1510",
            [("SKU-A", 2, "30.00")],
            payment_gateway_names=["gift_card", "shopify_payments"],
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1510")
        self.assert_totals(sale, doc)
        self.assertEqual(sale.amount_total, 73.5, "2 x 30 + 10 shipping + 5 % GST")
        self.assertFalse(sale.order_line.filtered(lambda line: line.price_total < 0))
        self.assertEqual(sale.shopify_payment_gateways, "gift_card, shopify_payments")
        self.assertEqual(sale.state, "sale")

    def test_gift_card_payment_recorded_from_the_transactions(self):
        """How much the gift card paid comes with Shopify's transactions,
        before or after the order: listed on the order, the gift card part
        apart; a redelivered transaction is recorded once."""
        doc = make_order(
            5520,
            "#1520",
            [("SKU-A", 2, "30.00")],
            payment_gateway_names=["gift_card", "shopify_payments"],
        )
        gift = make_transaction(91, doc, "50.00", gateway="gift_card")
        card = make_transaction(92, doc, "23.50")
        events = self.deliver(
            ("order_transactions/create", gift),
            ("orders/create", doc),
            ("order_transactions/create", card),
            ("order_transactions/create", gift),
        )
        self.assertEqual(events.mapped("state"), ["done", "done", "done", "duplicate"])
        sale = self.sale_orders("#1520")
        self.assert_totals(sale, doc)
        self.assertEqual(
            sorted(sale.shopify_transaction_ids.mapped("gateway")),
            ["gift_card", "shopify_payments"],
        )
        self.assertEqual(sale.shopify_gift_card_amount, 50.0)
        self.assertEqual(
            sum(sale.shopify_transaction_ids.mapped("amount")), sale.amount_total
        )
        gift_card_tx = sale.shopify_transaction_ids.filtered(
            lambda t: t.gateway == "gift_card"
        )
        self.assertEqual(gift_card_tx.gift_card_last_characters, "x7ab")
        self.assertEqual(gift_card_tx.sale_order_id, sale)
        refund = make_transaction(93, doc, "10.00", gateway="gift_card", kind="refund")
        self.deliver(("order_transactions/create", refund))
        sale.invalidate_recordset()
        self.assertEqual(sale.shopify_gift_card_amount, 40.0)

    def test_shipping_discounts_to_the_cent(self):
        cases = {
            "#1511": {"shipping_discount": ("FREESHIP", "percentage", 100)},
            "#1512": {
                "shipping_discount": ("SHIP3", "fixed_amount", "3.33"),
                "taxes_included": True,
            },
            "#1513": {
                "shipping_discount": ("HALF", "percentage", 50),
                "order_discount": ("TEN", "percentage", 10),
                "tax_rate": [("GST", 0.05), ("QST", 0.09975)],
                "shipping": ("standard", "Standard", "12.99"),
            },
        }
        docs = [
            make_order(5511 + n, name, [("SKU-A", 2, "17.49")], **kw)
            for n, (name, kw) in enumerate(cases.items())
        ]
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertEqual(
            set(events.mapped("state")), {"done"}, events.mapped("last_error")
        )
        for doc in docs:
            sale = self.sale_orders(doc["name"])
            self.assert_totals(sale, doc)
            delivery = sale.order_line.filtered("is_delivery")
            allocated = sum(
                Decimal(a["amount"])
                for a in doc["shipping_lines"][0]["discount_allocations"]
            )
            self.assertTrue(allocated)
            self.assertAlmostEqual(
                delivery.price_unit * (1 - delivery.shopify_discount_percent / 100),
                float(Decimal(doc["shipping_lines"][0]["price"]) - allocated),
                places=2,
            )
        free = self.sale_orders("#1511").order_line.filtered("is_delivery")
        self.assertEqual((free.price_unit, free.price_total), (10.0, 0.0))


@tagged("post_install", "-at_install")
class TestNotesTagsAndB2B(ContentFixtures, TransactionCase):
    def test_note_and_attributes_on_the_order_and_its_delivery(self):
        doc = make_order(
            5601,
            "#1601",
            [("SKU-A", 1, "10.00")],
            note="Please call before delivery",
            note_attributes=[("Gift message", "Happy birthday <Sam>"), ("Door", "B")],
        )
        self.deliver(("orders/create", doc))
        sale = self.sale_orders("#1601")
        self.assertEqual(
            sale.shopify_note,
            "Please call before delivery\nGift message: Happy birthday <Sam>\nDoor: B",
        )
        for html in (sale.note, sale.picking_ids.note):
            self.assertIn("Please call before delivery", html)
            self.assertIn("Gift message: Happy birthday &lt;Sam&gt;", html)
            self.assertNotIn("<Sam>", html)

    def test_note_update_before_shipping_updates_order_and_open_delivery(self):
        v1 = make_order(5602, "#1602", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1602")
        picking = sale.picking_ids
        self.assertFalse(picking.note)
        picking.note = "<p>Fragile: pack with foam</p>"
        v2 = updated(v1, T2, note="Leave at the back door")
        self.assertEqual(self.deliver(("orders/updated", v2)).state, "done")
        self.assertIn("Leave at the back door", sale.note)
        self.assertIn("Leave at the back door", picking.note)
        self.assertIn("Fragile: pack with foam", picking.note, "the warehouse's own")
        v3 = updated(v1, T3, note="Call on arrival")
        self.assertEqual(self.deliver(("orders/updated", v3)).state, "done")
        self.assertNotIn("back door", picking.note)
        self.assertNotIn("back door", sale.note)
        self.assertIn("Call on arrival", picking.note)
        self.assertIn("Fragile", picking.note)
        self.assertIn("Call on arrival", picking.message_ids[0].body)

    def test_tags_found_created_and_updated_keeping_odoo_tags(self):
        Tag = self.env["crm.tag"]
        wholesale = Tag.create({"name": "Wholesale"})
        doc = make_order(
            5603,
            "#1603",
            [("SKU-A", 1, "10.00")],
            tags="wholesale, Rush",
            updated_at=T1,
        )
        self.deliver(("orders/create", doc))
        sale = self.sale_orders("#1603")
        rush = Tag.search([("name", "=", "Rush")])
        self.assertEqual(len(rush), 1)
        self.assertEqual(sale.tag_ids, wholesale | rush)
        mine = Tag.create({"name": "Call customer"})
        sale.tag_ids |= mine
        self.deliver(("orders/updated", updated(doc, T2, tags="Rush, VIP")))
        vip = Tag.search([("name", "=", "VIP")])
        self.assertEqual(sale.tag_ids, rush | vip | mine)
        self.assertEqual(sale.shopify_tags, "Rush, VIP")

    def test_b2b_company_contact_po_number_and_payment_terms(self):
        doc = make_order(
            5604,
            "#1604",
            [("SKU-A", 10, "8.00"), ("SKU-B", 5, "4.00")],
            company=ACME,
            po_number="PO-4500012",
            payment_terms=("Net 30", "NET", 30),
            financial_status="pending",
            payment_gateway_names=[],
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("PO-4500012")
        self.assertEqual(sale.shopify_order_name, "#1604")
        self.assertIn("#1604", sale.origin)
        self.assertEqual(sale.state, "sale", "on payment terms: confirmed, unpaid")
        self.assertEqual(sale.payment_term_id, self.net30, "found by name")
        self.assertEqual(sale.shopify_payment_terms, "Net 30")
        company = sale.partner_id.parent_id
        self.assertTrue(company.is_company)
        self.assertEqual(company.name, "Acme Wholesale Ltd")
        self.assertEqual(sale.partner_id.name, "Jane Doe")
        self.assertEqual(sale.partner_id.email, "jane.doe@example.com")
        self.assertEqual(sale.partner_id.commercial_partner_id, company)
        self.assertEqual(sale.partner_invoice_id.parent_id, company)
        self.assertEqual(sale.partner_shipping_id.parent_id, company)
        self.assertEqual(company.street, "1200 Rue Sainte-Catherine O")
        self.assertEqual(self.binding(company, "company/4400001").res_id, company.id)
        invoice = sale._create_invoices()
        self.assertEqual(invoice.commercial_partner_id, company, "the company pays")
        self.assertEqual(invoice.ref, "PO-4500012")
        self.assertEqual(invoice.invoice_payment_term_id, self.net30)
        # a colleague's order: the same company, a contact of her own
        other = make_order(
            5605,
            "#1605",
            [("SKU-A", 1, "8.00")],
            company=ACME,
            customer={"id": 991, "email": "buyer2@acme.example", "first_name": "Bo"},
        )
        self.assertEqual(self.deliver(("orders/create", other)).state, "done")
        sale2 = self.sale_orders("#1605")
        self.assertEqual(sale2.partner_id.parent_id, company)
        self.assertNotEqual(sale2.partner_id, sale.partner_id)
        self.assertEqual(sale2.client_order_ref, "#1605", "no PO: the order name")
        self.assertEqual(
            self.env["res.partner"].search_count([("name", "=", ACME["name"])]), 1
        )

    def test_company_found_by_name_without_shopify_company(self):
        """A consumer checkout with a company on the billing address: the
        known company (any case) is invoiced; a company only on a shipping
        address elsewhere is where the parcel goes, not who pays; on the
        shipping address of the billing place, it buys."""
        known = self.env["res.partner"].create(
            {"name": "Dupont & Fils", "is_company": True}
        )
        billed = make_order(
            5606,
            "#1606",
            [("SKU-A", 1, "8.00")],
            billing_address={"company": "DUPONT & FILS"},
        )
        shipped_to_work = make_order(
            5607,
            "#1607",
            [("SKU-A", 1, "8.00")],
            customer={"id": 992, "email": "someone@example.com"},
            shipping_address={"company": "Initech", "address1": "4120 Freidrich Lane"},
        )
        same_place = make_order(
            5611,
            "#1611",
            [("SKU-A", 1, "8.00")],
            customer={"id": 994, "email": "owner@globex.example"},
            shipping_address={"company": "Globex"},
        )
        events = self.deliver(
            ("orders/create", billed),
            ("orders/create", shipped_to_work),
            ("orders/create", same_place),
        )
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(
            self.sale_orders("#1606").partner_id.commercial_partner_id, known
        )
        consumer = self.sale_orders("#1607").partner_id
        self.assertFalse(consumer.parent_id)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Initech")]))
        # billed where it ships: the company on the shipping address buys
        globex = self.sale_orders("#1611").partner_id.commercial_partner_id
        self.assertEqual((globex.name, globex.is_company), ("Globex", True))

    def test_payment_terms_mapped_or_missing(self):
        """Terms without a map or a namesake: net N days are the terms that
        ask the whole amount N days after the invoice; others (a fixed date,
        net days no terms ask) open a 'missing mapping' exception."""
        docs = [
            make_order(
                5608,
                "#1608",
                [("SKU-A", 1, "8.00")],
                company=ACME,
                payment_terms=("Net 75", "NET", 75),
            ),
            make_order(
                5609,
                "#1609",
                [("SKU-A", 1, "8.00")],
                company=ACME,
                customer={"id": 993, "email": "b@acme.example"},
                payment_terms=("Net 15", "NET", 15),
            ),
        ]
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertEqual(events.mapped("state"), ["failed", "done"])
        exception = events[0].exception_ids
        self.assertEqual(
            (exception.category, exception.kind_key),
            ("missing_mapping", "payment_terms:Net 75"),
        )
        self.assertIn("value map type 'Payment terms'", exception.message)
        terms = self.sale_orders("#1609").payment_term_id
        self.assertEqual(terms.line_ids.mapped("nb_days"), [15])
        self.value_map("payment_terms", "Net 75", self.net60)
        exception.action_retry_same_kind()
        run_jobs(self.env)
        self.assertEqual(events[0].state, "done")
        self.assertEqual(self.sale_orders("#1608").payment_term_id, self.net60)

    def test_b2b_header_updates(self):
        v1 = make_order(
            5610,
            "#1610",
            [("SKU-A", 1, "8.00")],
            company=ACME,
            payment_terms=("Net 30", "NET", 30),
            updated_at=T1,
        )
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1610")
        self.ship(sale)
        v2 = make_order(
            5610,
            "#1610",
            [("SKU-A", 1, "8.00")],
            company=ACME,
            po_number="PO-77",
            payment_terms=("Net 60", "NET", 60),
            updated_at=T2,
        )
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(
            (sale.client_order_ref, sale.payment_term_id), ("PO-77", self.net60)
        )


@tagged("post_install", "-at_install")
class TestUpdatesReachTheWarehouse(ContentFixtures, TransactionCase):
    NEW_ADDRESS = {
        "address1": "55 Harbour Road",
        "address2": None,
        "city": "Halifax",
        "zip": "B3H 1A1",
        "province_code": "NS",
        "province": "Nova Scotia",
    }

    def test_address_change_before_shipping_reaches_every_open_delivery(self):
        v1 = make_order(5701, "#1701", [("SKU-A", 2, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1701")
        picking = sale.picking_ids
        old = sale.partner_shipping_id
        self.assertEqual(picking.partner_id, old)
        v2 = updated(
            v1, T2, shipping_address=dict(v1["shipping_address"], **self.NEW_ADDRESS)
        )
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        new = sale.partner_shipping_id
        self.assertNotEqual(new, old)
        self.assertEqual(
            (new.street, new.city, new.state_id.code),
            ("55 Harbour Road", "Halifax", "NS"),
        )
        self.assertEqual(new.parent_id, sale.partner_id)
        self.assertEqual(picking.partner_id, new, "the warehouse ships to the new one")
        self.assertFalse(self.activities(picking), "no activity for OdooBot")
        self.assertFalse(self.activities(sale))
        self.assertIn("55 Harbour Road", picking.message_ids[0].body)
        self.assert_totals(sale, v2)

    def test_address_change_after_shipping_is_a_conflict(self):
        v1 = make_order(5702, "#1702", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1702")
        self.ship(sale)
        old = sale.partner_shipping_id
        moved = dict(v1["shipping_address"], **self.NEW_ADDRESS)
        event = self.deliver(
            ("orders/updated", updated(v1, T2, shipping_address=moved))
        )
        self.assertEqual(event.state, "failed")
        exception = event.exception_ids
        self.assertEqual(
            (exception.category, exception.team), ("conflict", "customer_service")
        )
        self.assertIn("55 Harbour Road", exception.message)
        self.assertIn("#1702", exception.message)
        self.assertEqual(sale.partner_shipping_id, old)
        self.assertEqual(sale.picking_ids.partner_id, old)
        # customer service reroutes the parcel and records the new address:
        # later updates apply again
        sale.partner_shipping_id = old.copy(
            {
                "street": "55 Harbour Road",
                "street2": False,
                "city": "Halifax",
                "zip": "B3H 1A1",
            }
        )
        later = updated(v1, T3, shipping_address=moved, note="Rerouted")
        self.assertEqual(self.deliver(("orders/updated", later)).state, "done")
        self.assertEqual(sale.shopify_note, "Rerouted")

    def test_order_edit_before_shipping_uses_current_quantities_and_totals(self):
        v1 = make_order(
            5703,
            "#1703",
            [("SKU-A", 3, "10.00", "3.00"), ("SKU-B", 2, "4.00")],
            updated_at=T1,
        )
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1703")
        v2 = make_order(
            5703,
            "#1703",
            [
                {
                    "sku": "SKU-A",
                    "quantity": 3,
                    "price": "10.00",
                    "discount": "3.00",
                    "current_quantity": 1,
                },
                {"sku": "SKU-B", "quantity": 2, "price": "4.00", "current_quantity": 0},
                ("SKU-C", 2, "7.50"),
            ],
            updated_at=T2,
        )
        self.assertNotEqual(v2["total_price"], v2["current_total_price"])
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(
            sale.amount_total, float(v2["current_total_price"]), "after the edit"
        )
        quantities = {
            line.product_id.default_code: line.product_uom_qty
            for line in self.product_lines(sale)
        }
        self.assertEqual(quantities, {"SKU-A": 1.0, "SKU-B": 0.0, "SKU-C": 2.0})
        moves = sale.picking_ids.move_ids.filtered(lambda m: m.state != "cancel")
        self.assertEqual(
            sorted((m.product_id.default_code, m.product_uom_qty) for m in moves),
            [("SKU-A", 1.0), ("SKU-C", 2.0)],
        )
        self.assertFalse(self.activities(sale.picking_ids))
        self.assertIn("quantities", sale.picking_ids.message_ids[0].body)

    def test_edited_order_imported_with_a_wrong_current_total_is_a_mismatch(self):
        doc = make_order(
            5704,
            "#1704",
            [{"sku": "SKU-A", "quantity": 3, "price": "10.00", "current_quantity": 2}],
        )
        doc["current_total_price"] = str(Decimal(doc["current_total_price"]) + 1)
        doc["current_total_price_set"]["shop_money"]["amount"] = doc[
            "current_total_price"
        ]
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.exception_ids.category, "amount_mismatch")
        self.assertFalse(self.sale_orders("#1704"))

    def test_return_after_shipping_is_not_an_edit(self):
        """A refund that takes goods back leaves the order as sold (a credit
        note answers it): no conflict, the ordered quantity stays."""
        v1 = make_order(5705, "#1705", [("SKU-A", 3, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1705")
        self.ship(sale)
        v2 = make_order(
            5705,
            "#1705",
            [("SKU-A", 3, "10.00")],
            refunds=[("SKU-A", 1, "return")],
            updated_at=T2,
            financial_status="partially_refunded",
        )
        self.assertEqual(v2["line_items"][0]["current_quantity"], 2)
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(self.product_lines(sale).product_uom_qty, 3.0)
        self.assertEqual(sale.shopify_financial_status, "partially_refunded")

    def test_refund_cancelling_unshipped_units_reduces_the_delivery(self):
        v1 = make_order(5706, "#1706", [("SKU-A", 3, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1706")
        v2 = make_order(
            5706,
            "#1706",
            [("SKU-A", 3, "10.00")],
            refunds=[("SKU-A", 2, "cancel")],
            updated_at=T2,
        )
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(self.product_lines(sale).product_uom_qty, 1.0)
        self.assertEqual(sale.picking_ids.move_ids.product_uom_qty, 1.0)
