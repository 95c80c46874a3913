# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Batch jobs: under load the dispatcher queues a flow's received events
together; each event still gets its own outcome, savepoint and retries."""

from contextlib import contextmanager
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.jobrunner.runner import Database

from ..dispatcher import channel_capacity, even_chunks
from ..errors import BusinessError, StaleEvent, TransientError
from .common import DsyncCase, run_jobs


@tagged("post_install", "-at_install")
class TestBatch(DsyncCase):
    def setUp(self):
        super().setUp()
        self.calls = []
        self.flow = self.backend._dsync_flow_for_topic("ping")

    @contextmanager
    def batch_hook(self, func):
        """Install ``func(backend, events)`` as the generic batch hook."""

        def method(backend, events):
            return func(backend, events)

        with patch.object(self.Backend, "_generic_process_batch", method, create=True):
            yield

    def partner_processor(self, backend, event):
        """Creates a partner named after the payload; some payloads fail."""
        data = event._dsync_data()
        self.calls.append(data["name"])
        partner = backend.env["res.partner"].create({"name": data["name"]})
        if data.get("fail") == "business":
            raise BusinessError("unknown_product", "no such SKU", kind_key="sku:X")
        if data.get("fail") == "stale":
            raise StaleEvent("older than applied")
        if data.get("fail") == "transient":
            raise TransientError("platform busy")
        if data.get("fail") == "bug":
            raise ZeroDivisionError("bug")
        return partner

    def events(self, *names, **fail):
        return self.env["dsync.event"].concat(
            *(
                self.make_event(
                    "ping",
                    {"name": name, **({"fail": fail[name]} if name in fail else {})},
                )
                for name in names
            )
        )

    def dispatch(self):
        """Run the dispatcher only; return the jobs it queued."""
        before = self.env["queue.job"].search([])
        self.backend._dsync_dispatch_events()
        return self.env["queue.job"].search([]) - before

    def found_dead(self, job):
        """The job started and its worker was killed: queue_job's runner
        requeues it with its own statement (one more retry)."""
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE queue_job SET state = 'started', date_enqueued =
                      now() at time zone 'utc' - interval '1 minute'
                WHERE id = %s""",
            (job.id,),
        )
        self.env.cr.execute(Database._query_requeue_dead_jobs(None))
        job.invalidate_recordset()
        self.assertEqual(job.state, "pending")

    def partners(self, *names):
        return self.env["res.partner"].search([("name", "in", names)])

    # ------------------------------------------------------------------
    def test_even_chunks(self):
        self.assertEqual([len(c) for c in even_chunks(list(range(23)), 10)], [7, 8, 8])
        self.assertEqual(list(even_chunks([1, 2, 3], 20)), [[1, 2, 3]])
        self.assertEqual(list(even_chunks([1, 2], 1)), [[1], [2]])
        self.assertEqual(list(even_chunks([], 5)), [])
        chunks = list(even_chunks(list(range(45)), 20))
        self.assertEqual(sum(chunks, []), list(range(45)), "order and items kept")

    def test_dispatcher_queues_batches_of_the_flow_size(self):
        self.flow.batch_size = 20
        events = self.events(*(f"p{i}" for i in range(45)))
        jobs = self.dispatch()
        self.assertEqual(len(jobs), 3)
        self.assertEqual(set(jobs.mapped("method_name")), {"_dsync_run_batch"})
        self.assertEqual(sorted(len(job.records) for job in jobs), [15, 15, 15])
        self.assertEqual(set(jobs.mapped("channel")), {self.flow._channel_name()})
        self.assertEqual(set(events.mapped("state")), {"queued"})
        self.assertEqual(events.job_id, jobs)
        # oldest first: the first job holds the first events
        first = jobs.sorted("id")[:1]
        self.assertEqual(first.records.ids, events[:15].ids)
        with self.processor("ping", self.partner_processor):
            run_jobs(self.env)
        events.invalidate_recordset()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(len(self.calls), 45)

    def test_dispatch_fills_the_free_slots_only(self):
        """As many jobs as the channel runs at once; the rest waits received
        for the jobs in flight to hand it on, in full batches."""
        self.flow.batch_size = 20
        events = self.events(*(f"p{i}" for i in range(45)))
        with patch.object(type(self.backend), "_dsync_inbound_slots", return_value=2):
            jobs = self.dispatch()
            self.assertEqual(sorted(len(job.records) for job in jobs), [20, 20])
            self.assertEqual(events[40:].mapped("state"), ["received"] * 5)
            # both slots taken: nothing more until one of them ends
            self.assertFalse(self.dispatch())
            # a job postponed to later holds no slot
            jobs[0].eta = "2099-01-01 00:00:00"
            self.env.flush_all()
            (third,) = self.dispatch()
            self.assertEqual(third.records, events[40:])

    def test_channel_capacity_follows_queue_job_configuration(self):
        channel = "root.dsync.shopify_7.orders"
        for spec, slots in (
            ("root:4,root.dsync:2", 2),
            ("root:3", 3),
            ("root:2,root.dsync.shopify_7:1", 1),
            ("root:2,root.dsync.shopify_9:1", 2),
            ("root:0", 50),  # 0 is unlimited for queue_job
        ):
            with patch.dict("os.environ", {"ODOO_QUEUE_JOB_CHANNELS": spec}):
                self.assertEqual(channel_capacity(channel), slots, spec)

    def test_batch_size_one_or_one_event_gives_one_job_per_event(self):
        self.flow.batch_size = 1
        events = self.events("a", "b")
        jobs = self.dispatch()
        self.assertEqual(set(jobs.mapped("method_name")), {"_dsync_run"})
        self.assertEqual(
            sorted(jobs.mapped("identity_key")),
            sorted(f"dsync-event-{e.id}" for e in events),
        )
        self.flow.batch_size = 20
        lone = self.events("c")
        job = self.dispatch()
        self.assertEqual(job.method_name, "_dsync_run")
        self.assertEqual(lone.job_id, job)

    def test_each_event_of_a_batch_gets_its_own_outcome(self):
        events = self.events(
            "ok1", "bad", "old", "bug", "ok2", bad="business", old="stale", bug="bug"
        )
        self.dispatch()
        with (
            self.processor("ping", self.partner_processor),
            mute_logger("odoo.addons.distribution_sync_core.models.dsync_event"),
        ):
            run_jobs(self.env)
        events.invalidate_recordset()
        self.assertEqual(
            events.mapped("state"), ["done", "failed", "stale", "failed", "done"]
        )
        # a failed event's own effects are rolled back, the others' kept
        self.assertEqual(
            sorted(self.partners("ok1", "bad", "old", "bug", "ok2").mapped("name")),
            ["ok1", "ok2"],
        )
        self.assertEqual(events[0].res_id, self.partners("ok1").id)
        self.assertEqual(events[1].exception_ids.category, "unknown_product")
        self.assertEqual(events[3].exception_ids.category, "processing_error")
        self.assertIn("ZeroDivisionError", events[3].exception_ids.details)
        self.assertFalse(events[2].exception_ids)
        self.assertEqual(len(events.job_id), 1, "one job did it all")

    def test_batch_hook_applies_some_together_the_rest_one_by_one(self):
        events = self.events("h1", "s1", "h2", "s2")

        def hook(backend, batch):
            taken = batch.filtered(lambda e: e._dsync_data()["name"].startswith("h"))
            partners = backend.env["res.partner"].create(
                [{"name": e._dsync_data()["name"]} for e in taken]
            )
            return dict(zip(taken, partners, strict=True))

        self.dispatch()
        with self.batch_hook(hook), self.processor("ping", self.partner_processor):
            (ran,) = run_jobs(self.env)
        self.assertIn("2 applied together", ran[0].result)
        self.assertEqual(self.calls, ["s1", "s2"], "the processor saw only the rest")
        events.invalidate_recordset()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(
            [self.env["res.partner"].browse(e.res_id).name for e in events],
            ["h1", "s1", "h2", "s2"],
        )

    def test_failing_batch_hook_leaves_nothing_and_events_go_one_by_one(self):
        events = self.events("x1", "x2", "x3")

        def hook(backend, batch):
            backend.env["res.partner"].create({"name": "hook-leftover"})
            raise BusinessError("amount_mismatch", "one order of the batch is wrong")

        self.dispatch()
        with self.batch_hook(hook), self.processor("ping", self.partner_processor):
            run_jobs(self.env)
        events.invalidate_recordset()
        self.assertFalse(self.partners("hook-leftover"), "the hook's savepoint is gone")
        self.assertEqual(self.calls, ["x1", "x2", "x3"])
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertFalse(events.exception_ids)

    def test_transient_failure_in_a_batch_retries_that_event_alone(self):
        self.flow.write({"max_retries": 3, "retry_base_seconds": 60})
        events = self.events("ok", "busy", busy="transient")
        self.dispatch()
        batch_job = events.job_id
        with self.processor("ping", self.partner_processor):
            run_jobs(self.env, max_rounds=1, converge=False)
            events.invalidate_recordset()
            ok, busy = events
            self.assertEqual(ok.state, "done")
            self.assertEqual(busy.state, "queued")
            self.assertIn("attempt 1/3", busy.last_error)
            retry_job = busy.job_id
            self.assertNotEqual(retry_job, batch_job)
            self.assertEqual(retry_job.identity_key, f"dsync-event-{busy.id}")
            self.assertEqual(retry_job.retry, 1, "the batch's attempt counts")
            self.assertTrue(retry_job.eta, "retried after a backoff, not at once")
            self.assertEqual(batch_job.state, "done")
            # the retries run out on the flow's maximum, attempts all counted
            for _round in range(5):
                self.time_passes()
                run_jobs(self.env, max_rounds=1, converge=False)
        busy.invalidate_recordset()
        self.assertEqual(self.calls.count("busy"), 3)
        self.assertEqual(busy.state, "failed")
        self.assertEqual(busy.exception_ids.category, "retries_exhausted")
        self.assertEqual(self.calls.count("ok"), 1)

    def test_event_that_kills_its_worker_stops_at_the_flow_maximum(self):
        self.flow.write({"max_retries": 3})
        poison, fine = self.events("poison", "fine")
        poison._dsync_delay()
        fine._dsync_delay()
        for _death in range(3):  # killed on each of its three attempts
            self.found_dead(poison.job_id)
        self.found_dead(fine.job_id)  # killed once: tried again
        with self.processor("ping", self.partner_processor):
            run_jobs(self.env)
        (poison | fine).invalidate_recordset()
        self.assertEqual(self.calls, ["fine"], "no fourth run of the poison event")
        self.assertEqual(poison.state, "failed")
        self.assertEqual(poison.exception_ids.category, "retries_exhausted")
        self.assertIn("without an outcome", poison.last_error)
        self.assertEqual(fine.state, "done")

    def test_batch_found_dead_goes_on_event_by_event(self):
        self.flow.write({"max_retries": 3})
        events = self.events("b1", "b2", "b3")
        self.dispatch()
        batch_job = events.job_id
        self.assertEqual(len(batch_job), 1)
        self.found_dead(batch_job)
        with self.processor("ping", self.partner_processor):
            (ran,) = run_jobs(self.env, max_rounds=1, converge=False)
            self.assertIn("found dead 1 time(s): 3 events", ran[0].result)
            self.assertEqual(self.calls, [], "the batch itself is not run again")
            events.invalidate_recordset()
            self.assertEqual(len(events.job_id), 3, "one job each")
            self.assertEqual(events.job_id.mapped("retry"), [1, 1, 1])
            self.assertEqual(set(events.mapped("state")), {"queued"})
            run_jobs(self.env)
        events.invalidate_recordset()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(sorted(self.calls), ["b1", "b2", "b3"])
