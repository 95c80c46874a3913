# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class DsyncValueMap(models.Model):
    _inherit = "dsync.value.map"

    map_type = fields.Selection(
        selection_add=[
            ("custom_item", "Custom item"),
            ("payment_terms", "Payment terms"),
        ],
        ondelete={"custom_item": "cascade", "payment_terms": "cascade"},
    )

    @api.model
    def _dsync_target_models(self):
        """A custom item's title stands for a product, B2B payment terms'
        name for Odoo payment terms."""
        targets = super()._dsync_target_models()
        targets["custom_item"] = ["product.product", "product.template"]
        targets["payment_terms"] = ["account.payment.term"]
        return targets
