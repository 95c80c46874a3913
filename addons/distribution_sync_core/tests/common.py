# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Test helpers: a backend with patched processors, and a job runner that
performs stored queue_job jobs the way queue_job's controller does."""

import json
import uuid
from contextlib import contextmanager
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.exception import FailedJobError, RetryableJobError
from odoo.addons.queue_job.job import Job

from ..dispatcher import backend_channel


def purge_backend(cr, backend_id, job_uuids=(), identity_keys=()):
    """Delete a backend that a committed-data test created, and everything it
    left: the jobs on its channels (and the given ones), its exceptions,
    events, outbox, bindings, value maps, secrets, flows and chatter."""
    cr.execute("SELECT backend_type FROM dsync_backend WHERE id = %s", (backend_id,))
    row = cr.fetchone()
    if not row:
        return
    channel = backend_channel(row[0], backend_id)
    cr.execute(
        """DELETE FROM queue_job
            WHERE channel = %s OR channel LIKE %s
               OR uuid = ANY(%s) OR identity_key = ANY(%s)""",
        (channel, f"{channel}.%", list(job_uuids), list(identity_keys)),
    )
    for table in (
        "dsync_exception",
        "dsync_event",
        "dsync_outbox",
        "dsync_binding",
        "dsync_value_map",
        "dsync_secret",
        "dsync_flow",
    ):
        cr.execute(f"DELETE FROM {table} WHERE backend_id = %s", (backend_id,))
    cr.execute(
        "DELETE FROM mail_message WHERE model = 'dsync.backend' AND res_id = %s",
        (backend_id,),
    )
    cr.execute("DELETE FROM dsync_backend WHERE id = %s", (backend_id,))


@contextmanager
def generic_processor(Backend, topic, func):
    """Declare ``topic`` on generic backends, processed by ``func(backend,
    event)`` (``Backend`` is the registry's model class)."""
    name = "_generic_process_" + "".join(c if c.isalnum() else "_" for c in topic)
    declared = getattr(Backend, "_generic_topic_processors", lambda backend: {})

    def topic_processors(backend):
        return dict(declared(backend), **{topic: name})

    def method(backend, event):
        return func(backend, event)

    with (
        patch.object(Backend, name, method, create=True),
        patch.object(
            Backend, "_generic_topic_processors", topic_processors, create=True
        ),
    ):
        yield


def run_committed_job(registry, runner_db, job_uuid):
    """Run a stored job as queue_job's /queue_job/runjob controller does, on a
    connection of its own, and commit; False when it cannot be acquired."""
    runner_db.set_job_enqueued(job_uuid)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        job = RunJobController._acquire_job(env, job_uuid)
        if not job:
            return False
        RunJobController._try_perform_job(env, job)
    return True


def run_jobs(
    env, channel_prefix="root.dsync", ignore_eta=True, max_rounds=50, converge=True
):
    """Perform stored pending jobs until none is left; return what ran.

    Mirrors ``RunJobController._runjob``: started → perform → done, and on
    ``RetryableJobError`` the job goes back to pending with the postponed eta
    and its retry count kept (the transaction is rolled back to a savepoint
    instead of a full rollback, since the test owns the transaction).
    Returns a list of (job, outcome, seconds) tuples.
    """
    ran = []
    for _round in range(max_rounds):
        domain = [("state", "=", "pending"), ("channel", "=like", channel_prefix + "%")]
        records = env["queue.job"].sudo().search(domain, order="id")
        if not ignore_eta:
            # the transaction's time: the clock of the code under test, whose
            # SQL now() a test freezes. Against the wall clock, a retry due
            # at "now + 1 s" could come due, find its message not due yet and
            # reschedule itself at the same time, round after round.
            now = env.cr.now()
            records = records.browse(
                [r.id for r in records if not r.eta or r.eta <= now]
            )
        if not records:
            return ran
        for record in records:
            ran.append(run_job(env, record.uuid))
    if converge:
        raise AssertionError("jobs keep being enqueued: pipeline does not converge")
    return ran


def run_job(env, job_uuid):
    job = Job.load(env, job_uuid)
    job.set_started()
    job.store()
    try:
        with env.cr.savepoint():
            job.perform()
    except RetryableJobError as err:
        job.postpone(result=str(err), seconds=err.seconds)
        job.set_pending(reset_retry=False)
        job.store()
        return (job, "postponed", err.seconds)
    except FailedJobError as err:
        job.set_failed(exc_info=str(err))
        job.store()
        return (job, "failed", None)
    job.set_done()
    job.store()
    env.flush_all()
    return (job, "done", None)


def time_passes(env):
    """Make every scheduled outbox retry and delayed job due now."""
    env.flush_all()
    env.cr.execute(
        "UPDATE dsync_outbox SET next_attempt_at = NULL WHERE state = 'pending'"
    )
    env.cr.execute("UPDATE queue_job SET eta = NULL WHERE state = 'pending'")
    env.invalidate_all()


class DsyncCase(TransactionCase):
    """A generic backend and helpers to feed it events."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend = cls.env["dsync.backend"].create(
            {"name": "Test backend", "backend_type": "generic", "inbound_rate_limit": 0}
        )
        cls.Backend = cls.registry["dsync.backend"]

    @contextmanager
    def processor(self, topic, func):
        """Install ``func(backend, event)`` as the generic processor of ``topic``."""
        with generic_processor(self.Backend, topic, func):
            yield

    @contextmanager
    def sender(self, flow_code, func):
        def method(backend, messages):
            return func(backend, messages)

        with patch.object(
            self.Backend, f"_generic_send_{flow_code}", method, create=True
        ):
            yield

    def make_event(self, topic="ping", data=None, dedup_key=None, backend=None, **vals):
        backend = backend or self.backend
        values = {
            "backend_id": backend.id,
            "company_id": backend.company_id.id,
            "topic": topic,
            "payload": json.dumps(data if data is not None else {"id": 1}),
            "dedup_key": dedup_key or uuid.uuid4().hex,
            "correlation_id": uuid.uuid4().hex,
        }
        values.update(vals)
        return self.env["dsync.event"].sudo().create(values)

    def time_passes(self):
        """Make every scheduled retry and delayed job due now."""
        time_passes(self.env)

    def flow(self, code, backend=None):
        return (backend or self.backend)._dsync_flow(code)
