# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Concurrency and crash safety, on committed data with real connections.

These tests do not run inside the test transaction: each "worker" is a
thread with its own PostgreSQL connection, as queue_job workers are. They
commit, and clean up what they created.
"""

import json
import threading
import unittest
import uuid
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tests import get_db_name
from odoo.tools import mute_logger

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.jobrunner.runner import Database

from .common import generic_processor, purge_backend, run_committed_job

WAIT = 30  # seconds; an upper bound for a thread rendez-vous, never a timing


class WorkerKilled(BaseException):
    """Stands for the death of a worker process: no code of the worker runs
    after it (no handler of the sync or of queue_job catches it)."""


class CommittedCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        cls.tag = uuid.uuid4().hex[:8]

    @contextmanager
    def committed_env(self):
        """A fresh connection and environment; commits on success."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def setUp(self):
        super().setUp()
        with self.committed_env() as env:
            backend = env["dsync.backend"].create(
                {"name": f"Concurrency {self.tag}", "inbound_rate_limit": 0}
            )
            event = env["dsync.event"].create(
                {
                    "backend_id": backend.id,
                    "company_id": backend.company_id.id,
                    "topic": "probe",
                    "payload": json.dumps(
                        {"ref": f"probe-{self.tag}-{self._testMethodName}"}
                    ),
                    "dedup_key": uuid.uuid4().hex,
                }
            )
            self.backend_id, self.event_id = backend.id, event.id
            self.ref = json.loads(event.payload)["ref"]
        self.job_uuids = []
        self.addCleanup(self.cleanup)
        self.started = threading.Event()
        self.release = threading.Event()
        self.block = True
        self.kill = False
        self.enterContext(
            generic_processor(
                self.registry["dsync.backend"], "probe", self.make_processor()
            )
        )

    def make_processor(self):
        test = self

        def probe(backend, event):
            partner = backend.env["res.partner"].create(
                {"name": "probe", "ref": test.ref}
            )
            backend.env.flush_all()
            if test.block and event.id == test.event_id:
                test.started.set()
                assert test.release.wait(WAIT), "test never released the worker"
                if test.kill:
                    raise WorkerKilled()
            return partner

        return probe

    def cleanup(self):
        with self.committed_env() as env:
            env.cr.execute("DELETE FROM res_partner WHERE ref = %s", (self.ref,))
            purge_backend(
                env.cr,
                self.backend_id,
                job_uuids=self.job_uuids,
                identity_keys=[f"dsync-event-{self.event_id}"],
            )

    def snapshot(self):
        with self.committed_env() as env:
            event = env["dsync.event"].browse(self.event_id)
            partners = env["res.partner"].search_count([("ref", "=", self.ref)])
            return {
                "partners": partners,
                "event": event.state,
                "job": event.job_id.state,
                "retry": event.job_id.retry,
            }

    def enqueue(self):
        with self.committed_env() as env:
            env["dsync.event"].browse(self.event_id)._dsync_enqueue()
            return env["dsync.event"].browse(self.event_id).job_id.uuid

    def enqueue_another_job(self):
        """A second job for the event, from another source than the event's
        own enqueue (a recovery job, an integrator's script...)."""
        with self.committed_env() as env:
            event = env["dsync.event"].browse(self.event_id)
            return (
                event.with_delay(identity_key=f"dsync-event-{event.id}")
                ._dsync_run()
                .uuid
            )

    def add_event(self):
        """A second committed event of the backend (after the first one)."""
        with self.committed_env() as env:
            event = env["dsync.event"].create(
                {
                    "backend_id": self.backend_id,
                    "company_id": env["dsync.backend"]
                    .browse(self.backend_id)
                    .company_id.id,
                    "topic": "probe",
                    "payload": json.dumps({"ref": self.ref}),
                    "dedup_key": uuid.uuid4().hex,
                }
            )
            return event.id

    def batch_job(self, event_ids, mark=True):
        """A batch job for the events, queued as the dispatcher does
        (``mark``) or created straight away."""
        with self.committed_env() as env:
            events = env["dsync.event"].browse(event_ids)
            if mark:
                flow = events.backend_id._dsync_flow_for_topic("probe")
                events._dsync_delay_batch(flow)
                job_uuid = events[:1].job_id.uuid
            else:
                job_uuid = events.with_delay()._dsync_run_batch().uuid
        self.job_uuids.append(job_uuid)
        return job_uuid

    def states(self, *event_ids):
        with self.committed_env() as env:
            return env["dsync.event"].browse(event_ids).mapped("state")

    def thread(self, target):
        outcome = {}

        def run():
            try:
                outcome["result"] = target(outcome)
            except BaseException as err:  # the worker's death is the point
                outcome["error"] = err

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        return worker, outcome


