# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class QueueJob(models.Model):
    _inherit = "queue.job"

    def write(self, vals):
        """Flush queue_job's own writes of a job's state at once.

        When a job is postponed (a retryable error) or fails, queue_job stores
        it through an environment on a new cursor that it drops before that
        cursor commits. Odoo 18 flushes a transaction through its live
        environments only, so the write was lost: the job stayed *started*,
        held its channel slot and ignored its retry delay until the dead-job
        requeue found it.
        """
        result = super().write(vals)
        if self.env.context.get("_job_edit_sentinel") is self.EDIT_SENTINEL:
            self.flush_recordset()
        return result
