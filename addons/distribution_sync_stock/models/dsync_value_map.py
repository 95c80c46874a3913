# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class DsyncValueMap(models.Model):
    _inherit = "dsync.value.map"

    map_type = fields.Selection(
        selection_add=[("sku", "Product SKU")], ondelete={"sku": "cascade"}
    )

    @api.model
    def _dsync_target_models(self):
        targets = super()._dsync_target_models()
        targets["sku"] = ["product.product"]
        return targets

    @api.model
    def _dsync_products_by_sku(self, backend, skus):
        """{SKU: product.product} of the backend's SKU value maps among
        ``skus``: a SKU a person linked to an existing product (one query)."""
        skus = [sku for sku in skus if sku]
        if not skus:
            return {}
        maps = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("map_type", "=", "sku"),
                ("external_code", "in", skus),
            ]
        )
        return {
            mapping.external_code: mapping.target_ref
            for mapping in maps
            if mapping.target_ref and mapping.target_ref._name == "product.product"
        }
