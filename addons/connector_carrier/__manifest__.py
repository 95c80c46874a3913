# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Distribution Sync: Carrier Platform Connector",
    "summary": "Carrier platform tracking webhooks (signed) into the sync inbox",
    "version": "18.0.1.0.0",
    "category": "Inventory/Delivery",
    "license": "LGPL-3",
    "author": "Distribution Sync",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "depends": ["distribution_sync_core"],
    "data": ["data/dsync_ownership_rule_data.xml"],
    "demo": ["demo/dsync_backend_demo.xml"],
    "installable": True,
}
