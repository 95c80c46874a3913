# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Distribution Sync: Shopify Connector",
    "summary": "Shopify orders in, stock and fulfillments out, on the sync pipeline",
    "version": "18.0.1.2.0",
    "category": "Sales/Integrations",
    "license": "LGPL-3",
    "author": "Distribution Sync",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": [
        "distribution_sync_core",
        "distribution_sync_stock",
        "distribution_sync_shipment",
        "sale_stock",
        "stock_delivery",
    ],
    "data": [
        "security/ir.model.access.csv",
        "security/shopify_rules.xml",
        "data/shopify_financial_status_data.xml",
        "data/dsync_ownership_rule_data.xml",
        "data/ir_cron_data.xml",
        "views/dsync_backend_views.xml",
        "views/shopify_order_views.xml",
        "views/shopify_outbound_views.xml",
    ],
    "demo": ["demo/dsync_backend_demo.xml"],
    "assets": {
        "web.assets_tests": ["connector_shopify/static/tests/tours/*.js"],
    },
    "installable": True,
}
