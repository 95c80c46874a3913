"""What a Shopify store's orders need in Odoo, set up through XML-RPC, and a
stream of such orders (for the order benchmark and the README demo).

``rpc(model, method, *args, **kw)`` is any XML-RPC caller (execute_kw). The
catalog is found or created, so a demo database can be played again.
"""

import re

from tests.simulators.shopify_orders import make_order


def _find_or_create(rpc, model, domain, vals):
    found = rpc(model, "search", domain, limit=1)
    return found[0] if found else rpc(model, "create", vals)


def ensure_order_catalog(rpc, backend_id, prefix, skus):
    """A 5 % sales tax mapped from ``GST 5.0``, a delivery method mapped from
    ``standard`` and ``skus`` products ``<prefix>-<n>``; returns their ids."""
    label = prefix.capitalize()
    tax_id = _find_or_create(
        rpc,
        "account.tax",
        [["name", "=", f"{label} GST 5%"]],
        {
            "name": f"{label} GST 5%",
            "amount": 5.0,
            "amount_type": "percent",
            "type_tax_use": "sale",
            "price_include_override": "tax_excluded",
        },
    )
    shipping_product = _find_or_create(
        rpc,
        "product.product",
        [["name", "=", f"{label} shipping"]],
        {"name": f"{label} shipping", "type": "service", "list_price": 0.0},
    )
    carrier_id = _find_or_create(
        rpc,
        "delivery.carrier",
        [["name", "=", f"{label} standard"]],
        {
            "name": f"{label} standard",
            "delivery_type": "fixed",
            "fixed_price": 0.0,
            "product_id": shipping_product,
        },
    )
    codes = [f"{prefix}-{i}" for i in range(skus)]
    existing = {
        p["default_code"]
        for p in rpc(
            "product.product",
            "search_read",
            [["default_code", "in", codes]],
            fields=["default_code"],
        )
    }
    missing = [code for code in codes if code not in existing]
    if missing:
        rpc(
            "product.product",
            "create",
            [
                {"name": f"{label} product {code}", "default_code": code}
                for code in missing
            ],
        )
    for map_type, code, target in (
        ("tax_code", "GST 5.0", f"account.tax,{tax_id}"),
        ("shipping_method", "standard", f"delivery.carrier,{carrier_id}"),
    ):
        _find_or_create(
            rpc,
            "dsync.value.map",
            [
                ["backend_id", "=", backend_id],
                ["map_type", "=", map_type],
                ["external_code", "=", code],
            ],
            {
                "backend_id": backend_id,
                "map_type": map_type,
                "external_code": code,
                "target_ref": target,
            },
        )
    return {
        "tax_id": tax_id,
        "shipping_product": shipping_product,
        "carrier_id": carrier_id,
    }


def make_orders(count, first_id, skus, run, prefix="BENCH", currency="USD"):
    """Orders of 1-3 lines of ``<prefix>-<n>`` products (a line discount on
    some, an order discount on every third), a new customer each."""
    orders = []
    for n in range(count):
        order_id = first_id + n
        lines = [
            (
                f"{prefix}-{(n * 7 + k) % skus}",
                1 + (n + k) % 3,
                f"{9.99 + (n * 13 + k * 7) % 90:.2f}",
                "1.50" if (n + k) % 4 == 0 else None,
            )
            for k in range(1 + n % 3)
        ]
        orders.append(
            make_order(
                order_id,
                f"#{order_id}",
                lines,
                currency=currency,
                order_discount=("SAVE10", "percentage", 10) if n % 3 == 0 else None,
                customer={
                    "id": order_id * 10,
                    "email": f"buyer-{run}-{order_id}@example.com",
                    "phone": f"+1555{order_id % 10**7:07d}",
                },
            )
        )
    return orders


def job_batching(rpc, backend_id, since):
    """How the queue processed the Shopify backend's events since ``since``
    (UTC, Odoo format): (processing jobs, batch jobs, orders created and
    confirmed together)."""
    jobs = rpc(
        "queue.job",
        "search_read",
        [
            ["method_name", "in", ["_dsync_run", "_dsync_run_batch"]],
            ["channel", "=like", f"root.dsync.shopify_{backend_id}.%"],
            ["date_created", ">=", since],
        ],
        fields=["method_name", "result"],
    )
    batches = [job for job in jobs if job["method_name"] == "_dsync_run_batch"]
    together = sum(
        int(match.group(1))
        for job in batches
        if (match := re.match(r"(\d+) applied together", job["result"] or ""))
    )
    return len(jobs), len(batches), together
