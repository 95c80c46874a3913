# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tools import mute_logger

from ..errors import BusinessError, TransientError
from .common import DsyncCase, run_jobs


class TestOutbox(DsyncCase):
    def setUp(self):
        super().setUp()
        self.Outbox = self.env["dsync.outbox"]
        self.sent = []

    def post(self, key, data, **kw):
        return self.Outbox._dsync_post(self.backend, "outbound", key, data, **kw)

    def recording_sender(self, backend, messages):
        self.sent.append(
            [(m.coalesce_key, m._dsync_data(), m.idempotency_key) for m in messages]
        )
        return {}

    def test_coalescing_latest_wins(self):
        first = self.post("SKU-1@WH", {"qty": 5}, trigger=False)
        second = self.post("SKU-1@WH", {"qty": 3}, trigger=False)
        other = self.post("SKU-2@WH", {"qty": 9}, trigger=False)
        self.assertEqual(first, second, "same key while pending: one message")
        self.assertNotEqual(first, other)
        self.assertEqual(first._dsync_data(), {"qty": 3})
        self.assertEqual(first.coalesced_count, 1)
        self.assertEqual(
            self.Outbox.search_count([("backend_id", "=", self.backend.id)]), 2
        )

    def test_post_many_coalesces_like_one_by_one(self):
        pending = self.post("SKU-1@WH", {"qty": 5}, trigger=False)
        partner = self.env.ref("base.partner_admin")
        items = [(f"SKU-{i}@WH", {"qty": i}, partner) for i in range(2, 2500)]
        items += [("SKU-1@WH", {"qty": 7}, None), ("SKU-2@WH", {"qty": -1}, None)]
        messages = self.Outbox.with_context(
            dsync_correlation_id="corr-bulk"
        )._dsync_post_many(self.backend, "outbound", items, trigger=False)
        self.assertEqual(len(messages), 2499, "one message per key, over 3 chunks")
        self.assertIn(pending, messages)
        self.assertEqual(pending._dsync_data(), {"qty": 7})
        self.assertEqual(pending.coalesced_count, 1)
        by_key = {m.coalesce_key: m for m in messages}
        self.assertEqual(by_key["SKU-2@WH"]._dsync_data(), {"qty": -1}, "last wins")
        self.assertEqual(by_key["SKU-9@WH"].res_id, partner.id)
        self.assertEqual(set(messages.mapped("correlation_id")), {"corr-bulk"})
        self.assertEqual(len(set(messages.mapped("idempotency_key"))), 2499)
        self.assertEqual(
            self.Outbox.search_count([("backend_id", "=", self.backend.id)]), 2499
        )
        self.assertFalse(
            self.env["queue.job"].search(
                [("identity_key", "=like", f"dsync-drain-{self.backend.id}-%")]
            ),
            "no drain without trigger",
        )
        self.Outbox._dsync_post_many(self.backend, "outbound", items[:1])
        self.assertTrue(
            self.env["queue.job"].search(
                [("identity_key", "=", f"dsync-drain-{self.backend.id}-outbound")]
            ),
            "a real-time flow is drained",
        )

    def test_batches_and_idempotency(self):
        self.flow("outbound").batch_size = 2
        messages = self.Outbox.browse()
        for i in range(5):
            messages |= self.post(f"SKU-{i}", {"qty": i})
        with self.sender("outbound", self.recording_sender):
            run_jobs(self.env, ignore_eta=False)
        self.assertEqual([len(batch) for batch in self.sent], [2, 2, 1])
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        keys = [key for batch in self.sent for _k, _d, key in batch]
        self.assertEqual(len(set(keys)), 5, "every message has its own idempotency key")
        self.assertEqual(set(messages.mapped("attempts")), {1})

    def test_a_key_sent_then_changed_is_a_new_message(self):
        first = self.post("SKU-1", {"qty": 1})
        with self.sender("outbound", self.recording_sender):
            run_jobs(self.env, ignore_eta=False)
            second = self.post("SKU-1", {"qty": 0})
            run_jobs(self.env, ignore_eta=False)
        self.assertNotEqual(first, second)
        self.assertEqual([b[0][1] for b in self.sent], [{"qty": 1}, {"qty": 0}])

    def test_transient_failure_retries_then_exception(self):
        flow = self.flow("outbound")
        flow.write({"max_retries": 3, "retry_base_seconds": 1})
        self.backend.circuit_failure_threshold = 0

        def down(backend, messages):
            raise TransientError("503 Service Unavailable")

        message = self.post("SKU-1", {"qty": 1})
        with self.sender("outbound", down):
            for _attempt in range(3):
                self.time_passes()
                run_jobs(self.env, ignore_eta=False)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.attempts, 3)
        self.assertEqual(message.exception_ids.category, "retries_exhausted")

    def test_backoff_schedules_next_attempt(self):
        self.flow("outbound").write({"retry_base_seconds": 60})

        def down(backend, messages):
            raise TransientError("timeout")

        message = self.post("SKU-1", {"qty": 1})
        with self.sender("outbound", down):
            run_jobs(self.env, ignore_eta=False)
        self.assertEqual(message.state, "pending")
        self.assertEqual(message.attempts, 1)
        wait = (message.next_attempt_at - message.write_date).total_seconds()
        self.assertGreaterEqual(wait, 29)
        self.assertLessEqual(wait, 61)
        drains = self.env["queue.job"].search(
            [
                ("identity_key", "=", f"dsync-drain-{self.backend.id}-outbound"),
                ("state", "=", "pending"),
            ]
        )
        self.assertEqual(len(drains), 1, "the next drain waits for the retry time")
        self.assertTrue(drains.eta)

    def test_per_message_business_error(self):
        def partial(backend, messages):
            bad = messages.filtered(lambda m: m.coalesce_key == "BAD")
            return {
                m.id: BusinessError("platform_rejected", "unknown inventory item")
                for m in bad
            }

        good = self.post("GOOD", {"qty": 1})
        bad = self.post("BAD", {"qty": 1})
        with self.sender("outbound", partial):
            run_jobs(self.env, ignore_eta=False)
        self.assertEqual(good.state, "sent")
        self.assertEqual(bad.state, "failed")
        self.assertEqual(
            (bad.exception_ids.category, bad.exception_ids.team),
            ("platform_rejected", "operations"),
        )
        # fixing and retrying from the exception sends it
        with self.sender("outbound", self.recording_sender):
            bad.exception_ids.action_retry()
            run_jobs(self.env, ignore_eta=False)
        self.assertEqual(bad.state, "sent")
        self.assertEqual(bad.exception_ids.state, "resolved")

    def test_circuit_breaker_opens_and_holds_sends(self):
        self.backend.write(
            {"circuit_failure_threshold": 2, "circuit_cooldown_seconds": 600}
        )
        calls = []

        def down(backend, messages):
            calls.append(len(messages))
            raise TransientError("connection refused")

        message = self.post("SKU-1", {"qty": 1})
        with (
            self.sender("outbound", down),
            mute_logger("odoo.addons.distribution_sync_core.models.dsync_backend"),
        ):
            for _attempt in range(4):
                self.time_passes()
                run_jobs(self.env, ignore_eta=False)
        self.assertEqual(
            len(calls), 2, "after 2 failures the circuit is open: no more calls"
        )
        self.assertTrue(self.backend._dsync_circuit_is_open())
        self.assertEqual((message.state, message.attempts), ("pending", 2))
        self.backend.action_reset_circuit()
        self.assertFalse(self.backend._dsync_circuit_is_open())

    def test_interval_mode_waits_for_cron(self):
        flow = self.flow("outbound")
        flow.write({"mode": "interval", "interval_minutes": 5})
        self.post("SKU-1", {"qty": 1})
        self.assertFalse(
            self.env["queue.job"].search_count(
                [("identity_key", "like", f"dsync-drain-{self.backend.id}-")]
            )
        )
        self.env["dsync.backend"]._cron_dsync_drain_outbox()
        self.assertEqual(
            self.env["queue.job"].search_count(
                [("identity_key", "=", f"dsync-drain-{self.backend.id}-outbound")]
            ),
            1,
        )
        self.assertTrue(flow.last_run_at)

    def test_ordered_flow_keeps_the_order_through_an_outage(self):
        """The platform is down for the first batch: nothing posted after
        it overtakes it, and once back everything goes out in order."""
        flow = self.flow("outbound")
        flow.write({"ordered": True, "batch_size": 2})
        down = {"on": True}

        def sender(backend, messages):
            if down["on"]:
                raise TransientError("platform down")
            self.sent.append([m.coalesce_key for m in messages])
            return {}

        messages = self.Outbox.browse()
        for i in range(5):
            messages |= self.post(f"REL-{i}", {"n": i}, trigger=False)
        with (
            self.sender("outbound", sender),
            mute_logger("odoo.addons.distribution_sync_core.models.dsync_backend"),
        ):
            flow._enqueue_drain()
            run_jobs(self.env, ignore_eta=False)
            self.assertEqual(messages.mapped("state"), ["pending"] * 5)
            # the failed batch retries together; the later ones were not tried
            self.assertEqual(messages.mapped("attempts"), [1, 1, 0, 0, 0])
            self.assertEqual(len(set(messages[:2].mapped("next_attempt_at"))), 1)
            # more is posted while the platform is down: it waits its turn
            messages |= self.post("REL-5", {"n": 5})
            run_jobs(self.env, ignore_eta=False)
            self.assertEqual(messages[5].attempts, 0)
            down["on"] = False
            self.time_passes()
            run_jobs(self.env, ignore_eta=False)
        self.assertEqual(
            [key for batch in self.sent for key in batch],
            [f"REL-{i}" for i in range(6)],
        )
        self.assertEqual(set(messages.mapped("state")), {"sent"})
