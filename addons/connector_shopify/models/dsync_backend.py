# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

ORDER_TOPICS = [
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "order_transactions/create",
]
ADMIN_TOPICS = [
    "app/uninstalled",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
]


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    backend_type = fields.Selection(
        selection_add=[("shopify", "Shopify")], ondelete={"shopify": "cascade"}
    )
    shopify_shop_domain = fields.Char("Shop Domain", help="e.g. my-store.myshopify.com")
    shopify_api_version = fields.Char("Admin API Version", default="2025-07")

    def _shopify_webhook_path(self):
        return f"/dsync/shopify/{self.sudo().token}/webhook"

    def _shopify_flow_specs(self):
        return [
            {
                "code": "orders",
                "name": "Orders in",
                "direction": "in",
                "topics": ORDER_TOPICS,
            },
            {
                "code": "shop_admin",
                "name": "App and privacy requests",
                "direction": "in",
                "topics": ADMIN_TOPICS,
            },
            {
                "code": "stock_export",
                "name": "Stock levels out",
                "direction": "out",
                "defaults": {"batch_size": 250},
            },
            {
                "code": "fulfillment_export",
                "name": "Fulfillments out",
                "direction": "out",
            },
        ]
