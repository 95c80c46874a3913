# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

WMS_TOPICS = [
    "picking.picked",
    "picking.packed",
    "picking.shipped",
    "stock.snapshot",
    "return.received",
]


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("wms", "WMS / 3PL")], ondelete={"wms": "cascade"}
    )

    def _wms_webhook_path(self):
        return f"/dsync/wms/{self.sudo().token}/events"

    def _wms_flow_specs(self):
        return [
            {
                "code": "wms_events",
                "name": "Warehouse confirmations",
                "direction": "in",
                "topics": WMS_TOPICS,
            },
            {"code": "picking_release", "name": "Release pickings", "direction": "out"},
        ]
