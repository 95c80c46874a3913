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
    shopify_payment_gateways = fields.Char(
        readonly=True,
        copy=False,
        help="How the customer paid in Shopify. A gift card used to pay "
        "('gift_card') is a payment: the order's total is what Shopify "
        "charged, gift card included.",
    )
    shopify_order_name = fields.Char(
        "Shopify Order",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The order's name in Shopify (#1001). The Customer Reference is "
        "the buyer's purchase order number when they gave one, else this name.",
    )
    shopify_note = fields.Text(
        "Customer Note",
        readonly=True,
        copy=False,
        help="The note and the note attributes of the Shopify order (delivery "
        "instructions, gift message). They are also at the top of the order's "
        "terms and of its deliveries' notes, where an update from Shopify "
        "replaces them.",
    )
    shopify_tags = fields.Char(
        "Shopify Tags",
        readonly=True,
        copy=False,
        help="The Shopify order's tags at the last update: they are among "
        "the order's tags; tags added in Odoo stay when Shopify's change.",
    )
    shopify_payment_terms = fields.Char(
        "Shopify Payment Terms",
        readonly=True,
        copy=False,
        help="The B2B payment terms of the Shopify order (e.g. Net 30), "
        "mapped to the order's payment terms.",
    )

    def _shopify_shipped(self):
        """True when any goods of the order left the warehouse."""
        self.ensure_one()
        return any(self.order_line.mapped("qty_delivered")) or any(
            picking.picking_type_code == "outgoing" and picking.state == "done"
            for picking in self.picking_ids
        )

    def _shopify_name(self):
        """The order's name in Shopify (orders imported before the name had a
        field of its own kept it in the Customer Reference)."""
        self.ensure_one()
        return self.shopify_order_name or self.client_order_ref or ""

    def _shopify_open_deliveries(self):
        """The order's pickings still to be done (not returns)."""
        return self.picking_ids.filtered(
            lambda p: (
                p.state not in ("done", "cancel") and p.picking_type_code != "incoming"
            )
        )

    def message_subscribe(self, partner_ids=None, subtype_ids=None):
        """Inside a batch scope, inserted with the batch's others (see
        batch_scope)."""
        if defer_subscribe(self, partner_ids, subtype_ids):
            return True
        return super().message_subscribe(
            partner_ids=partner_ids, subtype_ids=subtype_ids
        )
