# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockQuantPackage(models.Model):
    _inherit = "stock.quant.package"

    wms_tracking_ref = fields.Char(
        "Warehouse Tracking Number",
        help="The carrier's tracking number, as the warehouse reported it (the "
        "shipment timeline's milestones carry it too).",
    )
    wms_tracking_url = fields.Char("Warehouse Tracking URL")
    wms_carrier = fields.Char(
        "Warehouse Carrier", help="The carrier, as the warehouse names it."
    )
