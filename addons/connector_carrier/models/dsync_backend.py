# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("carrier", "Carrier platform")], ondelete={"carrier": "cascade"}
    )

    def _carrier_webhook_path(self):
        return f"/dsync/carrier/{self.sudo().token}/tracking"

    def _carrier_flow_specs(self):
        return [
            {
                "code": "tracking",
                "name": "Tracking updates",
                "direction": "in",
                "topics": ["tracker.created", "tracker.updated"],
            },
            {"code": "labels", "name": "Labels", "direction": "out"},
        ]
