# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, models
from odoo.exceptions import UserError


class DsyncException(models.Model):
    _inherit = "dsync.exception"

    def action_fix_product(self):
        """Create the unknown product(s) of this exception from what the
        platform sent (SKU, title, price), or link each SKU to an existing
        product (a SKU value map), then retry: one dialog."""
        self.ensure_one()
        if self.category != "unknown_product":
            raise UserError(_("This exception is not about an unknown product."))
        mode = self.env.context.get("dsync_fix_mode") or "create"
        wizard = self.env["dsync.product.fix"].create(
            {
                "exception_id": self.id,
                "mode": mode,
                "line_ids": [
                    (0, 0, vals) for vals in self._dsync_unknown_product_lines()
                ],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Create the product")
            if mode == "create"
            else _("Link the SKU to a product"),
            "res_model": "dsync.product.fix",
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def _dsync_unknown_product_lines(self):
        """What the platform said of each unknown product: the exception's
        ``fix_data["products"]`` (SKU, name, price), else its SKUs."""
        products = (self.fix_data or {}).get("products") or [
            {"sku": sku.strip()} for sku in (self.skus or "").split(",") if sku.strip()
        ]
        return [
            {
                "sku": product.get("sku") or "",
                "name": product.get("name") or product.get("sku") or "",
                "price": float(product.get("price") or 0.0),
            }
            for product in products
            if product.get("sku")
        ]
