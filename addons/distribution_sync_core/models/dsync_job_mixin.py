# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

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
