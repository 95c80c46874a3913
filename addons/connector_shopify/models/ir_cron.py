# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from .shopify_outbound import RECOVERY_CRON


class IrCron(models.Model):
    _inherit = "ir.cron"

    def write(self, vals):
        res = super().write(vals)
        if "active" in vals:
            self._shopify_recovery_changed()
        return res

    def unlink(self):
        self._shopify_recovery_changed()
        return super().unlink()

    def _shopify_recovery_changed(self):
        """Fast accept of order webhooks relies on the order recovery job
        (``_shopify_recoverable_topics``): when that job is switched on or
        off, every server process reads the answer again."""
        recovery = self.env.ref(RECOVERY_CRON, raise_if_not_found=False)
        if recovery and recovery in self:
            self.env.registry.clear_cache()
