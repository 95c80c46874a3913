# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

# The event types a WMS backend accepts (the published contract), and the
# method that processes each. Any other type is rejected (400) and kept as
# such; a type whose method does not exist yet lands in the exception queue
# as *Unsupported message*.
TOPIC_PROCESSORS = {
    "shipment.confirmed": "_wms_process_shipment_confirmed",
    "order.short": "_wms_process_order_short",
    "order.on_hold": "_wms_process_order_on_hold",
    "order.cancelled": "_wms_process_order_cancelled",
    "receipt.confirmed": "_wms_process_receipt_confirmed",
    "inventory.adjusted": "_wms_process_inventory_adjusted",
    "inventory.snapshot": "_wms_process_inventory_snapshot",
    "return.received": "_wms_process_return_received",
}
WMS_TOPICS = list(TOPIC_PROCESSORS)


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("wms", "WMS / 3PL")], ondelete={"wms": "cascade"}
    )

    def _wms_topic_processors(self):
        return TOPIC_PROCESSORS

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
