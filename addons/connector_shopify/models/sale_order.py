# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..batch_scope import defer_subscribe
from ..order_payload import FINANCIAL_STATUSES
from .shopify_transaction import GIFT_CARD


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

    shopify_transaction_ids = fields.Many2many(
        "shopify.transaction",
        string="Shopify Payments",
        compute="_compute_shopify_transactions",
        help="How the customer paid in Shopify, transaction by transaction "
        "(order_transactions/create webhook).",
    )
    shopify_gift_card_amount = fields.Monetary(
        "Paid by Gift Card",
        compute="_compute_shopify_transactions",
        help="What Shopify gift cards paid of this order (less what was "
        "refunded to them): a payment, to register against the gift card "
        "liability, not a discount.",
    )

    @api.depends("shopify_backend_id", "shopify_order_id")
    def _compute_shopify_transactions(self):
        Transaction = self.env["shopify.transaction"]
        shopify = self.filtered("shopify_order_id")
        found = Transaction.search(
            [
                ("backend_id", "in", shopify.shopify_backend_id.ids),
                ("shopify_order_id", "in", shopify.mapped("shopify_order_id")),
            ]
        )
        for order in self:
            mine = found.filtered(
                lambda t, o=order: (
                    (t.backend_id, t.shopify_order_id)
                    == (o.shopify_backend_id, o.shopify_order_id)
                )
            )
            order.shopify_transaction_ids = mine
            order.shopify_gift_card_amount = sum(
                t._signed_amount()
                for t in mine
                if t.gateway == GIFT_CARD and t.currency_id == order.currency_id
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
