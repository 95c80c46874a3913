# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Masking of personal data in stored payloads (plain Python)."""

import json

MASK = "***"

# Keys whose values are personal data in the payloads the connectors receive
# (Shopify customers and addresses, WMS ship-to, carrier recipients).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "mobile",
        "first_name",
        "last_name",
        "name",
        "full_name",
        "company",
        "address1",
        "address2",
        "street",
        "street2",
        "city",
        "zip",
        "postal_code",
        "latitude",
        "longitude",
        "browser_ip",
        "customer_locale",
        "note",
        "recipient",
        "signature_name",
    }
)
# Objects whose every string leaf is personal data.
PERSONAL_OBJECTS = frozenset(
    {"customer", "billing_address", "shipping_address", "default_address"}
)


def mask_value(value, inside_personal=False):
    if isinstance(value, dict):
        return {
            key: (
                MASK
                if (inside_personal or key in PERSONAL_KEYS)
                and isinstance(sub, str | int | float)
                and not isinstance(sub, bool)
                and key not in ("id", "admin_graphql_api_id")
                else mask_value(sub, inside_personal or key in PERSONAL_OBJECTS)
            )
            for key, sub in value.items()
        }
    if isinstance(value, list):
        return [mask_value(item, inside_personal) for item in value]
    return value


def mask_payload(raw):
    """Return ``raw`` (a JSON text) with personal values replaced by ``***``.

    A body that is not JSON cannot be masked field by field: it is replaced
    whole, since nothing tells which part of it is personal.
    """
    if not raw:
        return raw
    try:
        data = json.loads(raw)
        return json.dumps(mask_value(data), separators=(",", ":"))
    except (ValueError, RecursionError):
        # not JSON, or nested too deeply to walk (a rejected "bomb")
        return MASK
