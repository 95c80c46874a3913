"""No lost wake-up: a webhook accepted while a job of its backend is about
to dispatch (a dispatch job, or a batch job that hands on what arrived as it
ends) is always dispatched, without waiting for the safety cron.

Committed data and real connections: the delivery goes through the HTTP
server (its own cursor), jobs run as queue_job's controller runs them, in
other threads with their own connections.
"""

import threading
import uuid
from unittest.mock import patch

from odoo import SUPERUSER_ID, api

from odoo.addons.distribution_sync_core import intake
from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job

from tests.committed import WAIT, CommittedBackendCase


class TestNoLostWakeUp(CommittedBackendCase):
    def stored_events(self, env, count):
        """``count`` received orders/create events of the backend."""
        backend = env["dsync.backend"].browse(self.backend_id)
        return env["dsync.event"].create(
            [
                {
                    "backend_id": self.backend_id,
                    "company_id": backend.company_id.id,
                    "topic": "orders/create",
                    "payload": "{}",
                    "dedup_key": uuid.uuid4().hex,
                }
                for _n in range(count)
            ]
        )

    def started_batch_job(self):
        """A batch job of two stored events, acquired by a worker (started)
        but not performed yet: its uuid."""
        with self.env() as env:
            events = self.stored_events(env, 2)
            flow = events.backend_id._dsync_flow_for_topic("orders/create")
            events._dsync_delay_batch(flow)
            job_uuid = events[0].job_id.uuid
        self.runner_db.set_job_enqueued(job_uuid)
        with self.env() as env:
            self.assertTrue(RunJobController._acquire_job(env, job_uuid))
        return job_uuid

    def perform(self, job_uuid):
        """Perform a started job as the controller does, and commit."""
        with self.env() as env:
            RunJobController._try_perform_job(env, Job.load(env, job_uuid))

    def test_dispatcher_running_between_check_and_commit_misses_nothing(self):
        with self.env() as env:
            env["dsync.backend"].browse(self.backend_id)._dsync_wake_dispatcher()
        (dispatcher,) = self.pending_dispatchers()

        # The request stops right after finding the dispatch job pending, and
        # that job runs to its end meanwhile: the worst interleaving.
        checked, go = threading.Event(), threading.Event()
        real_check = intake.will_dispatch

        def check_then_pause(cr, backend_type, backend_id):
            result = real_check(cr, backend_type, backend_id)
            checked.set()
            assert go.wait(WAIT), "test never released the request"
            return result

        outcome = {}
        with patch.object(intake, "will_dispatch", check_then_pause):
            request = threading.Thread(
                target=lambda: outcome.update(status=self.deliver(424242)),
                daemon=True,
            )
            request.start()
            self.assertTrue(checked.wait(WAIT), "the request never checked")
            self.assertEqual(self.pending_dispatchers(), [dispatcher], "no second job")
            self.run_job(dispatcher)
            go.set()
            request.join(WAIT)
        self.assertEqual(outcome.get("status"), 202, outcome)
        self.assertEqual(self.pending_dispatchers(), [], "the request relied on it")
        state, job_uuid = self.event(424242)
        self.assertEqual(state, "queued", "the dispatch job queued the event")
        self.assertTrue(job_uuid)

    def test_running_batch_job_hands_on_what_arrives(self):
        batch = self.started_batch_job()
        # no dispatch job: the running batch job dispatches once it ends
        self.assertEqual(self.deliver(515151), 202)
        self.assertEqual(self.pending_dispatchers(), [])
        self.assertEqual(self.event(515151), ("received", False))
        self.perform(batch)
        state, job_uuid = self.event(515151)
        self.assertEqual(state, "queued", "queued once the batch job committed")
        with self.env() as env:
            job = env["queue.job"].search([("uuid", "=", job_uuid)])
            self.assertEqual(job.method_name, "_dsync_run")
            self.assertEqual(job.state, "pending")

    def test_job_that_rolls_back_still_hands_on(self):
        """A job that ends in a rollback (here a retry: its event is held by
        another transaction) dispatches what arrived while it ran."""
        with self.env() as env:
            event = self.stored_events(env, 1)
            single, held_id = event._dsync_delay().uuid, event.id
        self.runner_db.set_job_enqueued(single)
        # the worker's request, as /queue_job/runjob handles it
        with self.registry.cursor() as cr, self.env() as holder:
            env = api.Environment(cr, SUPERUSER_ID, {})
            job = RunJobController._acquire_job(env, single)
            self.assertTrue(job)
            self.assertEqual(self.deliver(717171), 202)
            self.assertEqual(self.pending_dispatchers(), [], "left to the running job")
            holder.cr.execute(
                "SELECT id FROM dsync_event WHERE id = %s FOR UPDATE", (held_id,)
            )
            RunJobController._runjob(env, job)
        with self.env() as env:
            job = env["queue.job"].search([("uuid", "=", single)])
            self.assertEqual(job.state, "pending", "postponed, its slot freed")
            self.assertTrue(job.eta, "after its retry delay")
        self.assertEqual(self.event(717171)[0], "queued", "handed on all the same")
