# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from .sale_order_line import exact_discount


class AccountMove(models.Model):
    _inherit = "account.move"

    def _prepare_product_base_line_for_taxes_computation(self, product_line):
        """Invoices of Shopify orders keep the orders' exact discounts, so
        that they total what the customer paid to the cent."""
        base_line = super()._prepare_product_base_line_for_taxes_computation(
            product_line
        )
        if self.is_invoice(include_receipts=True):
            exact = exact_discount(product_line)
            if exact is not None:
                base_line["discount"] = exact
        return base_line
