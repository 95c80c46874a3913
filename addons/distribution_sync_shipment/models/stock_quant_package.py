# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .dsync_shipment_milestone import STATUSES


class StockQuantPackage(models.Model):
    _inherit = "stock.quant.package"

    dsync_milestone_ids = fields.One2many(
        "dsync.shipment.milestone", "package_id", string="Shipment Milestones"
    )
    dsync_shipment_status = fields.Selection(
        STATUSES,
        string="Shipment Status",
        compute="_compute_dsync_shipment_status",
        help="The package's latest milestone.",
    )
    dsync_tracking_ref = fields.Char(
        "Tracking Number", compute="_compute_dsync_shipment_status"
    )

    @api.depends("dsync_milestone_ids.is_current")
    def _compute_dsync_shipment_status(self):
        currents = self.env["dsync.shipment.milestone"].search(
            [("package_id", "in", self.ids), ("is_current", "=", True)],
            order="occurred_at desc, id desc",
        )
        latest = {}
        for milestone in currents:
            latest.setdefault(milestone.package_id.id, milestone)
        for package in self:
            milestone = latest.get(package.id)
            package.dsync_shipment_status = milestone.status if milestone else False
            package.dsync_tracking_ref = milestone.tracking_ref if milestone else False
