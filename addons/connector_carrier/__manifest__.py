# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Distribution Sync: Carrier Platform Connector",
    "summary": "Rates, labels and tracking from a carrier platform (EasyPost) "
    "behind Odoo's delivery methods; labels bought in the background, tracking "
    "milestones, proof of delivery",
    "version": "18.0.1.1.0",
    "category": "Inventory/Delivery",
    "license": "LGPL-3",
    "author": "Distribution Sync",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": [
        "distribution_sync_core",
        "distribution_sync_shipment",
        "stock_delivery",
        "delivery_state",
    ],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/ir.model.access.csv",
        "security/dsync_carrier_rules.xml",
        "data/dsync_ownership_rule_data.xml",
        "data/ir_cron_data.xml",
        "views/dsync_backend_views.xml",
        "views/delivery_carrier_views.xml",
        "views/dsync_carrier_label_views.xml",
        "views/stock_picking_views.xml",
    ],
    "demo": ["demo/dsync_backend_demo.xml"],
    "installable": True,
}
