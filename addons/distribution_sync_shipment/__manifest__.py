# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Distribution Sync: Shipment Milestones",
    "summary": "Shipment milestones on deliveries and packages, written by the "
    "carrier and warehouse connectors, read by the channels; the delivery's "
    "state (OCA delivery_state), proof of delivery, customer e-mails",
    "version": "18.0.1.0.0",
    "category": "Inventory/Delivery",
    "license": "LGPL-3",
    "author": "Distribution Sync",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": [
        "distribution_sync_core",
        "distribution_sync_stock",
        "stock_delivery",
        "delivery_state",
    ],
    "data": [
        "security/ir.model.access.csv",
        "security/dsync_shipment_rules.xml",
        "data/mail_template_data.xml",
        "views/dsync_shipment_milestone_views.xml",
        "views/dsync_shipment_notification_views.xml",
        "views/stock_picking_views.xml",
        "views/stock_quant_package_views.xml",
        "views/dsync_shipment_menus.xml",
    ],
    "installable": True,
}
