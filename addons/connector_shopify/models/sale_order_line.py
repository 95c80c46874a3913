# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import float_compare, float_round

EXACT_DISCOUNT_HELP = (
    "The line's Shopify discount as an unrounded percentage. The Discount (%) "
    "field keeps the configured decimals only; amounts are computed with this "
    "value, so that they match Shopify's to the cent, as long as the Discount "
    "(%) is not changed by hand."
)


def exact_discount(line):
    """``line.shopify_discount_percent`` while it still agrees with the
    line's (rounded) ``discount``; None when there is none or the discount
    was changed since (then the discount wins)."""
    exact = line.shopify_discount_percent
    if not exact:
        return None
    digits = line._fields["discount"].get_digits(line.env)[1]
    if float_compare(
        float_round(exact, precision_digits=digits),
        line.discount,
        precision_digits=digits,
    ):
        return None
    return exact


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    shopify_discount_percent = fields.Float(
        "Exact Discount (%)",
        digits=False,
        copy=False,
        readonly=True,
        help=EXACT_DISCOUNT_HELP,
    )

    def _prepare_base_line_for_taxes_computation(self, **kwargs):
        exact = exact_discount(self) if "discount" not in kwargs else None
        if exact is not None:
            kwargs["discount"] = exact
        return super()._prepare_base_line_for_taxes_computation(**kwargs)

    @api.depends("shopify_discount_percent")
    def _compute_amount(self):
        return super()._compute_amount()

    def _prepare_invoice_line(self, **optional_values):
        vals = super()._prepare_invoice_line(**optional_values)
        if exact_discount(self) is not None and vals.get("discount") == self.discount:
            vals["shopify_discount_percent"] = self.shopify_discount_percent
        return vals
