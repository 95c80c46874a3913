# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import datetime

import requests

from odoo.exceptions import UserError
from odoo.tools import mute_logger

from ..errors import BusinessError, StaleEvent, TransientError
from .common import DsyncCase, run_jobs


def create_partner(backend, event):
    """A processor with a visible effect: one partner per event payload."""
    data = event._dsync_data()
    return backend.env["res.partner"].create({"name": data["name"], "ref": data["ref"]})


def lookup_then_create(backend, event):
    """A processor that needs a value map before it can apply the event."""
    data = event._dsync_data()
    backend.env["dsync.value.map"]._lookup(backend, "payment_method", data["gateway"])
    return create_partner(backend, event)


class TestPipeline(DsyncCase):
    def partners(self, ref):
        return self.env["res.partner"].search_count([("ref", "=", ref)])

    def test_event_processed_once_and_done(self):
        event = self.make_event("ping", {"name": "Ann", "ref": "P-1"})
        with self.processor("ping", create_partner):
            event._dsync_enqueue()
            self.assertEqual(event.state, "queued")
            self.assertTrue(event.job_id, "the job is stored and linked")
            self.assertEqual(
                event.job_id.channel, f"root.dsync.generic_{self.backend.id}.inbound"
            )
            ran = run_jobs(self.env)
            # a done event is not queued again, and a stray job for it is a no-op
            event._dsync_enqueue()
            self.assertFalse(run_jobs(self.env))
            stray = event.with_delay()._dsync_run()
            ran += run_jobs(self.env)
        self.assertEqual([outcome for _job, outcome, _s in ran], ["done", "done"])
        self.assertIn("nothing to do", ran[1][0].result)
        self.assertEqual(ran[1][0].uuid, stray.uuid)
        self.assertEqual(event.state, "done")
        self.assertEqual(self.partners("P-1"), 1)
        self.assertEqual(event.res_model, "res.partner")
        self.assertTrue(event.processed_at)

    def test_job_runs_with_the_sync_context(self):
        """queue_job keeps only a few context keys with a stored job: the
        sync's own (no tracking, no creation note, the correlation id) must
        survive, or every record a job creates pays for mail's chatter."""
        seen = {}

        def probe(backend, event):
            seen["backend"] = dict(backend.env.context)
            seen["event"] = dict(event.env.context)
            return create_partner(backend, event)

        # queued and run from a plain context, as the webhook route does
        plain = self.env(context={})
        event = self.make_event("ping", {"name": "Ctx", "ref": "P-CTX"}).with_env(plain)
        event._dsync_enqueue()
        with self.processor("ping", probe):
            run_jobs(plain)
        self.assertTrue(seen["backend"].get("tracking_disable"))
        self.assertTrue(seen["backend"].get("mail_create_nolog"))
        self.assertEqual(seen["event"]["dsync_correlation_id"], event.correlation_id)
        partner = self.env["res.partner"].search([("ref", "=", "P-CTX")])
        self.assertFalse(partner.message_ids, "no creation note in the chatter")
        self.assertFalse(partner.message_follower_ids, "no automatic follower")

    def test_identity_key_one_pending_job_per_event(self):
        event = self.make_event("ping", {"name": "Ann", "ref": "P-2"})
        event._dsync_enqueue()
        event._dsync_enqueue()
        jobs = self.env["queue.job"].search(
            [("identity_key", "=", f"dsync-event-{event.id}")]
        )
        self.assertEqual(len(jobs), 1)

    def test_business_error_then_fix_mapping_then_retry(self):
        events = self.make_event(
            "order", {"name": "A", "ref": "B-1", "gateway": "paypal"}
        )
        events |= self.make_event(
            "order", {"name": "B", "ref": "B-2", "gateway": "paypal"}
        )
        with self.processor("order", lookup_then_create):
            events._dsync_enqueue()
            run_jobs(self.env)
            self.assertEqual(set(events.mapped("state")), {"failed"})
            exceptions = events.exception_ids
            self.assertEqual(len(exceptions), 2)
            self.assertEqual(set(exceptions.mapped("category")), {"missing_mapping"})
            self.assertEqual(set(exceptions.mapped("team")), {"it"})
            self.assertEqual(
                set(exceptions.mapped("kind_key")), {"payment_method:paypal"}
            )
            self.assertEqual(exceptions[0].same_kind_count, 2)
            self.assertIn("paypal", exceptions[0].message)
            self.assertEqual(self.partners("B-1"), 0)
            # retrying before the fix changes nothing but the occurrence count
            exceptions[0].action_retry()
            run_jobs(self.env)
            self.assertEqual(exceptions[0].occurrences, 2)
            self.assertEqual(len(events.exception_ids), 2)
            # fix the mapping, then "retry all of this kind" from one exception
            self.env["dsync.value.map"].create(
                {
                    "backend_id": self.backend.id,
                    "map_type": "payment_method",
                    "external_code": "paypal",
                    "odoo_value": "paypal",
                }
            )
            exceptions[0].action_retry_same_kind()
            run_jobs(self.env)
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertEqual(self.partners("B-1") + self.partners("B-2"), 2)

    def test_business_error_team_from_processor(self):
        def unknown_sku(backend, event):
            raise BusinessError("unknown_product", "SKU X-1 unknown", kind_key="X-1")

        event = self.make_event("order")
        with self.processor("order", unknown_sku):
            event._dsync_enqueue()
            run_jobs(self.env)
        exc = event.exception_ids
        self.assertEqual(
            (exc.category, exc.team, exc.state),
            ("unknown_product", "warehouse", "open"),
        )
        self.assertEqual(exc.correlation_id, event.correlation_id)

    def test_transient_error_backs_off_then_exception(self):
        calls = []

        def flaky(backend, event):
            calls.append(1)
            raise requests.ConnectionError("platform unreachable")

        flow = self.flow("inbound")
        flow.write(
            {"max_retries": 4, "retry_base_seconds": 10, "retry_max_seconds": 1000}
        )
        event = self.make_event("ping")
        with self.processor("ping", flaky):
            event._dsync_enqueue()
            ran = run_jobs(self.env)
        outcomes = [outcome for _job, outcome, _s in ran]
        self.assertEqual(outcomes, ["postponed", "postponed", "postponed", "done"])
        self.assertEqual(len(calls), 4)
        delays = [seconds for _job, outcome, seconds in ran if outcome == "postponed"]
        # full-jitter backoff: attempt n waits within [50 %, 100 %] of 10 * 2^(n-1)
        for attempt, delay in enumerate(delays, start=1):
            step = 10 * 2 ** (attempt - 1)
            self.assertGreaterEqual(delay, step // 2)
            self.assertLessEqual(delay, step)
        self.assertLess(delays[0], delays[2], "delays grow")
        self.assertEqual(event.state, "failed")
        exc = event.exception_ids
        self.assertEqual(exc.category, "retries_exhausted")
        self.assertEqual(exc.team, "it")
        self.assertIn("4 attempts", exc.message)
        self.assertEqual(event.job_id.retry, 4)

    def test_transient_retry_after_is_honoured(self):
        def throttled(backend, event):
            raise TransientError("429 Too Many Requests", retry_after=42)

        event = self.make_event("ping")
        with self.processor("ping", throttled):
            event._dsync_enqueue()
            ran = run_jobs(self.env, max_rounds=1, converge=False)[:1]
        self.assertEqual(ran[0][1:], ("postponed", 42))

    def test_transient_then_success(self):
        state = {"n": 0}

        def second_time_lucky(backend, event):
            state["n"] += 1
            if state["n"] == 1:
                raise TransientError("timeout")
            return create_partner(backend, event)

        event = self.make_event("ping", {"name": "C", "ref": "T-1"})
        with self.processor("ping", second_time_lucky):
            event._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual(event.state, "done")
        self.assertEqual(self.partners("T-1"), 1)
        self.assertFalse(event.exception_ids)

    def test_effects_rolled_back_on_failure(self):
        def half_then_fail(backend, event):
            create_partner(backend, event)
            raise BusinessError("amount_mismatch", "total differs by 0.05")

        event = self.make_event("ping", {"name": "D", "ref": "R-1"})
        with self.processor("ping", half_then_fail):
            event._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual(
            self.partners("R-1"), 0, "a failed event leaves no half effect"
        )
        self.assertEqual(event.exception_ids.team, "finance")

    def test_stale_and_duplicate_versions(self):
        partner = self.env["res.partner"].create({"name": "Bound"})
        binding = self.env["dsync.binding"]._bind(
            self.backend,
            partner,
            "ext-1",
            updated_at=datetime(2026, 1, 2, 10, 0),
            version="v2",
        )

        def guarded(backend, event):
            data = event._dsync_data()
            ts = datetime.fromisoformat(data["updated_at"])
            event._dsync_guard_version(binding, ts, data.get("version"))
            partner.name = data["name"]
            binding.write(
                {"external_updated_at": ts, "external_version": data["version"]}
            )
            return partner

        older = self.make_event(
            "upd", {"name": "Old", "updated_at": "2026-01-01T10:00:00", "version": "v1"}
        )
        same = self.make_event(
            "upd",
            {"name": "Same", "updated_at": "2026-01-02T10:00:00", "version": "v2"},
        )
        newer = self.make_event(
            "upd", {"name": "New", "updated_at": "2026-01-03T10:00:00", "version": "v3"}
        )
        with self.processor("upd", guarded):
            (older | same | newer)._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual(older.state, "stale")
        self.assertEqual(same.state, "duplicate")
        self.assertEqual(newer.state, "done")
        self.assertEqual(partner.name, "New")
        self.assertFalse(
            (older | same).exception_ids, "stale is recorded, not an exception"
        )

    def test_out_of_order_delivery_same_final_state(self):
        partner = self.env["res.partner"].create({"name": "Bound"})
        binding = self.env["dsync.binding"]._bind(self.backend, partner, "ext-2")

        def guarded(backend, event):
            data = event._dsync_data()
            ts = datetime.fromisoformat(data["updated_at"])
            event._dsync_guard_version(binding, ts)
            partner.name = data["name"]
            binding.external_updated_at = ts
            return partner

        newer = self.make_event(
            "upd", {"name": "v2", "updated_at": "2026-02-02T00:00:00"}
        )
        older = self.make_event(
            "upd", {"name": "v1", "updated_at": "2026-02-01T00:00:00"}
        )
        with self.processor("upd", guarded):
            newer._dsync_enqueue()
            run_jobs(self.env)
            older._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual(partner.name, "v2")
        self.assertEqual(older.state, "stale")

    def test_unexpected_error_becomes_processing_exception(self):
        def buggy(backend, event):
            return event._dsync_data()["missing"]

        event = self.make_event("ping", {"id": 3})
        with (
            self.processor("ping", buggy),
            mute_logger("odoo.addons.distribution_sync_core.models.dsync_event"),
        ):
            event._dsync_enqueue()
            run_jobs(self.env)
        exc = event.exception_ids
        self.assertEqual(exc.category, "processing_error")
        self.assertIn("KeyError", exc.details)
        self.assertEqual(
            event.job_id.state,
            "done",
            "the job itself did its work: it recorded the failure",
        )

    def test_unknown_topic_is_unsupported_exception(self):
        event = self.make_event("nobody/handles")
        event._dsync_enqueue()
        run_jobs(self.env)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "unsupported")

    def test_ignore_needs_a_reason(self):
        event = self.make_event("nobody/handles")
        event._dsync_enqueue()
        run_jobs(self.env)
        exc = event.exception_ids
        wizard = (
            self.env["dsync.exception.ignore"]
            .with_context(active_ids=exc.ids)
            .create({"reason": "handled by phone"})
        )
        wizard.action_confirm()
        self.assertEqual(
            (exc.state, exc.ignore_reason), ("ignored", "handled by phone")
        )
        exc.action_reopen()
        self.assertEqual(exc.state, "open")
        with self.assertRaises(UserError):
            exc._dsync_ignore("  ")

    def test_rejected_events_cannot_be_retried(self):
        event = self.make_event(
            "ping", state="rejected", dedup_key=False, reject_reason="bad signature"
        )
        with self.assertRaises(UserError):
            event.action_retry()

    def test_ownership_conflict(self):
        Rule = self.env["dsync.ownership.rule"]
        Rule.search([("business_object", "=", "tracking")]).unlink()
        self.assertTrue(Rule._may_change(self.backend, "tracking"), "no rule: allowed")
        self.assertFalse(
            Rule._may_change(self.backend, "stock_level"), "Odoo owns stock levels"
        )

        def change_stock(backend, event):
            backend.env["dsync.ownership.rule"]._check_change(backend, "stock_level")

        event = self.make_event("stock")
        with self.processor("stock", change_stock):
            event._dsync_enqueue()
            run_jobs(self.env)
        exc = event.exception_ids
        self.assertEqual((exc.category, exc.team), ("conflict", "operations"))

    def test_received_events_left_waiting_are_dispatched(self):
        fresh = self.make_event("nobody/handles")
        waiting = self.make_event("nobody/handles")
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE dsync_event SET create_date = create_date - interval '5 minutes'"
            " WHERE id = %s",
            (waiting.id,),
        )
        Job = self.env["queue.job"]
        key = f"dsync-dispatch-{self.backend.id}"
        self.env["dsync.backend"]._cron_dsync_dispatch_received()
        self.assertEqual(Job.search_count([("identity_key", "=", key)]), 1)
        # the dispatcher queues every received event of the backend, oldest first
        run_jobs(self.env)
        self.assertEqual((waiting | fresh).mapped("state"), ["failed", "failed"])
        self.env["dsync.backend"]._cron_dsync_dispatch_received()
        self.assertFalse(
            Job.search_count([("identity_key", "=", key), ("state", "=", "pending")])
        )

    def test_archived_flow_is_not_recreated(self):
        flow = self.flow("inbound")
        flow.active = False
        self.backend._dsync_ensure_flows()
        self.assertEqual(self.backend._dsync_flow("inbound"), flow)
        self.assertEqual(
            self.backend.with_context(active_test=False)
            .flow_ids.mapped("code")
            .count("inbound"),
            1,
        )

    def test_event_name_search(self):
        event = self.make_event("orders/paid", correlation_id="corr-xyz")
        Event = self.env["dsync.event"]
        self.assertIn(event, Event.search([("display_name", "ilike", "orders/paid")]))
        self.assertIn(event.id, [row[0] for row in Event.name_search("corr-xyz")])
        self.assertEqual(event.display_name, f"orders/paid (event {event.id})")

    def test_stale_error_class(self):
        def stale(backend, event):
            raise StaleEvent("older")

        event = self.make_event("ping")
        with self.processor("ping", stale):
            event._dsync_enqueue()
            run_jobs(self.env)
        self.assertEqual((event.state, event.last_error), ("stale", "older"))
