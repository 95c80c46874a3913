# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import logging
import random

from odoo import models

from odoo.addons.queue_job.exception import RetryableJobError

from ..errors import is_connection_lost
from ..logsafe import sync_scope

_logger = logging.getLogger(__name__)

# Context keys a sync job keeps from the moment it was queued (see below).
JOB_CONTEXT_KEYS = ("tracking_disable", "mail_create_nolog", "dsync_correlation_id")


class DsyncJobMixin(models.AbstractModel):
    """What a sync job keeps of the context it was queued with.

    queue_job stores only a few context keys with a job (language, time zone,
    companies); anything else set when queueing is gone when the job runs.
    The sync jobs need three more:

    * ``tracking_disable`` and ``mail_create_nolog``: records the sync creates
      or updates get no creation note, no field tracking and no automatic
      followers. The event inbox is the audit trail of what the sync applied
      (payload, result record, state, exceptions); the chatter does not repeat
      it line by line, and Odoo creates orders markedly faster without it.
    * ``dsync_correlation_id``: the id that follows one order from the webhook
      to the channel; outbound messages posted by a job carry it.
    """

    _name = "dsync.job.mixin"
    _description = "Sync Job Context"

    def _job_prepare_context_before_enqueue_keys(self):
        return tuple(super()._job_prepare_context_before_enqueue_keys()) + (
            JOB_CONTEXT_KEYS
        )

    @contextlib.contextmanager
    def _dsync_connection_guard(self, what):
        """Run a sync job's work; hand the job back to queue_job when the
        database connection is lost under it (dropped, terminated, the
        server restarting).

        The transaction is gone with the connection: nothing of this run is
        kept, and what the job was to process is still waiting for it.
        queue_job stores the retry on a connection of its own; the run
        counts as an attempt (an inbound batch found to have run before
        goes on event by event), so work that breaks the connection every
        time fails at its flow's maximum instead of looping. Should
        queue_job not manage to store the retry either (the database still
        down), the job stays *started* and its dead-job requeue runs it
        again; the safety cron queues again whatever a job ended without
        processing (``dsync.event._dsync_requeue_stranded``).

        Inside, the thread is in the sync's log scope (``logsafe``)."""
        try:
            with sync_scope():
                yield
        except RetryableJobError:
            raise
        except Exception as err:
            if not is_connection_lost(err, self.env.cr):
                raise
            _logger.warning(
                "%s: database connection lost (%s); the job runs again",
                what,
                type(err).__name__,
            )
            raise RetryableJobError(
                "database connection lost", seconds=random.randint(5, 15)
            ) from err
