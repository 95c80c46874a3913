# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockPicking(models.Model):
    _name = "stock.picking"
    _inherit = ["stock.picking", "dsync.linked.mixin"]

    def _dsync_record_context(self):
        """Business context of a picking (see dsync_business_context.py)."""
        self.ensure_one()
        return {
            "ref": self.origin or self.name,
            "partner": self.partner_id,
            "skus": self.move_ids.product_id.mapped("default_code"),
        }
