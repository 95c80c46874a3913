# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The published contract (``static/openapi/wms-v1.yaml``) as validators.

Plain Python, no ORM: the webhook route checks every event against its
type's schema in the contract itself, so that what is published and what is
accepted cannot drift apart; the tests check every event they send, and
every document Odoo sends, with the same validators.

The schemas are loaded once and their ``$ref`` inlined (about 3 times faster
to validate than resolving references on the fly: a 1,000-item snapshot
page in some 50 ms). The reason of a refusal names the property and the rule
it breaks, never the value (it may be personal data).
"""

import functools
import os

import yaml
from jsonschema import Draft202012Validator

CONTRACT_PATH = os.path.join(
    os.path.dirname(__file__), "static", "openapi", "wms-v1.yaml"
)
EVENT_SCHEMAS = {
    "shipment.confirmed": "ShipmentConfirmed",
    "order.short": "OrderShort",
    "order.on_hold": "OrderOnHold",
    "order.cancelled": "OrderCancelled",
    "receipt.confirmed": "ReceiptConfirmed",
    "inventory.adjusted": "InventoryAdjusted",
    "inventory.snapshot": "InventorySnapshot",
    "return.received": "ReturnReceived",
}
# Event types about one released order or receipt: order_ref and sequence.
ORDER_EVENT_TYPES = (
    "shipment.confirmed",
    "order.short",
    "order.on_hold",
    "order.cancelled",
    "receipt.confirmed",
)
RULES = {
    "type": "has the wrong type",
    "required": "is missing",
    "minimum": "is below its minimum",
    "exclusiveMinimum": "must be more than its minimum",
    "maximum": "is above its maximum",
    "exclusiveMaximum": "is above its maximum",
    "minLength": "is empty",
    "maxLength": "is too long",
    "pattern": "holds characters that are not allowed",
    "enum": "is not one of the allowed values",
    "const": "is not the allowed value",
    "not": "has a value that is not allowed",
    "minItems": "has too few items",
    "maxItems": "has too many items",
    "format": "is not in the expected format",
}


class ContractError(ValueError):
    """A document that does not match its schema; the text names where."""


@functools.cache
def contract():
    """The OpenAPI document, parsed."""
    with open(CONTRACT_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _inline(node, schemas, depth=0):
    """``node`` with every ``#/components/schemas/...`` reference replaced by
    the schema it names (the contract has no recursive schema)."""
    if depth > 50:
        raise ValueError("the contract's schemas nest too deeply")
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref":
                target = _inline(schemas[value.rsplit("/", 1)[1]], schemas, depth + 1)
                result.setdefault("allOf", []).append(target)
            elif key == "discriminator":
                continue  # OpenAPI's, not JSON Schema's
            else:
                result[key] = _inline(value, schemas, depth + 1)
        if set(result) == {"allOf"} and len(result["allOf"]) == 1:
            return result["allOf"][0]
        return result
    if isinstance(node, list):
        return [_inline(item, schemas, depth + 1) for item in node]
    return node


@functools.cache
def validator(schema_name):
    """A JSON Schema 2020-12 validator of ``#/components/schemas/<name>``."""
    schemas = contract()["components"]["schemas"]
    return Draft202012Validator(_inline(schemas[schema_name], schemas))


def _where(error):
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "the body"


def describe_error(error):
    """Where ``error`` is and which rule it breaks, without the value."""
    where = _where(error)
    if error.validator == "required":
        missing = [
            name
            for name in error.validator_value
            if not isinstance(error.instance, dict) or name not in error.instance
        ]
        prefix = f"{where}." if where != "the body" else ""
        return f"{prefix}{missing[0] if missing else '?'} is missing"
    if error.validator == "pattern" and isinstance(error.schema, dict):
        if error.schema.get("format") in ("date-time", "date"):
            return f"{where} is not an ISO 8601 {error.schema['format']}"
    return f"{where} {RULES.get(error.validator, 'does not match the contract')}"


def check(schema_name, document):
    """Raise :class:`ContractError` when ``document`` does not match
    ``#/components/schemas/<schema_name>``."""
    checker = validator(schema_name)
    if checker.is_valid(document):
        return
    errors = sorted(checker.iter_errors(document), key=lambda e: len(e.absolute_path))
    raise ContractError(describe_error(_deepest(errors[0])))


def _deepest(error):
    """The most precise of an error's causes (allOf / oneOf nest them)."""
    while error.context:
        error = sorted(error.context, key=lambda e: -len(e.absolute_path))[0]
    return error


def check_event(document):
    """Check a WMS event (its ``type`` must be one of the contract's)."""
    schema = EVENT_SCHEMAS.get(document.get("type"))
    if schema is None:
        raise ContractError("type is not one of the allowed values")
    check(schema, document)