class TestConcurrentJobs(CommittedCase):
    def perform(self, job_uuid, outcome):
        """One worker performing a stored job (queue_job's perform + done)."""
        with self.committed_env() as env:
            job = Job.load(env, job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()
            try:
                result = job.perform()
            except RetryableJobError as err:
                env.cr.rollback()
                outcome["retryable"] = str(err)
                return None
            job.set_done()
            job.store()
            return result

    def test_same_event_two_concurrent_jobs_applied_once(self):
        first = self.enqueue()
        worker_a, out_a = self.thread(lambda out: self.perform(first, out))
        self.assertTrue(self.started.wait(WAIT))
        # the first job is started, so the identity key lets a second job in
        second = self.enqueue_another_job()
        # while a job holds the event, a user's retry is refused, not queued
        with self.assertRaises(UserError):
            self.enqueue()
        self.assertNotEqual(first, second)
        worker_b, out_b = self.thread(lambda out: self.perform(second, out))
        worker_b.join(WAIT)
        self.assertFalse(worker_b.is_alive())
        self.assertIn("another job", out_b.get("retryable", ""), out_b)
        self.release.set()
        worker_a.join(WAIT)
        self.assertNotIn("error", out_a)
        # the postponed second job runs later and finds the work done
        self.block = False
        worker_c, out_c = self.thread(lambda out: self.perform(second, out))
        worker_c.join(WAIT)
        self.assertIn("nothing to do", out_c.get("result", ""), out_c)
        state = self.snapshot()
        self.assertEqual(state["partners"], 1)
        self.assertEqual(state["event"], "done")

    def test_batch_leaves_an_event_held_elsewhere_to_its_own_job(self):
        """A batch job meets an event a single job is processing: it takes
        the others, leaves that row alone and gives the event a job of its
        own for later, which finds it done."""
        other = self.add_event()
        single = self.enqueue()
        worker_a, out_a = self.thread(lambda out: self.perform(single, out))
        self.assertTrue(self.started.wait(WAIT))
        batch = self.batch_job([self.event_id, other], mark=False)
        worker_b, out_b = self.thread(lambda out: self.perform(batch, out))
        worker_b.join(WAIT)
        self.assertFalse(worker_b.is_alive(), "the batch did not wait for the lock")
        self.assertNotIn("error", out_b)
        self.assertEqual(self.states(self.event_id, other), ["queued", "done"])
        with self.committed_env() as env:
            follow_up = env["queue.job"].search(
                [
                    ("identity_key", "=", f"dsync-event-{self.event_id}"),
                    ("state", "=", "pending"),
                ]
            )
            self.assertEqual(len(follow_up), 1)
            self.assertTrue(follow_up.eta)
            follow_up_uuid = follow_up.uuid
            held = env["dsync.event"].browse(self.event_id)
            self.assertEqual(held.job_id.uuid, single, "its row was not written")
        self.release.set()
        worker_a.join(WAIT)
        self.assertNotIn("error", out_a)
        self.assertEqual(self.states(self.event_id, other), ["done", "done"])
        worker_c, out_c = self.thread(lambda out: self.perform(follow_up_uuid, out))
        worker_c.join(WAIT)
        self.assertIn("nothing to do", out_c.get("result", ""), out_c)
        self.assertEqual(self.snapshot()["partners"], 2, "each event applied once")


class TestWorkerCrash(CommittedCase):
    def setUp(self):
        super().setUp()
        self.runner_db = Database(get_db_name())
        self.addCleanup(self.runner_db.close)

    def run_killed(self, job_uuid, kill=True):
        """Run the job as the /queue_job/runjob controller does, and end the
        worker's connection once the processor applied its effect (not yet
        committed); return what the worker thread ended with.

        ``kill``: the worker process dies, and its connection with it:
        nothing of the worker runs afterwards, nothing commits. Else only
        the connection is dropped (the database restarted, a network cut,
        ``pg_terminate_backend``) and the worker goes on with a dead
        connection."""
        self.runner_db.set_job_enqueued(job_uuid)
        self.kill = kill
        pids = {}

        def worker(outcome):
            with self.registry.cursor() as cr:
                pids["pid"] = cr._cnx.get_backend_pid()
                env = api.Environment(cr, SUPERUSER_ID, {})
                job = RunJobController._acquire_job(env, job_uuid)
                assert job, "job could not be acquired"
                try:
                    RunJobController._runjob(env, job)
                except WorkerKilled:
                    cr._cnx.close()  # the process is gone: nothing commits
                    raise
                # the cursor commits on leaving the block

        with mute_logger("odoo.sql_db"):
            thread, outcome = self.thread(worker)
            self.assertTrue(
                self.started.wait(WAIT), "worker never reached the processor"
            )
            if not kill:
                with self.committed_env() as env:
                    env.cr.execute("SELECT pg_terminate_backend(%s)", (pids["pid"],))
                    self.assertTrue(env.cr.fetchone()[0])
            self.release.set()
            thread.join(WAIT)
        self.assertFalse(thread.is_alive())
        return outcome

    def requeue_dead(self, job_uuid):
        """queue_job's runner finds the job dead (its lock row is free) once
        it has been enqueued for more than 10 s: age it instead of sleeping."""
        with self.committed_env() as env:
            env.cr.execute(
                "UPDATE queue_job SET date_enqueued = date_enqueued"
                " - interval '1 minute' WHERE uuid = %s",
                (job_uuid,),
            )
        self.runner_db.requeue_dead_jobs()

    def run_healthy(self, job_uuid):
        self.block = False
        self.assertTrue(run_committed_job(self.registry, self.runner_db, job_uuid))

    def test_dropped_connection_job_retried_and_applied_once(self):
        """The connection dies under a running job and the worker goes on:
        nothing of the run is kept, the job is handed back to queue_job
        (pending, the run counted), and its next run applies the event
        once."""
        job_uuid = self.enqueue()
        self.run_killed(job_uuid, kill=False)
        state = self.snapshot()
        self.assertEqual(
            (state["partners"], state["event"], state["job"], state["retry"]),
            (0, "queued", "pending", 1),
        )
        self.run_healthy(job_uuid)
        self.assertEqual(
            self.snapshot(), {"partners": 1, "event": "done", "job": "done", "retry": 2}
        )

    def test_dropped_connection_mid_batch_is_not_swallowed(self):
        """A batch whose connection dies is not carried on event by event
        on the dead connection (where every event would fail and the job
        end *failed* with its events stranded): the job is handed back,
        then its events go on in jobs of their own and each is applied
        once."""
        other = self.add_event()
        job_uuid = self.batch_job([self.event_id, other])
        self.run_killed(job_uuid, kill=False)
        self.assertEqual(self.snapshot()["partners"], 0)
        self.assertEqual(self.states(self.event_id, other), ["queued", "queued"])
        with self.committed_env() as env:
            job = env["queue.job"].search([("uuid", "=", job_uuid)])
            self.assertEqual((job.state, job.retry), ("pending", 1))
            self.assertFalse(
                env["dsync.exception"].search([("backend_id", "=", self.backend_id)])
            )
        self.run_healthy(job_uuid)
        with self.committed_env() as env:
            uuids = (
                env["dsync.event"].browse([self.event_id, other]).job_id.mapped("uuid")
            )
        self.assertEqual(len(uuids), 2, "split into a job per event")
        for own_uuid in uuids:
            self.run_healthy(own_uuid)
        self.assertEqual(self.states(self.event_id, other), ["done", "done"])
        self.assertEqual(self.snapshot()["partners"], 2)

    def test_event_stranded_by_a_failed_job_is_queued_again(self):
        """An event left *queued* by a job that ended without processing it
        (failed, cancelled, deleted) is queued again by the safety cron,
        every such end counted, and fails with *Retries exhausted* at its
        flow's maximum instead of going round for ever."""
        job_uuid = self.enqueue()
        with self.committed_env() as env:
            env["dsync.backend"].browse(self.backend_id)._dsync_flow_for_topic(
                "probe"
            ).max_retries = 3
            env.cr.execute(
                "UPDATE queue_job SET state = 'failed', date_created = date_created"
                " - interval '5 minutes' WHERE uuid = %s",
                (job_uuid,),
            )
        rounds = []
        for _round in range(3):
            with self.committed_env() as env:
                env["dsync.backend"]._cron_dsync_dispatch_received()
            with self.committed_env() as env:
                event = env["dsync.event"].browse(self.event_id)
                rounds.append((event.state, event.job_id.retry))
                if event.state != "queued":
                    break
                # its new job fails too, as if its connection kept dropping
                env.cr.execute(
                    "UPDATE queue_job SET state = 'failed', date_created = date_created"
                    " - interval '5 minutes' WHERE id = %s",
                    (event.job_id.id,),
                )
                self.job_uuids.append(event.job_id.uuid)
        self.assertEqual(rounds, [("queued", 1), ("queued", 2), ("failed", 2)])
        with self.committed_env() as env:
            exception = env["dsync.event"].browse(self.event_id).exception_ids
            self.assertEqual(exception.category, "retries_exhausted")
        self.assertEqual(self.snapshot()["partners"], 0)

    def test_stranded_event_with_a_live_job_is_left_alone(self):
        """A queued event whose own job is still due is not queued twice."""
        other = self.add_event()
        job_uuid = self.batch_job([self.event_id, other])
        with self.committed_env() as env:
            # the batch ended without processing; one event has a job waiting
            env.cr.execute(
                "UPDATE queue_job SET state = 'done', date_created = date_created"
                " - interval '5 minutes' WHERE uuid = %s",
                (job_uuid,),
            )
            env["dsync.event"].browse(self.event_id)._dsync_delay(mark=False)
            env["dsync.event"]._dsync_requeue_stranded()
            events = env["dsync.event"].browse([self.event_id, other])
            self.assertEqual(events[0].job_id.uuid, job_uuid, "left alone")
            self.assertNotEqual(events[1].job_id.uuid, job_uuid, "queued again")
            self.job_uuids += events.job_id.mapped("uuid")

    def test_killed_worker_job_requeued_and_applied_once(self):
        job_uuid = self.enqueue()
        outcome = self.run_killed(job_uuid)
        self.assertIsInstance(
            outcome.get("error"), WorkerKilled, f"worker should have died: {outcome}"
        )
        state = self.snapshot()
        self.assertEqual(
            state["partners"], 0, "nothing of the killed transaction remains"
        )
        self.assertEqual(state["event"], "queued")
        self.assertEqual(state["job"], "started", "the runner still believes it runs")
        self.requeue_dead(job_uuid)
        self.assertEqual(self.snapshot()["job"], "pending")
        self.run_healthy(job_uuid)
        state = self.snapshot()
        self.assertEqual(
            state, {"partners": 1, "event": "done", "job": "done", "retry": 2}
        )

        # a second requeue changes nothing; a done event is never queued
        # again, and any other job for it finds nothing to do
        self.runner_db.requeue_dead_jobs()
        self.assertEqual(self.snapshot()["job"], "done")
        with self.committed_env() as env:
            env["dsync.event"].browse(self.event_id)._dsync_enqueue()
        self.assertEqual(self.snapshot()["job"], "done", "no new job for a done event")
        extra = self.enqueue_another_job()
        with self.committed_env() as env:
            result = Job.load(env, extra).perform()
        self.assertIn("nothing to do", result)
        self.assertEqual(self.snapshot()["partners"], 1)

    def test_killed_worker_mid_batch_loses_nothing(self):
        """The batch's transaction dies with its worker: no event of it is
        half-applied; the requeued batch hands each event to a job of its
        own (one of them may be what killed the worker), which applies it
        exactly once."""
        other = self.add_event()
        job_uuid = self.batch_job([self.event_id, other])
        self.assertIn("error", self.run_killed(job_uuid))
        self.assertEqual(self.snapshot()["partners"], 0)
        self.assertEqual(self.states(self.event_id, other), ["queued", "queued"])
        self.requeue_dead(job_uuid)
        self.run_healthy(job_uuid)
        self.assertEqual(self.snapshot()["partners"], 0, "split, not run")
        with self.committed_env() as env:
            events = env["dsync.event"].browse([self.event_id, other])
            own_jobs = events.job_id
            self.assertEqual(len(own_jobs), 2)
            self.assertEqual(own_jobs.mapped("retry"), [1, 1], "the death counted")
            uuids = own_jobs.mapped("uuid")
        for own_uuid in uuids:
            self.run_healthy(own_uuid)
        self.assertEqual(self.states(self.event_id, other), ["done", "done"])
        self.assertEqual(self.snapshot()["partners"], 2)
        self.assertEqual(self.snapshot()["job"], "done")


class TestConcurrentSequence(CommittedCase):
    """Two workers hold the events 1 and 2 of one document at once: the
    second waits for the first's commit, its older snapshot is refused
    (serialization failure, retried), and its retry applies it: nothing
    waits for a timeout."""

    def sequenced(self, event_id, number):
        with self.committed_env() as env:
            env.cr.execute(
                "UPDATE dsync_event SET sequence_key = %s, sequence = %s WHERE id = %s",
                (f"doc-{self.tag}", number, event_id),
            )

    perform = TestConcurrentJobs.perform

    def test_second_event_of_a_key_waits_its_turn_then_applies(self):
        second_id = self.add_event()
        self.sequenced(self.event_id, 1)
        self.sequenced(second_id, 2)
        first = self.enqueue()
        with self.committed_env() as env:
            second = env["dsync.event"].browse(second_id)._dsync_delay().uuid
        self.job_uuids += [first, second]
        worker_a, out_a = self.thread(lambda out: self.perform(first, out))
        self.assertTrue(self.started.wait(WAIT))
        with mute_logger("odoo.sql_db"):
            worker_b, out_b = self.thread(lambda out: self.perform(second, out))
            for _i in range(WAIT * 20):
                if self.states(second_id) != ["queued"] or not worker_b.is_alive():
                    break
                with self.committed_env() as env:
                    env.cr.execute(
                        """SELECT count(*) FROM pg_stat_activity
                            WHERE wait_event_type = 'Lock'
                              AND query LIKE '%%dsync_event_sequence%%'"""
                    )
                    if env.cr.fetchone()[0]:
                        break
                threading.Event().wait(0.05)
            self.assertTrue(worker_b.is_alive(), "the second event did not wait")
            self.release.set()
            worker_a.join(WAIT)
            worker_b.join(WAIT)
        self.assertNotIn("error", out_a)
        self.assertNotIn("error", out_b)
        self.assertIn("retry", out_b.get("retryable", ""), out_b)
        self.assertEqual(self.states(self.event_id, second_id), ["done", "queued"])
        worker_c, out_c = self.thread(lambda out: self.perform(second, out))
        worker_c.join(WAIT)
        self.assertNotIn("error", out_c)
        self.assertEqual(self.states(self.event_id, second_id), ["done", "done"])
        self.assertEqual(self.snapshot()["partners"], 2)
