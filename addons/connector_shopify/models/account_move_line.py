# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .sale_order_line import EXACT_DISCOUNT_HELP


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    shopify_discount_percent = fields.Float(
        "Exact Discount (%)",
        digits=False,
        copy=False,
        readonly=True,
        help=EXACT_DISCOUNT_HELP,
    )

    @api.depends("shopify_discount_percent")
    def _compute_totals(self):
        return super()._compute_totals()
