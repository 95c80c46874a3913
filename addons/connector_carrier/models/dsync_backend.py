# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

# The platform's event descriptions a carrier backend accepts, and the method
# that processes each. Any other is rejected (400) and kept as such; one
# whose method does not exist yet lands in the exception queue as
# *Unsupported message*.
TOPIC_PROCESSORS = {
    "tracker.created": "_carrier_process_tracker_created",
    "tracker.updated": "_carrier_process_tracker_updated",
}


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("carrier", "Carrier platform")], ondelete={"carrier": "cascade"}
    )

    def _carrier_topic_processors(self):
        return TOPIC_PROCESSORS

    def _carrier_webhook_path(self):
        return f"/dsync/carrier/{self.sudo().token}/tracking"

    def _carrier_flow_specs(self):
        return [
            {
                "code": "tracking",
                "name": "Tracking updates",
                "direction": "in",
                "topics": list(TOPIC_PROCESSORS),
            },
            {"code": "labels", "name": "Labels", "direction": "out"},
        ]
