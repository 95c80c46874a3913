# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Distribution Sync: Stock",
    "summary": "Products and pickings in the sync: fix an unknown SKU from its "
    "exception (create or link the product), SKU value maps, a picking's "
    "events and exceptions",
    "version": "18.0.1.0.0",
    "category": "Inventory/Integrations",
    "license": "LGPL-3",
    "author": "Distribution Sync",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": ["distribution_sync_core", "stock"],
    "data": [
        "security/ir.model.access.csv",
        "wizards/dsync_product_fix_views.xml",
        "views/dsync_exception_views.xml",
        "views/stock_picking_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
