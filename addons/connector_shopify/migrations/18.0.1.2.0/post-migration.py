# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Orders imported before the Shopify order name had a field of its own kept
it in the Customer Reference: copy it there."""


def migrate(cr, version):
    cr.execute(
        """UPDATE sale_order
              SET shopify_order_name = client_order_ref
            WHERE shopify_backend_id IS NOT NULL
              AND shopify_order_name IS NULL"""
    )
