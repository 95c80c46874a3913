"""Committed-data test base: a Shopify backend committed in the test
database, webhooks delivered through the HTTP server (its own cursors, not
a test cursor), and what they left read back with fresh connections."""

import unittest
import uuid
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import get_db_name
from odoo.tests.common import HOST
from odoo.tools import config

from odoo.addons.distribution_sync_core.tests.common import (
    purge_backend,
    run_committed_job,
)
from odoo.addons.queue_job.jobrunner.runner import Database

from tests.simulators.webhook_sender import ShopifySender

WAIT = 30  # seconds; an upper bound for a thread rendez-vous, never a timing
SECRET = "committed-backend-secret"


class CommittedBackendCase(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        with self.env() as env:
            backend = env["dsync.backend"].create(
                {
                    "name": f"Committed {uuid.uuid4().hex[:6]}",
                    "backend_type": "shopify",
                    "shopify_shop_domain": "demo-store.myshopify.com",
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

    def deliver(self, order_id, delivery_id=None, topic="orders/create"):
        """POST one signed delivery (orders/create unless ``topic``) through
        the HTTP server; its status."""
        sender = ShopifySender(
            f"http://{HOST}:{config['http_port']}", self.token, SECRET
        )
        doc = {"id": order_id, "updated_at": "2026-11-23T10:00:00Z", "line_items": []}
        if topic == "refunds/create":
            doc = {"id": order_id, "order_id": order_id}
        return sender.deliver(doc, topic, delivery_id).status_code

    def events(self, env, order_id):
        """The backend's events whose payload mentions that order."""
        return env["dsync.event"].search(
            [("backend_id", "=", self.backend_id), ("payload", "like", str(order_id))]
        )

    def event(self, order_id):
        """(state, job uuid) of the event of that order."""
        with self.env() as env:
            event = self.events(env, order_id)
            return event.state, event.job_id.uuid
