# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_assign(self, force_qty=False):
        """Moves are checked for availability right after their
        confirmation (Odoo's reservation at confirmation): their pickings are
        ready for the warehouse that runs them."""
        res = super()._action_assign(force_qty=force_qty)
        pickings = self.picking_id
        if pickings:
            self.env["dsync.backend"]._wms_on_pickings_ready(pickings)
        return res

    def _action_cancel(self):
        res = super()._action_cancel()
        self.picking_id._wms_changed()
        return res

    @api.model_create_multi
    def create(self, vals_list):
        moves = super().create(vals_list)
        moves.picking_id._wms_changed()
        return moves

    def write(self, vals):
        res = super().write(vals)
        if "product_uom_qty" in vals:
            self.picking_id._wms_changed()
        return res
