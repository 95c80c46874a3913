# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_done(self, cancel_backorder=False):
        """Moves done change stock levels (and may complete a delivery): let
        the Shopify backends post what their channels must learn."""
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        done = moves.filtered(lambda move: move.state == "done")
        if done:
            self.env["dsync.backend"]._shopify_on_moves_done(done)
        return moves
