# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockQuantPackage(models.Model):
    _inherit = "stock.quant.package"

    wms_tracking_ref = fields.Char(
        "Tracking Number", help="The carrier's tracking number, from the warehouse."
    )
    wms_tracking_url = fields.Char("Tracking URL")
    wms_carrier = fields.Char("Carrier", help="The carrier, as the warehouse names it.")
