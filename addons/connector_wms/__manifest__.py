# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Distribution Sync: WMS / 3PL Connector",
    "summary": "Warehouse system or 3PL: releases out; shipment, short-pick, "
    "receipt, return and stock events in; snapshot reconciliation; a "
    "published contract and a CSV path",
    "version": "18.0.1.1.0",
    "category": "Inventory/Integrations",
    "license": "LGPL-3",
    "author": "Distribution Sync",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": [
        "distribution_sync_core",
        "distribution_sync_stock",
        "distribution_sync_shipment",
        "stock_delivery",
        "fs_storage",
    ],
    "external_dependencies": {"python": ["jsonschema", "PyYAML", "fsspec"]},
    "data": [
        "security/ir.model.access.csv",
        "data/dsync_ownership_rule_data.xml",
        "data/ir_cron_data.xml",
        "views/dsync_backend_views.xml",
        "views/stock_picking_views.xml",
        "wizards/wms_file_import_views.xml",
    ],
    "demo": ["demo/dsync_backend_demo.xml"],
    "installable": True,
}
