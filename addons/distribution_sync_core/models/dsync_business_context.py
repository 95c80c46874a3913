# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Business context: what an event or an exception is about, in the words of
the people who handle it (the channel's order number, the customer, the
amount, the SKUs, the Odoo record).

The contract with the connectors (see ``docs/architecture.md``):

* a connector implements, on ``dsync.backend``,
  ``_<type>_event_context(self, event, data) -> dict`` where ``event`` is the
  ``dsync.event`` and ``data`` its payload parsed as JSON. It returns any of
  the keys of :data:`CONTEXT_KEYS`; it must be cheap (no call to the
  platform; at most an indexed lookup) and never raise for a payload it does
  not understand (return what it found);
* the core calls it once per event, in the event's job, before the
  processor runs (so a failed event has it too; a rejected delivery, whose
  body nobody vouched for, never does);
* once the processor applied the event, the record it returned fills what is
  still missing (customer, amount...) through the record's own
  ``_dsync_record_context()`` when its model has one;
* an exception takes its event's context when it opens, overridden by the
  ``context`` of the ``BusinessError`` (e.g. only the unknown SKU); an
  exception about an outbound message takes the context of the message's
  record.
"""

import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

# What a context dict may hold (everything optional).
CONTEXT_KEYS = {
    "ref": "the document as the platform names it: order #1001, shipment, tracking",
    "partner_name": "the customer (or recipient) as the platform names it",
    "partner": "the res.partner, when the connector knows it cheaply",
    "amount": "the document's amount (number, Decimal or numeric string)",
    "currency": "ISO 4217 code of the amount, or a res.currency",
    "skus": "the SKUs the document is about (iterable of strings)",
    "record": "the Odoo record the document is about (sale order, picking...)",
}
# Searchable text columns, indexed (trigram when PostgreSQL has pg_trgm).
SEARCH_COLUMNS = ("doc_ref", "partner_name", "skus", "record_name")
MAX_TEXT = 250
MASKED_NAME = "***"


def context_values(env, context, currencies=None):
    """``dsync.business.context`` field values of a connector's context dict.

    ``currencies`` caches ISO code → res.currency over many calls."""
    vals = {}
    unknown = set(context) - set(CONTEXT_KEYS)
    if unknown:
        _logger.warning(
            "business context keys %s are not part of the contract (%s)",
            sorted(unknown),
            ", ".join(CONTEXT_KEYS),
        )
    if context.get("ref"):
        vals["doc_ref"] = str(context["ref"])[:MAX_TEXT]
    partner = context.get("partner")
    if partner:
        vals["partner_id"] = partner.id
        vals["partner_name"] = (partner.display_name or "")[:MAX_TEXT] or False
    if context.get("partner_name"):
        vals["partner_name"] = str(context["partner_name"])[:MAX_TEXT]
    if context.get("amount") not in (None, ""):
        try:
            vals["amount"] = float(context["amount"])
        except (TypeError, ValueError):
            pass
    currency = context.get("currency")
    if currency:
        if isinstance(currency, models.BaseModel):
            vals["currency_id"] = currency.id
        else:
            vals["currency_id"] = _currency(env, str(currency), currencies).id
    skus = [str(sku).strip() for sku in context.get("skus") or () if sku]
    if skus:
        vals["skus"] = ", ".join(dict.fromkeys(skus))[:MAX_TEXT]
    record = context.get("record")
    if record:
        vals.update(record_values(record))
    return {key: value for key, value in vals.items() if value not in (None, False)}


def record_values(record):
    """Link values of an Odoo record (model, id and its name)."""
    record = record[:1]
    return {
        "res_model": record._name,
        "res_id": record.id,
        "record_name": (record.sudo().display_name or "")[:MAX_TEXT],
    }


def record_context(record):
    """The context an Odoo record gives of itself: its model's
    ``_dsync_record_context()`` when it has one (connectors add it to the
    models they produce: sale orders, pickings...), else its customer (the
    record itself for a contact, or its ``partner_id``)."""
    record = record[:1].sudo()
    if not record:
        return {}
    method = getattr(record, "_dsync_record_context", None)
    if method is not None:
        return method() or {}
    if record._name == "res.partner":
        return {"partner": record}
    field = record._fields.get("partner_id")
    if (
        field is not None
        and field.type == "many2one"
        and field.comodel_name == ("res.partner")
    ):
        return {"partner": record.partner_id}
    return {}


def _currency(env, code, cache=None):
    cache = {} if cache is None else cache
    if code not in cache:
        cache[code] = (
            env["res.currency"]
            .sudo()
            .with_context(active_test=False)
            .search([("name", "=", code.upper()[:3])], limit=1)
        )
    return cache[code]


def has_trigram_ops(cr):
    """pg_trgm's GIN operator class, created when missing and allowed (it
    is a trusted extension: a database owner may create it)."""
    cr.execute("SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops'")
    if cr.fetchone():
        return True
    try:
        with cr.savepoint(flush=False):
            cr.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - no right to: prefix searches only
        _logger.info("pg_trgm is not available: business fields get btree indexes")
        return False
    return True


def create_context_indexes(cr, table):
    """Partial indexes on the searchable business columns of ``table``.

    Partial (``WHERE <column> IS NOT NULL``): a row stored without context,
    as the webhook intake stores every event, costs these indexes nothing."""
    trigram = has_trigram_ops(cr)
    for column in SEARCH_COLUMNS:
        name = f"{table}_{column}_ctx_idx"
        method = f"gin ({column} gin_trgm_ops)" if trigram else f"btree ({column})"
        cr.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {method} "
            f"WHERE {column} IS NOT NULL"
        )
    cr.execute(
        f"CREATE INDEX IF NOT EXISTS {table}_res_ctx_idx ON {table} "
        f"(res_model, res_id) WHERE res_id IS NOT NULL"
    )


class DsyncBusinessContext(models.AbstractModel):
    """Business fields shared by events and exceptions (see the module
    docstring for the connectors' contract)."""

    _name = "dsync.business.context"
    _description = "Sync Business Context"

    doc_ref = fields.Char(
        "Reference",
        readonly=True,
        help="The document as the platform names it: the channel's order "
        "number (#1001), a shipment or a tracking number.",
    )
    partner_id = fields.Many2one(
        "res.partner", "Customer", readonly=True, index="btree_not_null"
    )
    partner_name = fields.Char(
        "Customer Name",
        readonly=True,
        help="The customer as the platform names it (the Odoo contact may not "
        "exist yet). Masked with the payload after the retention days.",
    )
    amount = fields.Monetary(readonly=True, currency_field="currency_id")
    currency_id = fields.Many2one("res.currency", readonly=True)
    skus = fields.Char("SKUs", readonly=True)
    record_name = fields.Char(
        "Odoo Record", readonly=True, help="The Odoo record it is about."
    )

    @api.model
    def _dsync_context_fields(self):
        return [
            "doc_ref",
            "partner_id",
            "partner_name",
            "amount",
            "currency_id",
            "skus",
            "res_model",
            "res_id",
            "record_name",
        ]

    def _dsync_context_copy(self):
        """This record's context as field values (for another record)."""
        self.ensure_one()
        vals = {}
        for fname in self._dsync_context_fields():
            value = self[fname]
            if isinstance(value, models.BaseModel):
                value = value.id
            if value:
                vals[fname] = value
        return vals

    @api.model
    def _dsync_context_search_domain(self, text):
        """Records whose reference, customer, SKUs or Odoo record match."""
        return [
            "|",
            "|",
            "|",
            "|",
            ("doc_ref", "ilike", text),
            ("partner_name", "ilike", text),
            ("partner_id", "ilike", text),
            ("skus", "ilike", text),
            ("record_name", "ilike", text),
        ]
