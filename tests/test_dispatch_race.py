"""No lost wake-up: a webhook accepted while the backend's dispatch job is
about to run is always dispatched, without waiting for the safety cron.

Committed data and real connections: the delivery goes through the HTTP
server (its own cursor), the dispatch job runs as queue_job's controller runs
it, in another thread with its own connection.
"""

import threading
import unittest
import uuid
from contextlib import contextmanager
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import get_db_name
from odoo.tests.common import HOST
from odoo.tools import config

from odoo.addons.distribution_sync_core import intake
from odoo.addons.distribution_sync_core.tests.common import (
    purge_backend,
    run_committed_job,
)
from odoo.addons.queue_job.jobrunner.runner import Database

from tests.simulators.webhook_sender import ShopifySender

WAIT = 30  # seconds; an upper bound for a thread rendez-vous, never a timing
SECRET = "dispatch-race-secret"


class TestNoLostWakeUp(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        with self.env() as env:
            backend = env["dsync.backend"].create(
                {
                    "name": f"Dispatch race {uuid.uuid4().hex[:6]}",
                    "backend_type": "shopify",
                    "inbound_rate_limit": 0,
                }
            )
            backend._dsync_set_secret("webhook_secret", SECRET)
            self.backend_id, self.token = backend.id, backend.token
        self.addCleanup(self.cleanup)
        self.runner_db = Database(get_db_name())
        self.addCleanup(self.runner_db.close)

    @contextmanager
    def env(self):
        """A fresh connection and environment; commits on success."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def cleanup(self):
        with self.env() as env:
            purge_backend(env.cr, self.backend_id)

    def pending_dispatchers(self):
        with self.env() as env:
            return (
                env["queue.job"]
                .search(
                    [
                        ("identity_key", "=", f"dsync-dispatch-{self.backend_id}"),
                        ("state", "=", "pending"),
                    ]
                )
                .mapped("uuid")
            )

    def run_job(self, job_uuid):
        self.assertTrue(run_committed_job(self.registry, self.runner_db, job_uuid))

    def test_dispatcher_running_between_check_and_commit_misses_nothing(self):
        with self.env() as env:
            env["dsync.backend"].browse(self.backend_id)._dsync_wake_dispatcher()
        (dispatcher,) = self.pending_dispatchers()

        # The request stops right after finding the dispatch job pending, and
        # that job runs to its end meanwhile: the worst interleaving.
        checked, go = threading.Event(), threading.Event()
        waiting = intake.dispatcher_waiting

        def check_then_pause(cr, backend_id):
            result = waiting(cr, backend_id)
            checked.set()
            assert go.wait(WAIT), "test never released the request"
            return result

        outcome = {}
        sender = ShopifySender(
            f"http://{HOST}:{config['http_port']}", self.token, SECRET
        )

        def deliver():
            doc = {"id": 424242, "updated_at": "2026-11-23T10:00:00Z"}
            outcome["status"] = sender.deliver(doc, "orders/create").status_code

        with patch.object(intake, "dispatcher_waiting", check_then_pause):
            request = threading.Thread(target=deliver, daemon=True)
            request.start()
            self.assertTrue(checked.wait(WAIT), "the request never woke the dispatcher")
            self.assertEqual(self.pending_dispatchers(), [dispatcher], "no second job")
            self.run_job(dispatcher)
            go.set()
            request.join(WAIT)
        self.assertEqual(outcome.get("status"), 202, outcome)

        # no cron: only the jobs the request and the dispatcher left
        for job_uuid in self.pending_dispatchers():
            self.run_job(job_uuid)
        with self.env() as env:
            event = env["dsync.event"].search([("backend_id", "=", self.backend_id)])
            self.assertEqual(len(event), 1)
            self.assertEqual(event.state, "queued", "the event was dispatched")
            self.assertEqual(event.job_id.state, "pending")
