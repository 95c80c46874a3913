# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""How a Shopify order was paid: its payment transactions.

A gift card used to pay is a payment of the order, like a card: Odoo's order
keeps Shopify's total (the gift card is not a discount), and the
``order_transactions/create`` webhook tells how much each gateway took. The
transactions are listed on the sale order, so that finance registers the
gift card part against the gift card liability and the rest against the
payment provider.
"""

from odoo import api, fields, models

TRANSACTION_KINDS = [
    ("authorization", "Authorization"),
    ("capture", "Capture"),
    ("sale", "Sale"),
    ("void", "Void"),
    ("refund", "Refund"),
    ("change", "Change"),
    ("suggested_refund", "Suggested refund"),
]
TRANSACTION_STATUSES = [
    ("pending", "Pending"),
    ("success", "Success"),
    ("failure", "Failure"),
    ("error", "Error"),
]
GIFT_CARD = "gift_card"


class ShopifyTransaction(models.Model):
    _name = "shopify.transaction"
    _description = "Shopify Payment Transaction"
    _order = "processed_at, id"
    _rec_name = "gateway"

    backend_id = fields.Many2one(
        "dsync.backend", string="Shopify Store", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    shopify_order_id = fields.Char("Shopify Order ID", required=True, index=True)
    transaction_id = fields.Char("Shopify Transaction ID", required=True)
    sale_order_id = fields.Many2one(
        "sale.order", string="Sale Order", compute="_compute_sale_order_id"
    )
    kind = fields.Selection(TRANSACTION_KINDS)
    gateway = fields.Char(help="e.g. shopify_payments, gift_card, manual")
    status = fields.Selection(TRANSACTION_STATUSES)
    amount = fields.Monetary(currency_field="currency_id")
    currency_id = fields.Many2one("res.currency")
    processed_at = fields.Datetime("Processed On")
    gift_card_last_characters = fields.Char(
        "Gift Card", help="The last characters of the gift card's code."
    )
    event_id = fields.Many2one("dsync.event", readonly=True, ondelete="set null")

    _sql_constraints = [
        (
            "transaction_unique",
            "unique(backend_id, transaction_id)",
            "A Shopify transaction is recorded once per store.",
        )
    ]

    @api.depends("backend_id", "shopify_order_id")
    def _compute_sale_order_id(self):
        orders = self.env["sale.order"].search(
            [
                ("shopify_backend_id", "in", self.backend_id.ids),
                ("shopify_order_id", "in", self.mapped("shopify_order_id")),
            ]
        )
        by_key = {(o.shopify_backend_id.id, o.shopify_order_id): o for o in orders}
        for transaction in self:
            transaction.sale_order_id = by_key.get(
                (transaction.backend_id.id, transaction.shopify_order_id)
            )

    def _signed_amount(self):
        """What the transaction moved to the shop (a refund counts against)."""
        self.ensure_one()
        if self.status != "success" or self.kind not in ("sale", "capture", "refund"):
            return 0.0
        return -self.amount if self.kind == "refund" else self.amount
