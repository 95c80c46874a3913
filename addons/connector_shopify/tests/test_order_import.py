# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify orders, refunds and privacy requests through the job pipeline.

Events are stored as the webhook route stores them, the backend's dispatcher
queues their jobs, and ``run_jobs`` performs them: the processors under test
run exactly as in production, inside the event's savepoint.
"""

import json
from decimal import Decimal
from unittest.mock import patch

from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.connector_shopify.models import shopify_privacy
from odoo.addons.connector_shopify.order_payload import parse_order
from odoo.addons.distribution_sync_core.tests.common import run_jobs
from odoo.addons.queue_job.exception import RetryableJobError

from tests.simulators.shopify_orders import (
    make_customers_data_request,
    make_customers_redact,
    make_order,
    make_refund,
    make_shop_redact,
    updated,
)

from .order_common import ShopifyOrderFixtures

T1 = "2026-11-20T12:00:00-05:00"
T2 = "2026-11-20T12:05:00-05:00"
T3 = "2026-11-20T12:10:00-05:00"


class ShopifyOrderCase(ShopifyOrderFixtures, TransactionCase):
    pass


@tagged("post_install", "-at_install")
class TestOrderImport(ShopifyOrderCase):
    def test_order_confirmed_with_totals_to_the_cent(self):
        """Line discount, order discount, shipping and tax: Odoo's order is
        Shopify's to the cent, confirmed, bound, with its customer."""
        doc = make_order(
            5001,
            "#1001",
            [("SKU-A", 3, "19.99", "5.00"), ("SKU-B", 1, "150.00", "10%")],
            order_discount=("SAVE10", "percentage", 10),
            updated_at=T1,
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1001")
        self.assertEqual(len(sale), 1)
        self.assertEqual((event.res_model, event.res_id), ("sale.order", sale.id))
        self.assertEqual(sale.state, "sale")
        self.assertEqual(sale.currency_id.name, "CAD")
        self.assertEqual(sale.pricelist_id, self.pricelist_cad)
        self.assert_totals(sale, doc)
        self.assertAlmostEqual(
            sale.amount_untaxed, float(doc["subtotal_price"]) + 10.0, places=2
        )
        self.assertEqual(doc["subtotal_price"], "170.97", "discounts: 5 + 15 + 19")
        lines = self.product_lines(sale)
        self.assertEqual(lines.product_id, self.product_a | self.product_b)
        line_a = lines.filtered(lambda line: line.product_id == self.product_a)
        self.assertEqual((line_a.product_uom_qty, line_a.price_unit), (3, 19.99))
        # 59.97 - 5.00 line discount - 5.50 of the order discount
        self.assertAlmostEqual(line_a.price_subtotal, 49.47, places=2)
        self.assertEqual(line_a.tax_id, self.gst)
        delivery = sale.order_line.filtered("is_delivery")
        self.assertEqual(delivery.product_id, self.carrier.product_id)
        self.assertEqual((delivery.price_unit, delivery.tax_id), (10.0, self.gst))
        self.assertEqual(sale.carrier_id, self.carrier)
        self.assertEqual(sale.shopify_financial_status, "paid")
        self.assertEqual(sale.shopify_payment_gateways, "shopify_payments")
        binding = self.binding(sale, 5001)
        self.assertEqual(binding.res_id, sale.id)
        self.assertEqual(str(binding.external_updated_at), "2026-11-20 17:00:00")
        for item in doc["line_items"]:
            line_binding = self.binding(sale.order_line, item["id"])
            self.assertEqual(
                self.env["sale.order.line"].browse(line_binding.res_id).product_id,
                self.product_a if item["sku"] == "SKU-A" else self.product_b,
            )
        partner = sale.partner_id
        self.assertEqual(partner.email, "jane.doe@example.com")
        self.assertEqual(sale.partner_invoice_id.parent_id, partner)
        self.assertEqual(sale.partner_invoice_id.type, "invoice")
        self.assertEqual(sale.partner_shipping_id.type, "delivery")
        self.assertEqual(sale.partner_shipping_id.zip, "H3B 1K9")
        self.assertEqual(sale.partner_shipping_id.state_id.code, "QC")

    def test_sales_team_and_salesman_view(self):
        team = self.env["crm.team"].create({"name": "Web shop"})
        self.backend.shopify_team_id = team
        self.deliver(("orders/create", make_order(5017, "#1017", [("SKU-A", 1, "5")])))
        sale = self.sale_orders("#1017")
        self.assertEqual(sale.team_id, team)
        salesman = new_test_user(
            self.env, login="shop_salesman", groups="sales_team.group_sale_salesman"
        )
        sale.user_id = salesman
        as_salesman = sale.with_user(salesman)
        form = as_salesman.get_views([(False, "form")])["views"]["form"]
        self.assertIn("shopify_financial_status", form["arch"])
        self.assertNotIn(
            '<field name="shopify_backend_id"/>', form["arch"], "for sync users only"
        )
        values = as_salesman.web_read(
            {"shopify_order_id": {}, "shopify_financial_status": {}}
        )
        self.assertEqual(values[0]["shopify_order_id"], "5017")

    def test_tax_included_shop(self):
        """A tax-included shop gets the price-included twin of the mapped tax."""
        doc = make_order(
            5002,
            "#1002",
            [("SKU-A", 3, "21.00"), ("SKU-B", 2, "33.33", "1.11")],
            taxes_included=True,
            order_discount=("TAKE5", "fixed_amount", "5.00"),
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1002")
        self.assert_totals(sale, doc)
        self.assertEqual(sale.order_line.tax_id, self.gst_included)

    def test_many_awkward_discounts_match_to_the_cent(self):
        """Discounts that no 2-decimal percentage expresses still give
        Shopify's totals: Odoo computes with the exact discount."""
        lines = [
            ("SKU-A", 3, "1234.56", "7.77"),
            ("SKU-B", 7, "987.65", "13.13"),
            ("SKU-C", 11, "555.55", "0.99"),
        ]
        doc = make_order(
            5003,
            "#1003",
            lines,
            order_discount=("ODD", "fixed_amount", "123.45"),
            tax_rate=[("GST", 0.05), ("QST", 0.09975)],
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1003")
        self.assert_totals(sale, doc)
        self.assertEqual(set(sale.order_line.tax_id.ids), {self.gst.id, self.qst.id})
        rounded = sale.order_line.filtered(
            lambda line: (
                line.discount
                and round(line.shopify_discount_percent, 2)
                != line.shopify_discount_percent
            )
        )
        self.assertTrue(rounded, "the scenario needs discounts beyond 2 decimals")
        invoice = sale._create_invoices()
        invoice.action_post()
        self.assertEqual(
            (invoice.amount_total, invoice.amount_tax),
            (float(doc["total_price"]), float(doc["total_tax"])),
            "the invoice totals what the customer paid",
        )

    def test_barcode_matching(self):
        self.backend.shopify_product_match = "barcode"
        doc = make_order(5004, "#1004", [("0123456789012", 1, "5.00")])
        self.deliver(("orders/create", doc))
        self.assertEqual(
            self.sale_orders("#1004").order_line[:1].product_id, self.product_c
        )

    def test_variant_bound_to_a_deleted_product_falls_back_to_the_sku(self):
        """A variant binding wins over the SKU; a binding whose product was
        deleted is ignored and the SKU matches (the line is not unknown)."""
        bound = make_order(5014, "#1014", [("SKU-A", 1, "5.00")])
        Binding = self.env["dsync.binding"]
        Binding._bind(
            self.backend, self.product_b, bound["line_items"][0]["variant_id"]
        )
        gone = self.env["product.product"].create({"name": "Old chain"})
        orphan = make_order(5015, "#1015", [("SKU-C", 1, "5.00")])
        Binding._bind(self.backend, gone, orphan["line_items"][0]["variant_id"])
        gone.unlink()
        events = self.deliver(("orders/create", bound), ("orders/create", orphan))
        self.assertEqual(
            events.mapped("state"), ["done", "done"], events.mapped("last_error")
        )
        self.assertEqual(
            self.product_lines(self.sale_orders("#1014")).product_id, self.product_b
        )
        self.assertEqual(
            self.product_lines(self.sale_orders("#1015")).product_id, self.product_c
        )

    def test_amount_mismatch_creates_nothing(self):
        doc = make_order(5005, "#1005", [("SKU-A", 2, "10.00")])
        doc["total_price"] = str(Decimal(doc["total_price"]) + Decimal("0.02"))
        doc["total_price_set"]["shop_money"]["amount"] = doc["total_price"]
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "amount_mismatch")
        self.assertEqual(event.exception_ids.team, "finance")
        self.assertIn("#1005", event.exception_ids.message)
        self.assertFalse(self.sale_orders("#1005"))
        self.assertFalse(self.binding(self.env["sale.order"], 5005))

    def test_one_cent_rounding_is_tolerated(self):
        doc = make_order(5006, "#1006", [("SKU-A", 2, "10.00")])
        doc["total_price"] = str(Decimal(doc["total_price"]) + Decimal("0.01"))
        doc["total_price_set"]["shop_money"]["amount"] = doc["total_price"]
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.state, "done", event.last_error)

    def test_unknown_sku_then_fix_and_retry_all(self):
        """Two orders wait for one SKU; fixing the product and 'retry all of
        this kind' imports both."""
        events = self.deliver(
            ("orders/create", make_order(5007, "#1007", [("SKU-NEW", 1, "9.99")])),
            (
                "orders/create",
                make_order(5008, "#1008", [("SKU-A", 1, "5"), ("SKU-NEW", 2, "9.99")]),
            ),
        )
        self.assertEqual(events.mapped("state"), ["failed", "failed"])
        exceptions = events.exception_ids
        self.assertEqual(set(exceptions.mapped("category")), {"unknown_product"})
        self.assertEqual(set(exceptions.mapped("team")), {"warehouse"})
        self.assertEqual(set(exceptions.mapped("kind_key")), {"sku:SKU-NEW"})
        self.assertFalse(self.sale_orders("#1007") | self.sale_orders("#1008"))
        self.env["product.product"].create({"name": "New", "default_code": "SKU-NEW"})
        exceptions[0].action_retry_same_kind()
        run_jobs(self.env)
        events.invalidate_recordset()
        self.assertEqual(events.mapped("state"), ["done", "done"])
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertEqual(self.sale_orders("#1008").state, "sale")

    def test_missing_mappings(self):
        """An unmapped shipping line, a currency without pricelist and an
        unknown tax rate each open a 'missing mapping' exception."""
        cases = {
            "shipping_method:express": make_order(
                5009, "#1009", [("SKU-A", 1, "5")], shipping=("express", "Express", 20)
            ),
            "currency:EUR": make_order(
                5010, "#1010", [("SKU-A", 1, "5")], currency="EUR"
            ),
            "tax_code:HST 13.0": make_order(
                5011, "#1011", [("SKU-A", 1, "5")], tax_rate=0.13, tax_title="HST"
            ),
        }
        events = self.deliver(*[("orders/create", doc) for doc in cases.values()])
        self.assertEqual(set(events.exception_ids.mapped("kind_key")), set(cases))
        self.assertEqual(len(events.exception_ids), 3)
        self.assertEqual(
            set(events.exception_ids.mapped("category")), {"missing_mapping"}
        )

    def test_payment_mapping_required(self):
        self.backend.shopify_require_payment_mapping = True
        doc = make_order(
            5012, "#1012", [("SKU-A", 1, "5")], payment_gateway_names=["paypal"]
        )
        event = self.deliver(("orders/create", doc))
        self.assertEqual(event.exception_ids.kind_key, "payment_method:paypal")
        ok = make_order(5013, "#1013", [("SKU-A", 1, "5")])
        self.assertEqual(self.deliver(("orders/create", ok)).state, "done")

    def test_existing_customer_matched_by_email_then_phone(self):
        by_email = self.env["res.partner"].create(
            {"name": "Known by email", "email": "KNOWN@example.com"}
        )
        by_phone = self.env["res.partner"].create(
            {"name": "Known by phone", "phone": "+15145550199"}
        )
        self.deliver(
            (
                "orders/create",
                make_order(
                    5014,
                    "#1014",
                    [("SKU-A", 1, "5")],
                    customer={"id": 71, "email": "known@example.com"},
                ),
            ),
            (
                "orders/create",
                make_order(
                    5015,
                    "#1015",
                    [("SKU-A", 1, "5")],
                    customer={
                        "id": 72,
                        "email": "other@example.com",
                        "phone": "+15145550199",
                    },
                ),
            ),
        )
        self.assertEqual(self.sale_orders("#1014").partner_id, by_email)
        self.assertEqual(self.sale_orders("#1015").partner_id, by_phone)
        # the customer id is bound: a later order with a new email still matches
        self.deliver(
            (
                "orders/create",
                make_order(
                    5016,
                    "#1016",
                    [("SKU-A", 1, "5")],
                    customer={"id": 71, "email": "changed@example.com"},
                ),
            )
        )
        self.assertEqual(self.sale_orders("#1016").partner_id, by_email)


@tagged("post_install", "-at_install")
class TestOrderUpdates(ShopifyOrderCase):
    def test_duplicate_and_reordered_updates_keep_latest(self):
        v1 = make_order(5101, "#1101", [("SKU-A", 1, "10.00")], updated_at=T1)
        v2 = make_order(5101, "#1101", [("SKU-A", 2, "10.00")], updated_at=T2)
        v3 = make_order(
            5101, "#1101", [("SKU-A", 3, "10.00"), ("SKU-B", 1, "4.00")], updated_at=T3
        )
        events = self.deliver(
            ("orders/updated", v3),
            ("orders/create", v1),
            ("orders/updated", v2),
            ("orders/updated", v3),
        )
        self.assertEqual(
            events.sorted("id").mapped("state"), ["done", "stale", "stale", "duplicate"]
        )
        sale = self.sale_orders("#1101")
        self.assertEqual(len(sale), 1)
        self.assertEqual(
            sorted(self.product_lines(sale).mapped("product_uom_qty")), [1.0, 3.0]
        )
        self.assert_totals(sale, v3)

    def test_concurrent_import_is_retried_not_duplicated(self):
        """A job that did not see the binding another job just committed
        (REPEATABLE READ snapshot) fails on the unique binding: it is
        retried later, instead of leaving a second order or an exception."""
        v1 = make_order(5109, "#1109", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        event = self.make_event("orders/updated", updated(v1, T2, note="gift"))
        Binding = self.registry["dsync.binding"]
        find_many = Binding._find_many

        def snapshot_without_order(binding, backend, res_model, external_ids):
            if res_model == "sale.order":
                return binding.browse()
            return find_many(binding, backend, res_model, external_ids)

        with (
            patch.object(Binding, "_find_many", snapshot_without_order),
            self.assertRaises(RetryableJobError),
        ):
            event._dsync_run()
        self.assertEqual(len(self.sale_orders("#1109")), 1)
        self.assertFalse(event.exception_ids)
        event._dsync_run()
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(len(self.sale_orders("#1109")), 1)

    def test_update_before_shipping_applies_line_changes(self):
        v1 = make_order(
            5102, "#1102", [("SKU-A", 1, "10.00"), ("SKU-B", 2, "4.00")], updated_at=T1
        )
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1102")
        line_b = self.product_lines(sale).filtered(
            lambda line: line.product_id == self.product_b
        )
        # edit: SKU-A qty 4 with a discount, SKU-B removed, SKU-C added
        v2 = make_order(
            5102,
            "#1102",
            [("SKU-A", 4, "10.00", "3.00"), ("SKU-B", 0, "4.00"), ("SKU-C", 1, "7.50")],
            updated_at=T2,
        )
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(sale.state, "sale")
        self.assertEqual(line_b.product_uom_qty, 0.0)
        self.assert_totals(sale, v2)
        moves = sale.picking_ids.move_ids.filtered(lambda m: m.state != "cancel")
        self.assertEqual(
            sorted((m.product_id.default_code, m.product_uom_qty) for m in moves),
            [("SKU-A", 4.0), ("SKU-C", 1.0)],
        )

    def test_line_item_given_another_product_is_replaced_not_rewritten(self):
        """Odoo refuses a new product on a confirmed order's line: a payload
        whose line item changed variant zeroes the old line and adds one,
        which takes over the line item's binding."""
        v1 = make_order(5110, "#1110", [("SKU-A", 2, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1110")
        old_line = self.product_lines(sale)
        line_item_id = v1["line_items"][0]["id"]
        v2 = make_order(5110, "#1110", [("SKU-B", 3, "4.00")], updated_at=T2)
        self.assertEqual(v2["line_items"][0]["id"], line_item_id)
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(old_line.product_uom_qty, 0.0)
        new_line = self.product_lines(sale) - old_line
        self.assertEqual(
            (new_line.product_id, new_line.product_uom_qty), (self.product_b, 3.0)
        )
        self.assertEqual(self.binding(new_line, line_item_id).res_id, new_line.id)
        self.assert_totals(sale, v2)

    def test_pending_kept_as_quotation_then_paid_confirms(self):
        pending = make_order(
            5103,
            "#1103",
            [("SKU-A", 1, "10")],
            financial_status="pending",
            updated_at=T1,
        )
        self.deliver(("orders/create", pending))
        sale = self.sale_orders("#1103")
        self.assertEqual(sale.state, "draft")
        self.assertEqual(sale.shopify_financial_status, "pending")
        paid = updated(pending, T2, financial_status="paid")
        self.deliver(("orders/updated", paid))
        self.assertEqual(sale.state, "sale")
        self.assertEqual(sale.shopify_financial_status, "paid")

    def test_odoo_owning_lines_turns_an_edit_into_a_conflict(self):
        v1 = make_order(5104, "#1104", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        self.env.ref("connector_shopify.ownership_order_lines").owner = "odoo"
        v2 = make_order(5104, "#1104", [("SKU-A", 5, "10.00")], updated_at=T2)
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "conflict")
        self.assertEqual(self.sale_orders("#1104").order_line[:1].product_uom_qty, 1.0)

    def test_edit_after_shipping_is_a_conflict_for_customer_service(self):
        v1 = make_order(5105, "#1105", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1105")
        self.ship(sale)
        v2 = make_order(5105, "#1105", [("SKU-A", 2, "10.00")], updated_at=T2)
        event = self.deliver(("orders/updated", v2))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "conflict")
        self.assertEqual(event.exception_ids.team, "customer_service")
        # an update that changes no line (the fulfillment status) is applied
        v3 = updated(v1, T3, fulfillment_status="fulfilled")
        self.assertEqual(self.deliver(("orders/updated", v3)).state, "done")

    def test_cancellation_before_shipping(self):
        v1 = make_order(5106, "#1106", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        cancelled = updated(v1, T2, cancelled_at=T2, financial_status="voided")
        event = self.deliver(("orders/cancelled", cancelled))
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_orders("#1106")
        self.assertEqual(sale.state, "cancel")
        self.assertEqual(set(sale.picking_ids.mapped("state")), {"cancel"})

    def test_cancellation_after_shipping(self):
        v1 = make_order(5107, "#1107", [("SKU-A", 1, "10.00")], updated_at=T1)
        self.deliver(("orders/create", v1))
        sale = self.sale_orders("#1107")
        self.ship(sale)
        cancelled = updated(v1, T2, cancelled_at=T2)
        event = self.deliver(("orders/cancelled", cancelled))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "conflict")
        self.assertEqual(event.exception_ids.team, "customer_service")
        self.assertEqual(sale.state, "sale")

    def test_cancelled_before_import_then_late_create_is_stale(self):
        v1 = make_order(5108, "#1108", [("SKU-A", 1, "10.00")], updated_at=T1)
        cancelled = updated(v1, T2, cancelled_at=T2)
        events = self.deliver(("orders/cancelled", cancelled), ("orders/create", v1))
        self.assertEqual(events.sorted("id").mapped("state"), ["done", "stale"])
        self.assertFalse(self.sale_orders("#1108"))

    def ship(self, sale):
        picking = sale.picking_ids
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")


@tagged("post_install", "-at_install")
class TestRefundsAndPrivacy(ShopifyOrderCase):
    def import_order(self, order_id=5201, name="#1201"):
        doc = make_order(
            order_id, name, [("SKU-A", 3, "19.99", "5.00"), ("SKU-B", 1, "12.00")]
        )
        self.deliver(("orders/create", doc))
        return doc, self.sale_orders(name)

    def test_refund_becomes_draft_credit_note(self):
        doc, sale = self.import_order()
        invoice = sale._create_invoices()
        invoice.action_post()
        refund = make_refund(301, doc, [("SKU-A", 1)], shipping=True)
        event = self.deliver(("refunds/create", refund))
        self.assertEqual(event.state, "done", event.last_error)
        credit = self.env["account.move"].browse(event.res_id)
        self.assertEqual(event.res_model, "account.move")
        self.assertEqual((credit.move_type, credit.state), ("out_refund", "draft"))
        self.assertEqual(credit.reversed_entry_id, invoice)
        self.assertAlmostEqual(
            credit.amount_total, float(refund["transactions"][0]["amount"]), places=2
        )
        # applied, and finance is asked to review and post it
        review = event.exception_ids
        self.assertEqual(
            (review.category, review.team, review.follow_up, review.state),
            ("to_review", "finance", True, "open"),
        )
        self.assertEqual((review.res_model, review.res_id), ("account.move", credit.id))
        self.assertIn("check it and post it", review.message)
        # a redelivery does not credit twice
        again = self.deliver(("refunds/create", refund))
        self.assertEqual(again.state, "duplicate")
        self.assertFalse(again.exception_ids)

    def test_refund_of_uninvoiced_order_is_for_finance(self):
        doc, sale = self.import_order()
        event = self.deliver(("refunds/create", make_refund(302, doc, [("SKU-B", 1)])))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.team, "finance")
        self.assertEqual(event.exception_ids.res_id, sale.id)

    def test_refund_policy_exception(self):
        self.backend.shopify_refund_policy = "exception"
        doc, sale = self.import_order()
        sale._create_invoices().action_post()
        event = self.deliver(("refunds/create", make_refund(303, doc, [("SKU-B", 1)])))
        self.assertEqual(event.state, "done", "the refund is recorded")
        review = event.exception_ids
        self.assertEqual(
            (review.category, review.team, review.follow_up),
            ("to_review", "finance", True),
        )
        self.assertIn("by hand", review.message)
        again = self.deliver(("refunds/create", make_refund(303, doc, [("SKU-B", 1)])))
        self.assertEqual(again.state, "duplicate", "one review per refund")
        self.assertFalse(
            self.env["account.move"].search(
                [("reversed_entry_id", "in", sale.invoice_ids.ids)]
            )
        )

    def test_customers_redact_masks_stored_payloads(self):
        doc, sale = self.import_order()
        other = make_order(
            5202,
            "#1202",
            [("SKU-B", 1, "12.00")],
            customer={
                "id": 555,
                "email": "someone.else@example.com",
                "phone": "+15145550999",
            },
        )
        self.deliver(("orders/create", other))
        order_events = self.env["dsync.event"].search(
            [("backend_id", "=", self.backend.id)]
        )
        redact = self.deliver(
            ("customers/redact", make_customers_redact(orders_to_redact=[5201]))
        )
        self.assertEqual(redact.state, "done", redact.last_error)
        order_events.invalidate_recordset()
        mine = order_events.filtered(lambda e: json.loads(e.payload)["id"] == 5201)
        theirs = order_events - mine
        self.assertTrue(mine.payload_masked)
        self.assertNotIn("jane.doe@example.com", mine.payload)
        self.assertNotIn("Sainte-Catherine", mine.payload)
        self.assertEqual(json.loads(mine.payload)["id"], 5201, "ids stay")
        self.assertIn("someone.else@example.com", theirs.payload)
        self.assertNotIn("jane.doe@example.com", redact.payload)
        self.assertEqual(redact.res_model, "mail.message")
        self.assertEqual(sale.partner_id.email, "jane.doe@example.com", "records kept")

    def test_data_request_summary(self):
        self.import_order()
        event = self.deliver(
            (
                "customers/data_request",
                make_customers_data_request(orders_requested=[5201]),
            )
        )
        self.assertEqual(event.state, "done", event.last_error)
        note = self.env["mail.message"].browse(event.res_id)
        self.assertIn("#1201", note.body)
        self.assertIn("1 stored events", note.body)

    def test_shop_redact_masks_everything(self):
        self.import_order()
        self.deliver(("shop/redact", make_shop_redact()))
        events = self.env["dsync.event"].search([("backend_id", "=", self.backend.id)])
        self.assertTrue(all(events.mapped("payload_masked")))
        self.assertFalse(any("jane.doe" in (e.payload or "") for e in events))

    def test_shop_redact_of_a_large_store_goes_on_in_batches(self):
        for order_id in (5201, 5202, 5203):
            self.import_order(order_id, f"#{order_id}")
        with patch.object(shopify_privacy, "REDACT_BATCH", 2):
            (redact,) = self.deliver(("shop/redact", make_shop_redact()))
        self.assertEqual(redact.state, "done", redact.last_error)
        note = self.env["mail.message"].browse(redact.res_id)
        self.assertIn("2 stored payloads so far", note.body)
        jobs = self.env["queue.job"].search(
            [("identity_key", "=", f"shopify-redact-{self.backend.id}")]
        )
        self.assertGreaterEqual(len(jobs), 2, "one job per further batch")
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        events = self.env["dsync.event"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(events), 4)
        self.assertTrue(all(events.mapped("payload_masked")))
        self.assertFalse(any("jane.doe" in (e.payload or "") for e in events))

    def test_app_uninstalled(self):
        event = self.deliver(("app/uninstalled", {"id": 548380009, "name": "Demo"}))
        self.assertEqual(event.state, "done", event.last_error)
        self.assertTrue(self.backend.shopify_uninstalled_at)
        self.assertTrue(self.backend.active, "shop/redact still has to come in")
        outbound = self.backend.flow_ids.filtered(lambda f: f.direction == "out")
        self.assertEqual(set(outbound.mapped("mode")), {"manual"})


class TestOrderPayload(TransactionCase):
    """The canonical order (plain Python) on Shopify's own example shapes."""

    def test_unallocated_order_discount_is_spread(self):
        doc = make_order(1, "#1", [("A", 1, "30.00"), ("B", 1, "10.00")])
        doc["total_discounts"] = "4.00"
        doc["total_discounts_set"]["shop_money"]["amount"] = "4.00"
        order = parse_order(doc)
        self.assertEqual(
            [line.discount for line in order.lines], [Decimal("3.00"), Decimal("1.00")]
        )

    def test_tax_codes_and_presentment_money(self):
        doc = make_order(
            2, "#2", [("A", 1, "10.00")], tax_rate=[("GST", 0.05), ("QST", 0.09975)]
        )
        doc["presentment_currency"] = "USD"
        doc["total_price_set"]["presentment_money"] = {
            "amount": "8.00",
            "currency_code": "USD",
        }
        order = parse_order(doc, "presentment")
        self.assertEqual(
            [t.code for t in order.lines[0].tax_lines], ["GST 5.0", "QST 9.975"]
        )
        self.assertEqual((order.currency, order.total_price), ("USD", Decimal("8.00")))
        self.assertEqual(parse_order(doc, "shop").currency, "CAD")
