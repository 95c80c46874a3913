# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Tracking from signed EasyPost webhooks (through the Odoo route, the inbox
and the job queue) and from polling: milestones in time order, older updates
stale, proof of delivery, e-mails, stuck shipments."""

import copy

from odoo.tests import HttpCase, tagged

from odoo.addons.distribution_sync_core.intake import rate_limiter
from odoo.addons.distribution_sync_core.tests.common import run_jobs

from .common import WEBHOOK_SECRET, CarrierSetup


@tagged("post_install", "-at_install")
class TestTracking(CarrierSetup, HttpCase):
    def setUp(self):
        super().setUp()
        rate_limiter.reset()

    def bought(self, lines=None, packages=None):
        picking = self.delivery(lines, packages)
        self.validate(picking)
        self.drain()
        self.assertEqual(picking.dsync_label_state, "bought")
        return picking

    @property
    def url(self):
        return self.base_url() + self.backend._carrier_webhook_path()

    def post(self, event, secret=WEBHOOK_SECRET):
        self.env.flush_all()
        return self.sim.deliver(self.url, secret, event, session=self.opener)

    def events(self, **domain):
        return self.env["dsync.event"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def milestones(self, picking):
        return picking.dsync_milestone_ids.sorted(lambda m: (m.occurred_at, m.id))

    def test_shuffled_and_duplicated_webhooks_apply_in_time_order(self):
        picking = self.bought()
        label = picking.dsync_label_ids
        tracker = label.tracker_ref
        first = self.sim.advance(tracker, "in_transit", "Picked up")
        second = self.sim.advance(tracker, "in_transit", "Departed facility")
        third = self.sim.advance(tracker, "out_for_delivery", "Out for delivery")
        fourth = self.sim.advance(
            tracker, "delivered", "Delivered, front door", signed_by="J. CARRIER"
        )
        self.assertEqual(self.post(third).status_code, 202)
        self.drain()
        # the older ones arrive after the newer was applied, with the newest
        statuses = [self.post(e).status_code for e in (first, fourth, second)]
        self.assertEqual(statuses, [202] * 3)
        self.assertEqual(self.post(third).status_code, 200, "a redelivery")
        self.drain()
        states = {e.dedup_key: e.state for e in self.events()}
        self.assertEqual(states[third["id"]], "done")
        self.assertEqual(states[fourth["id"]], "done")
        self.assertEqual(states[first["id"]], "stale")
        self.assertEqual(states[second["id"]], "stale")
        milestones = self.milestones(picking)
        self.assertEqual(
            milestones.mapped("status"),
            [
                "pre_transit",
                "in_transit",
                "in_transit",
                "out_for_delivery",
                "delivered",
            ],
        )
        self.assertEqual(set(milestones.mapped("state")), {"applied"})
        self.assertEqual(milestones.filtered("is_current"), milestones[-1])
        self.assertEqual(milestones[1].place, "CHARLOTTE, NC 28202, US")
        self.assertEqual(milestones[1].detail, "Picked up")
        # proof of delivery
        self.assertEqual(picking.dsync_shipment_status, "delivered")
        self.assertEqual(picking.delivery_state, "customer_delivered")
        self.assertEqual(picking.dsync_signed_by, "J. CARRIER")
        self.assertEqual(picking.dsync_proof_url, label.public_url)
        self.assertEqual(picking.dsync_delivered_at, milestones[-1].occurred_at)
        self.assertEqual(picking.date_delivered, milestones[-1].occurred_at)
        self.assertEqual(label.tracking_status, "delivered")
        # the business context of the events: the tracking number, the
        # delivery, its customer
        event = self.events(dedup_key=fourth["id"])
        self.assertEqual(event.doc_ref, label.tracking_code)
        self.assertEqual(event.partner_id, self.customer)
        self.assertEqual((event.res_model, event.res_id), ("stock.picking", picking.id))

    def test_older_scans_arriving_late_are_kept_stale(self):
        """A platform that sends only the new scans: one older than what the
        parcel has is recorded stale and moves nothing."""
        picking = self.bought()
        tracker = picking.dsync_label_ids.tracker_ref
        early = self.sim.advance(tracker, "in_transit", "Arrived at hub")
        late = self.sim.advance(tracker, "out_for_delivery", "With the courier")
        early_only = copy.deepcopy(early)
        late_only = copy.deepcopy(late)
        late_only["result"]["tracking_details"] = late_only["result"][
            "tracking_details"
        ][-1:]
        self.post(late_only)
        self.drain()
        self.post(early_only)
        self.drain()
        milestones = self.milestones(picking)
        self.assertEqual(
            milestones.mapped("status"),
            ["pre_transit", "in_transit", "out_for_delivery"],
        )
        self.assertEqual(milestones.mapped("state"), ["applied", "stale", "applied"])
        self.assertEqual(picking.dsync_shipment_status, "out_for_delivery")
        self.assertEqual(self.events(dedup_key=early["id"]).state, "stale")

    def test_updates_arriving_together_apply_in_time_order(self):
        """Versions of a tracker processed in one batch, newest first: each
        scan in its place, nothing stale."""
        picking = self.bought()
        tracker = picking.dsync_label_ids.tracker_ref
        early = self.sim.advance(tracker, "in_transit", "Arrived at hub")
        late = self.sim.advance(tracker, "out_for_delivery", "With the courier")
        early["result"]["tracking_details"] = early["result"]["tracking_details"][-1:]
        late["result"]["tracking_details"] = late["result"]["tracking_details"][-1:]
        self.post(late)
        self.post(early)
        self.drain()
        milestones = self.milestones(picking)
        self.assertEqual(
            milestones.mapped("status"),
            ["pre_transit", "in_transit", "out_for_delivery"],
        )
        self.assertEqual(set(milestones.mapped("state")), {"applied"})
        self.assertEqual(set(self.events().mapped("state")), {"done"})
        self.assertEqual(picking.dsync_shipment_status, "out_for_delivery")

    def test_package_by_package_the_delivery_is_delivered_with_the_last(self):
        picking = self.bought(
            [(self.product_a, 1), (self.product_b, 1)],
            packages=[[self.product_a], [self.product_b]],
        )
        one, two = picking.dsync_label_ids.sorted("id")
        self.post(self.sim.advance(one.tracker_ref, "in_transit"))
        self.post(self.sim.advance(one.tracker_ref, "delivered"))
        self.post(self.sim.advance(two.tracker_ref, "in_transit"))
        self.drain()
        self.assertEqual(picking.dsync_shipment_status, "in_transit")
        self.assertFalse(picking.dsync_delivered_at)
        self.assertEqual(one.package_id.dsync_shipment_status, "delivered")
        self.assertEqual(two.package_id.dsync_shipment_status, "in_transit")
        self.post(self.sim.advance(two.tracker_ref, "delivered"))
        self.drain()
        self.assertEqual(picking.dsync_shipment_status, "delivered")
        self.assertEqual(
            set(picking.dsync_milestone_ids.package_id.ids),
            {one.package_id.id, two.package_id.id},
        )

    def test_bad_input_gets_its_answer_and_is_kept(self):
        picking = self.bought()
        tracker = picking.dsync_label_ids.tracker_ref
        event = self.sim.advance(tracker, "in_transit")
        self.assertEqual(self.post(event, secret="not-the-secret").status_code, 401)
        malformed = copy.deepcopy(event)
        malformed["result"] = {"object": "Tracker", "status": "in_transit"}
        malformed["id"] = "evt_malformed"
        self.assertEqual(self.post(malformed).status_code, 400)
        unknown = dict(
            copy.deepcopy(event), id="evt_unknown", description="tracker.deleted"
        )
        self.assertEqual(self.post(unknown).status_code, 400)
        rejected = self.events(state="rejected")
        self.assertEqual(sorted(rejected.mapped("http_status")), [400, 400, 401])
        self.drain()
        self.assertEqual(
            picking.dsync_shipment_status, "pre_transit", "nothing applied"
        )
        # an account event EasyPost sends to every webhook: acknowledged, kept
        batch = self.sim._envelope(
            "batch.updated", {"object": "Batch", "id": "batch_1"}
        )
        self.assertEqual(self.post(batch).status_code, 202)
        self.drain()
        self.assertEqual(self.events(dedup_key=batch["id"]).state, "done")

    def test_unknown_tracker_becomes_an_exception(self):
        self.bought()
        foreign = copy.deepcopy(self.sim.event(next(iter(self.sim.trackers))))
        foreign["result"].update(
            id="trk_foreign", tracking_code="1ZFOREIGN", shipment_id=None
        )
        self.assertEqual(self.post(foreign).status_code, 202)
        run_jobs(self.env, ignore_eta=True)
        event = self.events(dedup_key=foreign["id"])
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.kind_key, "carrier:unknown_tracker")
        self.assertIn("1ZFOREIGN", event.exception_ids.message)

    def test_customer_emails_on_configured_milestones(self):
        template = self.env.ref(
            "distribution_sync_shipment.mail_template_shipment_update"
        )
        self.env["dsync.shipment.notification"].create(
            {"status": "out_for_delivery", "mail_template_id": template.id}
        )
        picking = self.bought()
        tracker = picking.dsync_label_ids.tracker_ref
        before = picking.message_ids
        self.post(self.sim.advance(tracker, "in_transit"))
        self.drain()
        self.assertFalse(
            (picking.message_ids - before).filtered(
                lambda m: self.customer in m.partner_ids
            )
        )
        self.post(self.sim.advance(tracker, "out_for_delivery"))
        self.drain()
        mails = (picking.message_ids - before).filtered(
            lambda m: self.customer in m.partner_ids
        )
        self.assertEqual(len(mails), 1)
        self.assertIn("Out for delivery", mails.subject)

    def test_delivered_email_of_delivery_state(self):
        company = self.env.company
        company.write(
            {
                "delivery_state_delivered_email_validation": True,
                "delivery_state_delivered_mail_template_id": self.env.ref(
                    "delivery_state.delivery_state_delivered_notification"
                ).id,
            }
        )
        picking = self.bought()
        before = picking.message_ids
        self.post(self.sim.advance(picking.dsync_label_ids.tracker_ref, "delivered"))
        self.drain()
        mails = (picking.message_ids - before).filtered(
            lambda m: self.customer in m.partner_ids
        )
        self.assertEqual(len(mails), 1)
        self.assertIn("delivered", mails.body)

    def test_stuck_shipments_open_one_exception(self):
        picking = self.bought(
            [(self.product_a, 1), (self.product_b, 1)],
            packages=[[self.product_a], [self.product_b]],
        )
        slow, lost = picking.dsync_label_ids.sorted("id")
        self.post(self.sim.advance(slow.tracker_ref, "in_transit"))
        self.post(self.sim.advance(lost.tracker_ref, "failure", "Damaged"))
        self.drain()
        # the simulator's scans are an hour apart, after the purchase: now
        lost.tracking_status_since = self.ago(minutes=1)
        Backend = self.env["dsync.backend"]
        Backend._cron_carrier_stuck_shipments()
        failure = self.exceptions("shipment_stuck")
        self.assertEqual(len(failure), 1, "a failure opens at once")
        self.assertEqual(failure.team, "customer_service")
        self.assertIn(lost.name, failure.message)
        slow.tracking_status_since = self.ago(days=8)
        Backend._cron_carrier_stuck_shipments()
        Backend._cron_carrier_stuck_shipments()
        stuck = self.exceptions("shipment_stuck")
        self.assertEqual(len(stuck), 2, "once per parcel and status")
        self.assertIn(slow.name, (stuck - failure).message)
        self.post(self.sim.advance(slow.tracker_ref, "delivered"))
        self.drain()
        self.assertEqual((stuck - failure).state, "resolved")

    def test_quiet_trackers_are_polled(self):
        picking = self.bought()
        label = picking.dsync_label_ids
        self.sim.advance(label.tracker_ref, "in_transit", "Webhook lost")
        Backend = self.env["dsync.backend"]
        self.assertFalse(Backend._cron_carrier_poll_trackers(), "not quiet yet")
        label.tracking_checked_at = self.ago(hours=13)
        self.assertEqual(Backend._cron_carrier_poll_trackers(), 1)
        self.drain()
        milestone = picking.dsync_milestone_ids.filtered(
            lambda m: m.status == "in_transit"
        )
        self.assertEqual(milestone.detail, "Webhook lost")
        self.assertEqual(milestone.origin_channel, "polling")
        self.assertEqual(self.sim.calls["tracker"], 1)
        self.assertFalse(Backend._cron_carrier_poll_trackers(), "checked just now")

    def test_refund_webhook_settles_the_label(self):
        picking = self.bought()
        label = picking.dsync_label_ids
        picking.cancel_shipment()
        self.drain()
        self.assertEqual(label.state, "refund_submitted")
        self.assertEqual(
            self.post(
                self.sim.settle_refund(label.shipment_ref, "refunded")
            ).status_code,
            202,
        )
        self.drain()
        self.assertEqual(label.state, "refunded")
