# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Orders imported before the Shopify order name had a field of its own kept
it in the Customer Reference: copy it there. The orders flow of existing
stores handles payment transactions too."""


def migrate(cr, version):
    cr.execute(
        """UPDATE sale_order
              SET shopify_order_name = client_order_ref
            WHERE shopify_backend_id IS NOT NULL
              AND shopify_order_name IS NULL"""
    )
    cr.execute(
        """UPDATE dsync_flow f
              SET topics = f.topics || ',order_transactions/create'
             FROM dsync_backend b
            WHERE f.backend_id = b.id
              AND b.backend_type = 'shopify'
              AND f.code = 'orders'
              AND f.topics NOT LIKE '%%order_transactions/create%%'"""
    )
