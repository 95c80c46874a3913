# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from ..batch_scope import current_scope


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

    def _trigger_scheduler(self):
        """Inside a batch scope, Odoo's search for an automatic reordering
        rule, one a move, is skipped when none exists for any of the moves'
        products: it would find nothing (see batch_scope)."""
        if self and current_scope(self.env) is not None:
            orderpoints = self.env["stock.warehouse.orderpoint"].search_count(
                [("product_id", "in", self.product_id.ids), ("trigger", "=", "auto")],
                limit=1,
            )
            if not orderpoints:
                return None
        return super()._trigger_scheduler()
