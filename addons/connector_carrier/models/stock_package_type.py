# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockPackageType(models.Model):
    _inherit = "stock.package.type"

    package_carrier_type = fields.Selection(
        selection_add=[("dsync_carrier", "Carrier platform (Distribution Sync)")],
        ondelete={"dsync_carrier": "set default"},
    )
