# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The batch shortcuts leave the records as Odoo alone does.

Orders imported with the shortcuts of ``batch_scope`` (followers and
delivery notes collected and written together, analytic distributions
remembered) and of ``_shopify_create_addresses`` (children synced with their
customer for the whole batch) are compared with the same orders imported
with both switched off, so that Odoo's own record-by-record code runs:
followers and their subtypes, the deliveries' chatter notes, the customers'
addresses, commercial fields (in every company), languages, and the order
lines' analytic distributions must be the same.
"""

import re
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from odoo.addons.connector_shopify import batch_scope as scope_module
from odoo.addons.connector_shopify.models import shopify_order, shopify_order_batch
from odoo.addons.connector_shopify.models.stock_move import _conjuncts

from tests.simulators.shopify_orders import make_order

from .order_common import ShopifyOrderFixtures

T1 = "2026-11-20T12:00:00-05:00"
LINES = [("SKU-A", 2, "19.99", "1.50"), ("SKU-B", 1, "7.35")]


class _NoScope:
    """``batch_scope`` switched off."""

    def __init__(self, env):
        pass

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _plain_create_addresses(backend, vals_list):
    """``_shopify_create_addresses`` switched off: Odoo's own create."""
    return backend.env["res.partner"].create(vals_list)


@tagged("post_install", "-at_install")
class TestBatchScope(ShopifyOrderFixtures, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        plan = env["account.analytic.plan"].create({"name": "Channels"})
        cls.analytic = env["account.analytic.account"].create(
            {"name": "Shopify", "plan_id": plan.id}
        )
        env["account.analytic.distribution.model"].create(
            {
                "product_id": cls.product_a.id,
                "analytic_distribution": {str(cls.analytic.id): 100},
            }
        )
        cls.other_company = env["res.company"].create({"name": "Scope Co 2"})
        cls.term = env["account.payment.term"].create({"name": "Scope 45 days"})
        cls.industry = env["res.partner.industry"].create({"name": "Scope trade"})

    def order(self, n, **kw):
        kw.setdefault(
            "customer",
            {
                "id": 880000 + n,
                "email": f"scope-buyer-{n}@example.com",
                "phone": f"+1438555{n:04d}",
                "first_name": "Scope",
                "last_name": str(n),
            },
        )
        kw.setdefault("updated_at", T1)
        kw.setdefault("shipping_address", {"address1": "7 Dock Street"})
        return make_order(8000 + n, f"#S{n}", LINES, **kw)

    def import_batch(self, docs, shortcuts=True):
        """Import ``docs`` (new orders) in one batch job; their sale orders."""
        self.assertGreater(len(docs), 1, "a batch needs two orders")
        if shortcuts:
            events = self.deliver(*[("orders/create", doc) for doc in docs])
        else:
            with (
                patch.object(shopify_order, "batch_scope", _NoScope),
                patch.object(shopify_order_batch, "batch_scope", _NoScope),
                patch.object(
                    type(self.backend),
                    "_shopify_create_addresses",
                    _plain_create_addresses,
                ),
            ):
                events = self.deliver(*[("orders/create", doc) for doc in docs])
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(len(events.job_id), 1)
        self.assertEqual(events.job_id.method_name, "_dsync_run_batch")
        sales = [self.sale_orders(doc["name"]) for doc in docs]
        for sale in sales:
            self.assertEqual(sale.state, "sale")
        return sales

    # what is compared ---------------------------------------------------
    def roles(self, sale):
        """The partners of an order by their role in it."""
        roles = {
            sale.partner_id: "customer",
            sale.partner_invoice_id: "invoice",
            sale.partner_shipping_id: "delivery",
            self.backend.user_id.partner_id: "job user",
            self.env.user.partner_id: "job user",
        }
        return lambda partner: roles.get(partner, partner.display_name)

    def followers(self, record, role):
        return sorted(
            (
                role(follower.partner_id),
                sorted(follower.subtype_ids.mapped("name")),
            )
            for follower in record.message_follower_ids
        )

    def notes(self, picking, sale, role):
        return [
            (
                re.sub(
                    rf"\b{sale.id}\b|{re.escape(sale.name)}", "<order>", message.body
                ),
                message.message_type,
                message.subtype_id,
                message.is_internal,
                role(message.author_id),
                message.email_from,
                message.reply_to,
                message.record_name == picking.display_name,
                message.record_company_id,
                message.partner_ids,
                message.notification_ids,
                message.email_add_signature,
                message.subject,
                message.parent_id,
                message.record_alias_domain_id,
            )
            for message in picking.message_ids.sorted("id")
        ]

    def partner_shape(self, partner):
        Partner = self.env["res.partner"]
        fnames = [
            "type",
            "lang",
            "street",
            "city",
            "zip",
            "country_id",
            "state_id",
            *Partner._commercial_fields(),
        ]
        shape = {"main": partner.sudo()._update_fields_values(fnames)}
        dependent = Partner._company_dependent_commercial_fields()
        for company in self.env["res.company"].sudo().search([]):
            shape[company.name] = (
                partner.sudo().with_company(company)._update_fields_values(dependent)
            )
        return shape

    def delivery(self, picking, sale, role):
        return {
            "name": picking.name.rstrip("0123456789"),
            "type": picking.picking_type_id,
            "locations": (picking.location_id, picking.location_dest_id),
            "partner": role(picking.partner_id),
            "origin": picking.origin == sale.name,
            "group": picking.group_id == sale.procurement_group_id,
            "sale": picking.sale_id == sale,
            "carrier": picking.carrier_id,
            "move type": picking.move_type,
            "state": picking.state,
            "scheduled": picking.scheduled_date == min(picking.move_ids.mapped("date")),
            "moves": sorted(
                (move.product_id.id, move.product_uom_qty, move.state, move.quantity)
                for move in picking.move_ids
            ),
        }

    def shape(self, sale):
        role = self.roles(sale)
        (picking,) = sale.picking_ids
        return {
            "delivery": self.delivery(picking, sale, role),
            "order followers": self.followers(sale, role),
            "delivery followers": self.followers(picking, role),
            "delivery notes": self.notes(picking, sale, role),
            "customer": self.partner_shape(sale.partner_id),
            "invoice address": self.partner_shape(sale.partner_invoice_id),
            "delivery address": self.partner_shape(sale.partner_shipping_id),
            "delivery is a child": sale.partner_shipping_id.parent_id
            == sale.partner_id,
            "analytic": [
                (line.product_id, line.analytic_distribution)
                for line in sale.order_line.sorted("sequence")
            ],
        }

    def assert_same(self, batched, reference):
        for key in reference:
            self.assertEqual(batched[key], reference[key], key)

    # tests --------------------------------------------------------------
    def test_new_customers_orders_as_odoo_alone_leaves_them(self):
        batched = self.import_batch([self.order(1), self.order(2)])
        plain = self.import_batch([self.order(3), self.order(4)], shortcuts=False)
        first = self.shape(batched[0])
        self.assert_same(first, self.shape(plain[0]))
        self.assert_same(self.shape(batched[1]), self.shape(plain[1]))
        # what is compared is there at all
        for key, role in (
            ("order followers", "customer"),
            ("delivery followers", "delivery"),
        ):
            self.assertEqual([who for who, _subtypes in first[key]], [role], key)
            self.assertTrue(first[key][0][1], f"{key}: default subtypes")
        self.assertEqual(len(first["delivery notes"]), 1)
        self.assertIn("created from", first["delivery notes"][0][0])
        self.assertIn("<order>", first["delivery notes"][0][0])
        self.assertEqual(
            first["analytic"][0],
            (self.product_a, {str(self.analytic.id): 100.0}),
        )
        self.assertFalse(first["analytic"][1][1], "no model for SKU-B")

    def test_deliveries_of_a_batch_created_together(self):
        """The deliveries of a batch come from one ``create``, shaped as
        Odoo's own assignment shapes them (compared in the test above)."""
        Picking = type(self.env["stock.picking"])
        original = Picking.create
        creates = []

        def spy(records, vals_list):
            creates.append(len(vals_list) if isinstance(vals_list, list) else 1)
            return original(records, vals_list)

        with patch.object(Picking, "create", spy):
            batched = self.import_batch(
                [self.order(31), self.order(32), self.order(33)]
            )
            self.assertEqual(creates, [3])
            creates.clear()
            plain = self.import_batch([self.order(34), self.order(35)], shortcuts=False)
            self.assertEqual(creates, [1, 1], "Odoo alone: one create a delivery")
        self.assertEqual(len({sale.picking_ids for sale in batched}), 3)
        for sale in batched:
            self.assert_same(self.shape(sale), self.shape(plain[0]))

    def test_assignment_shortcut_only_where_the_search_requires_the_group(self):
        group = ("group_id", "=", 7)
        self.assertIn(group, _conjuncts([group, ("state", "in", ["draft"])]))
        self.assertIn(
            group,
            _conjuncts(
                ["&", group, "|", ("batch_id", "=", False), ("printed", "=", False)]
            ),
        )
        self.assertNotIn(group, _conjuncts(["|", group, ("partner_id", "=", 3)]))
        self.assertNotIn(group, _conjuncts(["!", group]))
        self.assertEqual(
            _conjuncts(["&", "|", ("a", "=", 1), ("b", "=", 2), ("c", "=", 3)]),
            [("c", "=", 3)],
        )

    def test_known_customer_commercial_fields_reach_new_addresses(self):
        Partner = self.env["res.partner"]
        self.env["res.lang"]._activate_lang("fr_FR")
        customers = Partner.create(
            [
                {
                    "name": f"Known {n}",
                    "email": f"scope-buyer-{n}@example.com",
                    "vat": "CA123456789",
                    "industry_id": self.industry.id,
                    "lang": "fr_FR" if n % 2 else "en_US",
                    "street": "1 Old Road",
                }
                for n in (11, 12, 13, 14)
            ]
        )
        for customer in customers:
            customer.with_company(
                self.other_company
            ).property_payment_term_id = self.term
        batched = self.import_batch([self.order(11), self.order(12)])
        plain = self.import_batch([self.order(13), self.order(14)], shortcuts=False)
        for sale, reference in zip(batched, plain, strict=True):
            self.assertIn(sale.partner_id, customers)
            self.assert_same(self.shape(sale), self.shape(reference))
        delivery = batched[0].partner_shipping_id
        self.assertEqual(delivery.parent_id, customers[0])
        self.assertEqual(delivery.vat, "CA123456789")
        self.assertEqual(delivery.industry_id, self.industry)
        self.assertEqual(delivery.lang, "fr_FR")
        self.assertEqual(
            delivery.with_company(self.other_company).property_payment_term_id,
            self.term,
        )

    def test_customer_without_address_takes_its_first_address(self):
        def no_billing(n):
            doc = self.order(n)
            doc["billing_address"] = None
            doc["customer"]["default_address"] = None
            return doc

        batched = self.import_batch([no_billing(21), no_billing(22)])
        plain = self.import_batch([no_billing(23), no_billing(24)], shortcuts=False)
        self.assert_same(self.shape(batched[0]), self.shape(plain[0]))
        customer = batched[0].partner_id
        self.assertEqual(customer.street, "7 Dock Street", "Odoo's first contact rule")

    def test_b2b_contacts_as_odoo_alone_leaves_them(self):
        """A B2B order's company, its buyer (a contact of the company, with
        the company's address) and its addresses, created together, are
        those Odoo's own create leaves."""

        def b2b(n):
            return self.order(
                n,
                company={"id": 770000 + n, "name": f"Scope Company {n}"},
                po_number=f"PO-{n}",
            )

        batched = self.import_batch([b2b(51), b2b(52)])
        plain = self.import_batch([b2b(53), b2b(54)], shortcuts=False)
        for sale, reference in zip(batched, plain, strict=True):
            shape, expected = self.shape(sale), self.shape(reference)
            self.assert_same(shape, expected)
            self.assert_same(
                self.partner_shape(sale.partner_id.parent_id),
                self.partner_shape(reference.partner_id.parent_id),
            )
        buyer = batched[0].partner_id
        self.assertEqual(buyer.parent_id.name, "Scope Company 51")
        self.assertEqual(buyer.type, "contact")
        self.assertEqual(buyer.street, buyer.parent_id.street, "the company's address")
        self.assertEqual(batched[0].partner_shipping_id.parent_id, buyer.parent_id)

    def test_scope_applies_nothing_after_an_error(self):
        sale = self.import_batch([self.order(31), self.order(32)])[0]
        (picking,) = sale.picking_ids
        stranger = self.env["res.partner"].create({"name": "Not a follower"})
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            with scope_module.batch_scope(self.env):
                picking.message_subscribe(stranger.ids)
                self.assertNotIn(stranger, picking.message_partner_ids, "deferred")
                raise ZeroDivisionError
        self.assertIsNone(scope_module.current_scope(self.env))
        self.assertNotIn(stranger, picking.message_partner_ids)
        with scope_module.batch_scope(self.env):
            picking.message_subscribe(stranger.ids)
        self.assertIn(stranger, picking.message_partner_ids, "applied on exit")

    def test_automatic_reordering_rules_still_run(self):
        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )
        orderpoint = self.env["stock.warehouse.orderpoint"].create(
            {
                "product_id": self.product_a.id,
                "location_id": warehouse.lot_stock_id.id,
                "trigger": "auto",
                "product_min_qty": 1000,
                "product_max_qty": 2000,
            }
        )
        Orderpoint = type(self.env["stock.warehouse.orderpoint"])
        original = Orderpoint._procure_orderpoint_confirm
        procured = []

        def spy(records, *args, **kwargs):
            procured.append(records.ids)
            return original(records, *args, **kwargs)

        with patch.object(Orderpoint, "_procure_orderpoint_confirm", spy):
            self.import_batch([self.order(41), self.order(42)])
            batched, procured[:] = list(procured), []
            self.import_batch([self.order(43), self.order(44)], shortcuts=False)
        self.assertIn([orderpoint.id], batched)
        self.assertEqual(batched, procured)
