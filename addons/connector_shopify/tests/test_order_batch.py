# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify orders in batch jobs: new orders are created and confirmed
together; everything else in the batch is processed one by one, with the
same results as when each event has a job of its own."""

from decimal import Decimal

from odoo.tests import TransactionCase, tagged

from tests.simulators.shopify_orders import make_order

from .order_common import ShopifyOrderFixtures

T1 = "2026-11-20T12:00:00-05:00"
T2 = "2026-11-20T12:05:00-05:00"


def customer(n):
    """A customer of its own for order ``n``."""
    return {
        "id": 770000 + n,
        "email": f"batch-buyer-{n}@example.com",
        "phone": f"+1514555{n:04d}",
        "first_name": "Buyer",
        "last_name": str(n),
    }


@tagged("post_install", "-at_install")
class TestOrderBatch(ShopifyOrderFixtures, TransactionCase):
    def order(self, n, lines=None, **kw):
        kw.setdefault("customer", customer(n))
        kw.setdefault("updated_at", T1)
        return make_order(
            6000 + n, f"#B{n}", lines or [("SKU-A", 1 + n % 3, "12.50")], **kw
        )

    def batch_results(self, events):
        """Result notes of the batch jobs that processed ``events``."""
        return events.job_id.filtered(
            lambda job: job.method_name == "_dsync_run_batch"
        ).mapped("result")

    def test_new_orders_created_and_confirmed_together(self):
        docs = [
            self.order(1, [("SKU-A", 3, "19.99", "5.00"), ("SKU-B", 1, "150.00")]),
            self.order(2, order_discount=("SAVE10", "percentage", 10)),
            self.order(3, financial_status="pending"),
            self.order(4, taxes_included=True, tax_rate=0.05),
        ]
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertEqual(
            set(events.mapped("state")), {"done"}, events.mapped("last_error")
        )
        self.assertEqual(len(events.job_id), 1)
        self.assertIn("4 applied together", self.batch_results(events)[0])
        for event, doc in zip(events, docs, strict=True):
            sale = self.sale_orders(doc["name"])
            self.assertEqual(len(sale), 1)
            self.assertEqual((event.res_model, event.res_id), ("sale.order", sale.id))
            self.assert_totals(sale, doc)
            self.assertEqual(self.binding(sale, doc["id"]).last_event_id, event)
            for item in doc["line_items"]:
                self.assertTrue(self.binding(sale.order_line, item["id"]))
            partner = sale.partner_id
            self.assertEqual(partner.email, doc["customer"]["email"])
            self.assertEqual(
                self.binding(partner, doc["customer"]["id"]).res_id, partner.id
            )
            self.assertEqual(sale.partner_invoice_id.parent_id, partner)
            self.assertEqual(sale.partner_shipping_id.type, "delivery")
        states = [self.sale_orders(doc["name"]).state for doc in docs]
        self.assertEqual(states, ["sale", "sale", "draft", "sale"])
        self.assertTrue(self.sale_orders("#B1").picking_ids, "confirmed: delivery made")

    def rich_order(self, n):
        """An order with what real stores send: line, order and shipping
        discounts, a custom item, a gift card, a tip, a note with
        attributes, tags, and a B2B company (a company of its own per
        order) with a purchase order number and payment terms."""
        return self.order(
            n,
            [
                ("SKU-A", 3, "19.99", "5.00"),
                ("SKU-B", 2, "7.35", "10%"),
                {"kind": "custom", "title": "Gift wrapping", "price": "4.50"},
                {"kind": "gift_card", "title": "Gift Card", "price": "25.00"},
            ],
            order_discount=("SAVE5", "percentage", 5),
            shipping_discount=("SHIP", "percentage", 50),
            tip="3.00",
            note="Call before delivery",
            note_attributes=[("Gift message", "Enjoy")],
            tags="Wholesale, Rush",
            company={"id": 990000 + n, "name": f"Batch Company {n}"},
            po_number=f"PO-{n}",
            payment_terms=("Net 30", "NET", 30),
            financial_status="pending",
        )

    def test_batch_and_single_jobs_build_the_same_order(self):
        self.backend.write(
            {
                "shopify_custom_item_product_id": self.product_c.id,
                "shopify_gift_card_product_id": self.carrier.product_id.id,
                "shopify_tip_product_id": self.carrier.product_id.id,
            }
        )
        batched = [self.rich_order(n) for n in (11, 12)]
        events = self.deliver(*[("orders/create", doc) for doc in batched])
        self.assertIn("2 applied together", self.batch_results(events)[0])
        self.backend._dsync_flow("orders").batch_size = 1
        alone = self.rich_order(13)
        event = self.deliver(("orders/create", alone))
        self.assertEqual(event.job_id.method_name, "_dsync_run")

        def shape(sale, n):
            company = sale.partner_id.parent_id
            return [
                (
                    line.product_id,
                    line.name,
                    line.product_uom_qty,
                    line.price_unit,
                    line.discount,
                    line.shopify_discount_percent,
                    line.tax_id,
                    line.is_delivery,
                    line.price_total,
                )
                for line in sale.order_line.sorted("sequence")
            ] + [
                sale.amount_untaxed,
                sale.amount_tax,
                sale.amount_total,
                sale.state,
                sale.client_order_ref.replace(str(n), "<n>"),
                sale.shopify_order_name.replace(str(n), "<n>"),
                sale.payment_term_id,
                sale.tag_ids,
                sale.note,
                sale.shopify_note,
                company.is_company,
                company.name.replace(str(n), "<n>"),
                sale.partner_id.commercial_partner_id == company,
                sale.partner_invoice_id.parent_id == company,
                sale.partner_shipping_id.parent_id == company,
                [
                    (p.partner_id == sale.partner_shipping_id, p.note, p.state)
                    for p in sale.picking_ids
                ],
                sale.picking_ids.move_ids.product_id,
            ]

        sale = self.sale_orders("PO-13")
        self.assert_totals(sale, alone)
        self.assertEqual(sale.state, "sale", "on payment terms")
        names = set(sale.order_line.mapped("name"))
        self.assertLessEqual({"Gift wrapping", "Gift Card", "Tip"}, names)
        self.assertTrue(sale.order_line.filtered("is_delivery").discount)
        reference = shape(sale, 13)
        self.assertIn("Call before delivery", reference[-2][0][1])
        for doc, n in zip(batched, (11, 12), strict=True):
            self.assertEqual(shape(self.sale_orders(doc["po_number"]), n), reference)

    def test_updates_duplicates_shared_customers_and_errors_in_one_batch(self):
        """What the batch does not create together is processed alone, in
        order, after it: the results are those of one job per event."""
        self.deliver(("orders/create", self.order(20)))
        twin_customer = customer(23)
        deliveries = [
            ("orders/updated", self.order(20, [("SKU-B", 2, "4.00")], updated_at=T2)),
            ("orders/create", self.order(21)),
            ("orders/create", self.order(22)),
            ("orders/updated", self.order(22, [("SKU-A", 5, "12.50")], updated_at=T2)),
            ("orders/create", self.order(23, customer=twin_customer)),
            ("orders/create", self.order(24, customer=twin_customer)),
            ("orders/create", self.order(25, [("SKU-NOPE", 1, "1.00")])),
            ("orders/create", self.order(26)),
        ]
        events = self.deliver(*deliveries)
        self.assertEqual(len(events.job_id), 1, "one batch job")
        self.assertEqual(
            events.mapped("state"),
            ["done", "done", "done", "done", "done", "done", "failed", "done"],
            events.mapped("last_error"),
        )
        # 21, 23 and 26 together; the rest alone
        self.assertIn("3 applied together", self.batch_results(events)[0])
        # the update of an imported order is applied
        self.assertEqual(
            self.product_lines(self.sale_orders("#B20"))
            .filtered("product_uom_qty")
            .product_id,
            self.product_b,
        )
        # an order created and updated in the same batch: one order, latest state
        self.assertEqual(len(self.sale_orders("#B22")), 1)
        self.assertEqual(
            self.product_lines(self.sale_orders("#B22")).product_uom_qty, 5.0
        )
        # a customer with two new orders in the batch: one contact
        partners = self.env["res.partner"].search(
            [("email", "=", twin_customer["email"]), ("parent_id", "=", False)]
        )
        self.assertEqual(len(partners), 1)
        self.assertEqual(
            (self.sale_orders("#B23") | self.sale_orders("#B24")).partner_id, partners
        )
        # an unknown SKU: an exception for the warehouse, nothing else held back
        self.assertEqual(events[6].exception_ids.category, "unknown_product")
        self.assertFalse(self.sale_orders("#B25"))
        self.assertEqual(len(self.sale_orders("#B26")), 1)

    def test_customers_matched_together_by_email_then_phone_or_mobile(self):
        """The batch looks its customers up together: emails as Odoo
        normalizes them (any case, a display name around the address; ``_``
        is a plain character, not a wildcard), then phones and mobiles for
        the orders left; no match makes a new contact."""
        Partner = self.env["res.partner"]
        by_email = Partner.create({"name": "Mary", "email": "Mary_Smith@Example.com"})
        # sorts first: a wildcard ``_`` would match it instead
        Partner.create({"name": "Aaron", "email": "maryxsmith@example.com"})
        by_phone = Partner.create({"name": "Phone", "phone": "+15145550101"})
        by_mobile = Partner.create({"name": "Mobile", "mobile": "+15145550102"})
        by_display = Partner.create(
            {"name": "Jo", "email": '"Jo Known" <JO.Known@Example.com>'}
        )
        docs = [
            self.order(
                41,
                customer={
                    "id": 941,
                    "email": "mary_smith@example.com",
                    "phone": "+15145559941",
                },
            ),
            self.order(
                42,
                customer={
                    "id": 942,
                    "email": "nobody-42@example.com",
                    "phone": "+15145550101",
                },
            ),
            self.order(
                43,
                customer={
                    "id": 943,
                    "email": "nobody-43@example.com",
                    "phone": "+15145550102",
                },
            ),
            self.order(
                44,
                customer={
                    "id": 944,
                    "email": "new-44@example.com",
                    "phone": "+15145559944",
                },
            ),
        ]
        docs.append(
            self.order(
                45,
                customer={
                    "id": 945,
                    "email": "jo.known@example.com",
                    "phone": "+15145559945",
                },
            )
        )
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertIn("5 applied together", self.batch_results(events)[0])
        partners = [self.sale_orders(doc["name"]).partner_id for doc in docs]
        self.assertEqual(partners[:3], [by_email, by_phone, by_mobile])
        self.assertEqual(partners[4], by_display)
        self.assertEqual(partners[3].email, "new-44@example.com")
        self.assertEqual(
            Partner.search_count([("email", "=ilike", "new-44@example.com")]), 1
        )

    def test_customer_bound_to_a_deleted_contact_is_looked_up_again(self):
        Partner = self.env["res.partner"]
        gone = Partner.create({"name": "Gone"})
        self.env["dsync.binding"]._bind(self.backend, gone, "960")
        gone.unlink()
        kept = Partner.create({"name": "Kept", "email": "kept-60@example.com"})
        docs = [
            self.order(60, customer={"id": 960, "email": "kept-60@example.com"}),
            self.order(61),
        ]
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertIn("2 applied together", self.batch_results(events)[0])
        self.assertEqual(self.sale_orders("#B60").partner_id, kept)
        self.assertEqual(self.binding(kept, 960).res_id, kept.id)

    def test_amount_mismatch_in_a_batch_leaves_no_trace_of_the_batch(self):
        """An order Odoo would total differently makes the batch roll back
        whole; its events are then processed one by one: the good orders are
        created, the wrong one opens its exception, no contact is left over."""
        docs = [self.order(n) for n in (31, 32, 33)]
        wrong = docs[1]
        wrong["total_price"] = str(Decimal(wrong["total_price"]) + Decimal("0.05"))
        wrong["total_price_set"]["shop_money"]["amount"] = wrong["total_price"]
        events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertEqual(events.mapped("state"), ["done", "failed", "done"])
        self.assertIn("0 applied together", self.batch_results(events)[0])
        self.assertEqual(events[1].exception_ids.category, "amount_mismatch")
        self.assertFalse(self.sale_orders("#B32"))
        self.assertFalse(self.binding(self.env["sale.order"], wrong["id"]))
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("email", "=", wrong["customer"]["email"])]
            ),
            0,
            "its customer went with its rolled-back attempt",
        )
        for doc in (docs[0], docs[2]):
            self.assertEqual(self.sale_orders(doc["name"]).state, "sale")
