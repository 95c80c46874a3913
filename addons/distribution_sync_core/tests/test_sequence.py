# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Per-key sequencing of events and follow-up exceptions, on a generic
backend whose processor records the order in which it applied events."""

from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..errors import BusinessError
from .common import DsyncCase, run_jobs


@tagged("post_install", "-at_install")
class TestSequencing(DsyncCase):
    def setUp(self):
        super().setUp()
        self.applied = []
        self.failing = set()

    def record(self, backend, event):
        data = event._dsync_data()
        if data["name"] in self.failing:
            raise BusinessError("unknown_product", "SKU X is unknown", kind_key="sku:X")
        self.applied.append(data["name"])
        return backend.env["res.partner"].create({"name": data["name"]})

    def seq_event(self, number, key="ORDER-1", name=None):
        return self.make_event(
            "ping",
            {"name": name or f"{key}#{number}"},
            sequence_key=key,
            sequence=number,
        )

    def process_all(self, *events):
        self.backend._dsync_wake_dispatcher()
        with self.processor("ping", self.record):
            run_jobs(self.env)
        for event in events:
            event.invalidate_recordset()

    def test_in_order_events_apply_at_once(self):
        first, second = self.seq_event(1), self.seq_event(2)
        self.process_all(first, second)
        self.assertEqual((first.state, second.state), ("done", "done"))
        self.assertEqual(self.applied, ["ORDER-1#1", "ORDER-1#2"])
        sequence = self.env["dsync.event.sequence"].search(
            [("backend_id", "=", self.backend.id), ("key", "=", "ORDER-1")]
        )
        self.assertEqual((sequence.last_applied, sequence.last_event_id), (2, second))

    def test_reversed_events_wait_then_apply_in_order(self):
        third, second = self.seq_event(3), self.seq_event(2)
        self.process_all(third, second)
        self.assertEqual((third.state, second.state), ("waiting", "waiting"))
        self.assertEqual((third.waiting_for, second.waiting_for), (1, 1))
        self.assertEqual(
            second.sequence_status, "Waiting for sequence 1 of ORDER-1", "in the list"
        )
        self.assertFalse(self.applied)
        other = self.seq_event(1, key="ORDER-2")
        self.process_all(other)
        self.assertEqual(other.state, "done", "another key does not wait")
        first = self.seq_event(1)
        self.process_all(first, second, third)
        self.assertEqual(
            [first.state, second.state, third.state], ["done", "done", "done"]
        )
        self.assertEqual(
            self.applied, ["ORDER-2#1", "ORDER-1#1", "ORDER-1#2", "ORDER-1#3"]
        )

    def test_later_events_wait_for_the_next_missing_number(self):
        fourth, second = self.seq_event(4), self.seq_event(2)
        self.process_all(fourth, second)
        first = self.seq_event(1)
        self.process_all(first, second, fourth)
        self.assertEqual([first.state, second.state], ["done", "done"])
        self.assertEqual((fourth.state, fourth.waiting_for), ("waiting", 3))

    def test_older_number_is_stale_and_not_applied(self):
        first = self.seq_event(1)
        self.process_all(first)
        again = self.seq_event(1, name="resent under a new id")
        self.process_all(again)
        self.assertEqual(again.state, "stale")
        self.assertIn("already applied", again.last_error)
        self.assertEqual(self.applied, ["ORDER-1#1"])

    def test_gap_that_never_fills_becomes_an_exception(self):
        second = self.seq_event(2)
        self.process_all(second)
        self.env["dsync.event"]._dsync_fail_expired_waits()
        self.assertEqual(second.state, "waiting", "not before the timeout")
        self.backend.sequence_gap_minutes = 10
        second.sudo().waiting_since = fields.Datetime.now() - timedelta(minutes=11)
        self.env["dsync.backend"]._cron_dsync_dispatch_received()
        second.invalidate_recordset()
        self.assertEqual(second.state, "failed")
        exception = second.exception_ids
        self.assertEqual(
            (exception.category, exception.team, exception.kind_key),
            ("missing_event", "operations", "sequence:ORDER-1"),
        )
        self.assertIn("waited since", exception.message)
        # the missing event arrives after all: both apply, the exception closes
        first = self.seq_event(1)
        self.process_all(first, second)
        self.assertEqual((first.state, second.state), ("done", "done"))
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self.applied, ["ORDER-1#1", "ORDER-1#2"])

    def test_apply_without_waiting_then_the_late_one_is_stale(self):
        third = self.seq_event(3)
        self.process_all(third)
        self.backend.sequence_gap_minutes = 0
        third.sudo().waiting_since = fields.Datetime.now() - timedelta(minutes=1)
        self.env["dsync.event"]._dsync_fail_expired_waits()
        exception = third.exception_ids
        exception.action_apply_without_waiting()
        self.process_all(third)
        self.assertEqual(third.state, "done")
        self.assertTrue(third.sequence_forced)
        self.assertEqual(exception.state, "resolved")
        late = self.seq_event(2)
        self.process_all(late)
        self.assertEqual(late.state, "stale")
        self.assertEqual(self.applied, ["ORDER-1#3"])

    def test_a_failed_event_holds_the_next_until_it_is_fixed(self):
        first, second = self.seq_event(1), self.seq_event(2)
        self.failing.add("ORDER-1#1")
        self.process_all(first, second)
        self.assertEqual((first.state, second.state), ("failed", "waiting"))
        self.failing.clear()
        with self.processor("ping", self.record):
            first.exception_ids.action_retry()  # a person's retry runs now
        self.process_all(first, second)
        self.assertEqual((first.state, second.state), ("done", "done"))
        self.assertEqual(self.applied, ["ORDER-1#1", "ORDER-1#2"])

    def test_batch_hook_gets_only_the_next_event_of_each_key(self):
        """Reversed events of one key in one batch job: the batch hook is
        given only events it may apply now; the others follow in order."""
        given = []

        def hook(backend, events):
            given.append(sorted(events.mapped("sequence_key")))
            return {event: self.record(backend, event) for event in events}

        self.backend._dsync_flow_for_topic("ping").batch_size = 20
        events = (
            self.seq_event(2)
            | self.seq_event(1)
            | self.seq_event(1, key="ORDER-2")
            | self.seq_event(1, key="ORDER-3")
            | self.seq_event(3, key="ORDER-3")
        )
        with patch.object(self.Backend, "_generic_process_batch", hook, create=True):
            self.process_all(*events)
        self.assertEqual(given, [["ORDER-1", "ORDER-2", "ORDER-3"]])
        self.assertEqual(events.mapped("state")[:4], ["done"] * 4)
        self.assertEqual(events[4].state, "waiting")
        self.assertLess(
            self.applied.index("ORDER-1#1"), self.applied.index("ORDER-1#2")
        )


@tagged("post_install", "-at_install")
class TestFollowUps(DsyncCase):
    @contextmanager
    def applying(self, follow_up=True, then_fail=False):
        def process(backend, event):
            partner = backend.env["res.partner"].create({"name": "applied"})
            if follow_up:
                event._dsync_follow_up(
                    BusinessError(
                        "short_shipped",
                        "2 units of SKU-A were not shipped: tell the customer.",
                        record=partner,
                        kind_key="short:SKU-A",
                    )
                )
            if then_fail:
                raise BusinessError("invalid_payload", "broken after all")
            return partner

        with self.processor("ping", process):
            yield

    def test_processor_applies_and_opens_a_follow_up(self):
        event = self.make_event("ping", {"n": 1})
        failure = self.env["dsync.exception"]._dsync_open(
            BusinessError("processing_error", "an earlier try failed"), event=event
        )
        with self.applying():
            event._dsync_delay()
            run_jobs(self.env)
        self.assertEqual(event.state, "done")
        self.assertEqual(failure.state, "resolved", "the earlier failure is over")
        follow_up = event.exception_ids.filtered("follow_up")
        self.assertEqual(len(follow_up), 1)
        self.assertEqual(
            (follow_up.category, follow_up.team, follow_up.state),
            ("short_shipped", "customer_service", "open"),
        )
        self.assertEqual(follow_up.res_model, "res.partner")
        self.assertEqual(follow_up.res_id, event.res_id)
        follow_up.action_resolve()
        self.assertEqual(follow_up.state, "resolved")

    def test_no_follow_up_when_the_processor_fails(self):
        event = self.make_event("ping", {"n": 2})
        with self.applying(then_fail=True):
            event._dsync_delay()
            run_jobs(self.env)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.mapped("category"), ["invalid_payload"])
        self.assertFalse(self.env["res.partner"].search([("name", "=", "applied")]))

    def test_follow_ups_of_a_batch(self):
        events = self.make_event("ping", {"n": 3}) | self.make_event("ping", {"n": 4})

        def hook(backend, batch):
            result = {}
            for event in batch:
                event._dsync_follow_up(
                    BusinessError("to_review", "check it", team="finance")
                )
                result[event] = backend.env["res.partner"].create({"name": "b"})
            return result

        with patch.object(self.Backend, "_generic_process_batch", hook, create=True):
            events._dsync_delay_batch(self.backend._dsync_flow_for_topic("ping"))
            run_jobs(self.env)
        for event in events:
            self.assertEqual(event.state, "done")
            self.assertEqual(
                event.exception_ids.mapped(lambda e: (e.category, e.team, e.follow_up)),
                [("to_review", "finance", True)],
            )
