# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from ..batch_scope import defer_subscribe
from ..order_payload import FINANCIAL_STATUSES


class SaleOrder(models.Model):
    _inherit = "sale.order"

    shopify_backend_id = fields.Many2one(
        "dsync.backend",
        string="Shopify Store",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The Shopify store this order was imported from.",
    )
    shopify_order_id = fields.Char(
        "Shopify Order ID", readonly=True, copy=False, index="btree_not_null"
    )
    shopify_financial_status = fields.Selection(
        FINANCIAL_STATUSES,
        readonly=True,
        copy=False,
        help="Payment status in Shopify at the last applied update; the "
        "store's confirmation rule decides from it whether the order is "
        "confirmed or kept as a quotation.",
    )
    shopify_payment_gateways = fields.Char(readonly=True, copy=False)

    def _shopify_shipped(self):
        """True when any goods of the order left the warehouse."""
        self.ensure_one()
        return any(self.order_line.mapped("qty_delivered")) or any(
            picking.picking_type_code == "outgoing" and picking.state == "done"
            for picking in self.picking_ids
        )

    def message_subscribe(self, partner_ids=None, subtype_ids=None):
        """Inside a batch scope, inserted with the batch's others (see
        batch_scope)."""
        if defer_subscribe(self, partner_ids, subtype_ids):
            return True
        return super().message_subscribe(
            partner_ids=partner_ids, subtype_ids=subtype_ids
        )
