# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class DsyncValueMap(models.Model):
    _inherit = "dsync.value.map"

    map_type = fields.Selection(
        selection_add=[
            ("custom_item", "Custom item"),
            ("payment_terms", "Payment terms"),
        ],
        ondelete={"custom_item": "cascade", "payment_terms": "cascade"},
    )
