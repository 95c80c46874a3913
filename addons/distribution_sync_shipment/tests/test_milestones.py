# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The shipment milestone model: what any connector writes and any other
reads. No platform here: milestones are recorded as a connector would."""

from datetime import datetime, timedelta

from odoo.tests import TransactionCase

from ..models.dsync_shipment_milestone import aggregate_status

T0 = datetime(2026, 11, 20, 8, 0, 0)


class TestMilestones(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.Milestone = cls.env["dsync.shipment.milestone"]
        cls.customer = cls.env["res.partner"].create(
            {"name": "Milestone Customer", "email": "milestone@example.com"}
        )
        warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1
        )
        cls.out_type = warehouse.out_type_id

    def picking(self):
        return self.env["stock.picking"].create(
            {"picking_type_id": self.out_type.id, "partner_id": self.customer.id}
        )

    def record(self, picking, *specs, package=None, source="carrier"):
        """specs: (status, hours after T0, key or None, extra dict)."""
        entries = []
        for spec in specs:
            status, hours = spec[0], spec[1]
            key = spec[2] if len(spec) > 2 else f"{status}@{hours}"
            extra = spec[3] if len(spec) > 3 else {}
            entries.append(
                dict(
                    picking=picking,
                    package=package,
                    status=status,
                    occurred_at=T0 + timedelta(hours=hours),
                    detail=f"{status} scan",
                    source=source,
                    external_key=key,
                    **extra,
                )
            )
        return self.Milestone._dsync_record(entries)

    def test_applied_in_time_order_whatever_the_arrival(self):
        picking = self.picking()
        self.record(picking, ("out_for_delivery", 5))
        late = self.record(picking, ("in_transit", 2))
        self.assertEqual(late.state, "stale")
        self.assertFalse(late.is_current)
        self.assertEqual(picking.dsync_shipment_status, "out_for_delivery")
        newer = self.record(picking, ("delivered", 7))
        self.assertEqual(newer.state, "applied")
        self.assertTrue(newer.is_current)
        self.assertEqual(len(picking.dsync_milestone_ids.filtered("is_current")), 1)
        self.assertEqual(picking.dsync_shipment_status, "delivered")
        # several at once, shuffled: applied oldest first
        other = self.picking()
        batch = self.record(
            other, ("delivered", 9), ("pre_transit", 1), ("in_transit", 3)
        )
        self.assertEqual(set(batch.mapped("state")), {"applied"})
        self.assertEqual(batch.filtered("is_current").status, "delivered")
        moved = batch.filtered("changed_status").sorted("occurred_at")
        self.assertEqual(
            moved.mapped("status"), ["pre_transit", "in_transit", "delivered"]
        )

    def test_same_milestone_twice_is_recorded_once(self):
        picking = self.picking()
        first = self.record(picking, ("in_transit", 1, "scan-1"))
        again = self.record(
            picking, ("in_transit", 1, "scan-1"), ("in_transit", 1, "scan-1")
        )
        self.assertFalse(again)
        self.assertEqual(picking.dsync_milestone_ids, first)

    def test_unknown_is_kept_but_moves_nothing(self):
        picking = self.picking()
        self.record(picking, ("in_transit", 1))
        unknown = self.record(picking, ("unknown", 2))
        self.assertEqual(unknown.state, "applied")
        self.assertFalse(unknown.is_current)
        self.assertEqual(picking.dsync_shipment_status, "in_transit")

    def test_status_since_spans_a_run_of_one_status(self):
        picking = self.picking()
        self.record(picking, ("in_transit", 1), ("in_transit", 5))
        current = picking.dsync_milestone_ids.filtered("is_current")
        self.assertEqual(current.occurred_at, T0 + timedelta(hours=5))
        self.assertEqual(current.status_since, T0 + timedelta(hours=1))
        self.record(picking, ("out_for_delivery", 8), ("in_transit", 9))
        current = picking.dsync_milestone_ids.filtered("is_current")
        self.assertEqual(current.status_since, T0 + timedelta(hours=9))

    def test_packages_the_least_advanced_and_problems_first(self):
        picking = self.picking()
        one = self.env["stock.quant.package"].create({})
        two = self.env["stock.quant.package"].create({})
        self.record(picking, ("pre_transit", 0, "l1"), package=one)
        self.record(picking, ("pre_transit", 0, "l2"), package=two)
        self.record(picking, ("delivered", 4, "d1"), package=one)
        self.assertEqual(picking.dsync_shipment_status, "pre_transit")
        self.assertEqual(one.dsync_shipment_status, "delivered")
        self.record(picking, ("in_transit", 5, "t2"), package=two)
        self.assertEqual(picking.dsync_shipment_status, "in_transit")
        self.assertFalse(picking.dsync_delivered_at)
        self.record(picking, ("failure", 6, "f2"), package=two)
        self.assertEqual(picking.dsync_shipment_status, "failure")
        self.assertEqual(picking.delivery_state, "incident")
        self.record(
            picking, ("delivered", 9, "d2", {"signed_by": "J. DOE"}), package=two
        )
        self.assertEqual(picking.dsync_shipment_status, "delivered")
        self.assertEqual(picking.dsync_signed_by, "J. DOE")

    def test_delivery_state_and_proof_of_delivery(self):
        picking = self.picking()
        self.record(picking, ("pre_transit", 0))
        self.assertEqual(picking.delivery_state, "shipping_recorded_in_carrier")
        self.record(picking, ("shipped", 1, None, {}), source="wms")
        self.assertEqual(picking.delivery_state, "in_transit")
        self.assertEqual(picking.date_shipped, (T0 + timedelta(hours=1)).date())
        self.record(
            picking,
            (
                "delivered",
                6,
                "pod",
                {"signed_by": "R. RECEIVER", "proof_url": "https://track.example/pod"},
            ),
        )
        self.assertEqual(picking.delivery_state, "customer_delivered")
        self.assertEqual(picking.dsync_delivered_at, T0 + timedelta(hours=6))
        self.assertEqual(picking.date_delivered, T0 + timedelta(hours=6))
        self.assertEqual(picking.dsync_proof_url, "https://track.example/pod")
        self.assertIn("delivered scan", picking.tracking_state)
        self.assertIn("Delivered", picking.tracking_state_history.splitlines()[0])
        note = picking.message_ids.filtered(lambda m: "R. RECEIVER" in (m.body or ""))
        self.assertEqual(len(note), 1, "the delivered hook says who signed")
        # a WMS wrote "shipped": its source is kept
        self.assertEqual(
            picking.dsync_milestone_ids.filtered(
                lambda m: m.status == "shipped"
            ).source,
            "wms",
        )

    def test_email_rule_sends_once_per_status_reached(self):
        template = self.env.ref(
            "distribution_sync_shipment.mail_template_shipment_update"
        )
        self.env["dsync.shipment.notification"].create(
            {"status": "out_for_delivery", "mail_template_id": template.id}
        )
        picking = self.picking()
        before = picking.message_ids
        # three scans at once, ending out for delivery: one e-mail
        self.record(
            picking, ("in_transit", 1), ("in_transit", 2), ("out_for_delivery", 3)
        )
        mails = (picking.message_ids - before).filtered(
            lambda m: self.customer in m.partner_ids
        )
        self.assertEqual(len(mails), 1)
        # in transit then delivered at once: not out for delivery now, no e-mail
        other = self.picking()
        before = other.message_ids
        self.record(other, ("out_for_delivery", 1), ("delivered", 2))
        self.assertFalse(
            (other.message_ids - before).filtered(
                lambda m: self.customer in m.partner_ids
            )
        )

    def test_aggregate(self):
        t = T0
        self.assertEqual(
            aggregate_status([("delivered", t), ("in_transit", t)]), "in_transit"
        )
        self.assertEqual(
            aggregate_status([("delivered", t), ("delivered", t)]), "delivered"
        )
        self.assertEqual(
            aggregate_status([("delivered", t), ("return_to_sender", t)]),
            "return_to_sender",
        )
        self.assertEqual(
            aggregate_status([("cancelled", t), ("in_transit", t)]), "in_transit"
        )
        self.assertEqual(aggregate_status([("cancelled", t)]), "cancelled")
        self.assertEqual(aggregate_status([("unknown", t)]), "unknown")

    def test_backorder_does_not_inherit_the_shipment(self):
        picking = self.picking()
        self.record(picking, ("delivered", 2))
        copy = picking.copy()
        self.assertFalse(copy.dsync_shipment_status)
        self.assertFalse(copy.dsync_milestone_ids)
        self.assertFalse(copy.dsync_delivered_at)

    def test_views_open(self):
        picking = self.picking()
        self.record(picking, ("in_transit", 1))
        action = picking.action_dsync_milestones()
        self.assertEqual(action["res_model"], "dsync.shipment.milestone")
        self.assertEqual(
            self.Milestone.search(action["domain"]), picking.dsync_milestone_ids
        )
        for model in ("dsync.shipment.milestone", "dsync.shipment.notification"):
            for view_type in ("list", "form", "search"):
                self.env[model].get_view(view_type=view_type)
