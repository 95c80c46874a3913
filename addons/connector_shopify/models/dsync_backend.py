# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import ormcache


def normalize_shop_domain(value):
    """``https://My-Store.myshopify.com/admin`` → ``my-store.myshopify.com``."""
    text = (value or "").strip().lower()
    text = text.split("://", 1)[-1]
    return text.split("/", 1)[0]


# The webhook topics a Shopify backend accepts, and the method that processes
# each. A delivery of any other topic is rejected (400) and kept as such.
TOPIC_PROCESSORS = {
    "orders/create": "_shopify_process_orders_create",
    "orders/updated": "_shopify_process_orders_updated",
    "orders/cancelled": "_shopify_process_orders_cancelled",
    "refunds/create": "_shopify_process_refunds_create",
    "order_transactions/create": "_shopify_process_order_transactions_create",
    "app/uninstalled": "_shopify_process_app_uninstalled",
    "customers/data_request": "_shopify_process_customers_data_request",
    "customers/redact": "_shopify_process_customers_redact",
    "shop/redact": "_shopify_process_shop_redact",
}
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

    def _shopify_topic_processors(self):
        return TOPIC_PROCESSORS

    def write(self, vals):
        result = super().write(vals)
        if "shopify_shop_domain" in vals:
            # the webhook route checks deliveries against it (cached)
            self.env.registry.clear_cache()
        return result

    @api.model
    @ormcache("backend_id")
    def _shopify_route_shop_domain(self, backend_id):
        """The shop domain a backend's webhooks must come from, normalised
        (lowercase, no scheme or path); cached per server process for the
        webhook route, cleared when it changes."""
        self.env.cr.execute(
            "SELECT shopify_shop_domain FROM dsync_backend WHERE id = %s",
            (backend_id,),
        )
        row = self.env.cr.fetchone()
        return normalize_shop_domain(row and row[0])

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
