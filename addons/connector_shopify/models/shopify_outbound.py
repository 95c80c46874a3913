# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify backend: API client, connection test, stock and fulfillment
exports, and the recovery of orders whose webhook never arrived."""

import hashlib
import json
import logging
import math
import threading
import uuid
from collections import OrderedDict, defaultdict
from datetime import timedelta

from odoo import _, _lt, api, fields, models

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError
from odoo.addons.distribution_sync_core.intake import parse_utc

from ..shopify_client import (
    MAX_INPUT_SIZE,
    ShopifyClient,
    legacy_id,
    order_node_to_payload,
    to_gid,
)

_logger = logging.getLogger(__name__)

ORDER_TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
INVENTORY_ITEM_PREFIX = "gid://shopify/InventoryItem/"
# The scopes each feature needs; a write scope grants the read one.
REQUIRED_SCOPES = OrderedDict(
    [
        ("read_orders", _lt("read orders (order recovery)")),
        ("read_products", _lt("find product variants by SKU (stock export)")),
        ("write_inventory", _lt("publish stock levels")),
        ("read_locations", _lt("list locations (location mapping)")),
        (
            "write_merchant_managed_fulfillment_orders",
            _lt("create fulfillments with tracking"),
        ),
        (
            "write_fulfillments",
            _lt("tell the order's status page where the parcel is (shipment events)"),
        ),
    ]
)
RECOVERY_FIRST_LOOKBACK = timedelta(hours=24)
RECOVERY_OVERLAP = timedelta(minutes=5)
RECOVERY_MAX_PAGES = 20
RECOVERY_CRON = "connector_shopify.ir_cron_shopify_recover_orders"
STOCK_USER_ERROR_CATEGORIES = {
    "INVALID_INVENTORY_ITEM": "unknown_product",
    "INVALID_LOCATION": "missing_mapping",
}

# One client per shop and process: a pooled session and the shop's throttle
# status shared by every job of this worker.
_CLIENTS = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 64


def _inside(location, root):
    return location.parent_path.startswith(root.parent_path)


def _touches(move, root):
    """True when ``move`` takes stock out of or into ``root`` (or below)."""
    locations = (
        move.location_id
        | move.location_dest_id
        | move.move_line_ids.location_id
        | move.move_line_ids.location_dest_id
    )
    return any(_inside(location, root) for location in locations)


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    shopify_stock_quantity = fields.Selection(
        [
            ("free", "Available (on hand minus reserved)"),
            ("on_hand", "On hand"),
        ],
        string="Published Quantity",
        default="free",
        help="Which Odoo quantity is published to the channel.",
    )
    shopify_stock_buffer = fields.Integer(
        string="Safety Buffer",
        default=0,
        help="Units kept back: the published quantity is the Odoo quantity "
        "minus this buffer.",
    )
    shopify_stock_never_negative = fields.Boolean(
        string="Never Below Zero",
        default=True,
        help="Publish 0 instead of a negative quantity.",
    )
    shopify_notify_customer = fields.Boolean(
        string="Notify Customers of Shipments",
        default=True,
        help="Shopify emails the customer when a fulfillment is created.",
    )
    shopify_location_map_ids = fields.One2many(
        "dsync.value.map",
        "backend_id",
        string="Location Mapping",
        domain=[("map_type", "=", "location")],
        context={"default_map_type": "location", "active_test": False},
        help="Shopify locations (their gid) and the Odoo warehouse or stock "
        "location whose quantities are published there.",
    )
    shopify_orders_cursor = fields.Datetime(
        string="Orders Recovered Up To",
        copy=False,
        help="Orders updated since this time are fetched again by the recovery "
        "job (with a few minutes of overlap); anything no webhook delivered is "
        "fed into the inbox.",
    )

    # ------------------------------------------------------------------
    # client
    # ------------------------------------------------------------------
    def _shopify_base_url(self):
        self.ensure_one()
        if self.api_url:
            return self.api_url
        if self.shopify_shop_domain:
            return f"https://{self.shopify_shop_domain}"
        return False

    def _shopify_client(self):
        """The Admin API client of this shop (cached per process)."""
        self.ensure_one()
        token = self._dsync_get_secret("api_secret")
        base = self._shopify_base_url()
        key = (
            self.env.cr.dbname,
            self.id,
            base,
            hashlib.sha256((token or "").encode()).hexdigest(),
            self.shopify_api_version,
            self.request_timeout,
        )
        with _CLIENTS_LOCK:
            client = _CLIENTS.pop(key, None)
            if client is None:
                client = ShopifyClient(
                    base,
                    token,
                    self.shopify_api_version or "2025-07",
                    timeout=self.request_timeout or 20,
                )
            _CLIENTS[key] = client
            while len(_CLIENTS) > _MAX_CLIENTS:
                _CLIENTS.popitem(last=False)
        return client

    def _shopify_can_send(self):
        """Outbound flows need an enabled backend with an API token; a shop
        without one only receives webhooks."""
        self.ensure_one()
        return self.backend_type == "shopify" and self.active and self.api_secret_set

    def _shopify_trigger(self, flow_code):
        flow = self._dsync_flow(flow_code)
        if flow.active and flow.mode == "realtime":
            flow._enqueue_drain()

    # ------------------------------------------------------------------
    # locations and the stock rule
    # ------------------------------------------------------------------
    def _shopify_location_maps(self):
        """[(Shopify location gid, stock.location)] of the mapped locations."""
        self.ensure_one()
        maps = (
            self.env["dsync.value.map"]
            .sudo()
            .search([("backend_id", "=", self.id), ("map_type", "=", "location")])
        )
        result = []
        for mapping in maps:
            target = mapping.target_ref
            if target and target._name == "stock.warehouse":
                target = target.lot_stock_id
            if target and target._name == "stock.location":
                result.append((mapping.external_code, target))
        return result

    def _shopify_published_quantity(self, on_hand, reserved):
        """The quantity the channel's stock rule publishes (an integer)."""
        self.ensure_one()
        quantity = (
            on_hand - reserved if self.shopify_stock_quantity == "free" else on_hand
        )
        quantity = math.floor(quantity + 1e-6) - (self.shopify_stock_buffer or 0)
        if self.shopify_stock_never_negative:
            quantity = max(0, quantity)
        return int(quantity)

    def _shopify_stock_levels(self, location, products=None):
        """{product id: (on hand, reserved)} in ``location`` and its children."""
        domain = [
            ("location_id", "child_of", location.id),
            ("location_id.usage", "=", "internal"),
        ]
        if products is not None:
            domain.append(("product_id", "in", products.ids))
        groups = (
            self.env["stock.quant"]
            .sudo()
            ._read_group(
                domain, ["product_id"], ["quantity:sum", "reserved_quantity:sum"]
            )
        )
        return {product.id: (qty, reserved) for product, qty, reserved in groups}

    def _shopify_stock_products(self):
        """Every product whose stock is published: storable, with a SKU."""
        self.ensure_one()
        return (
            self.env["product.product"]
            .sudo()
            .with_company(self.company_id)
            .search_fetch(
                [
                    ("is_storable", "=", True),
                    ("default_code", "!=", False),
                    ("company_id", "in", [False, self.company_id.id]),
                ],
                ["default_code"],
            )
        )

    def _shopify_stock_messages(self, location_gid, location, products):
        """(key, data, product) of each product's level at one location."""
        levels = self._shopify_stock_levels(location, products)
        for product in products:
            on_hand, reserved = levels.get(product.id, (0.0, 0.0))
            sku = product.default_code
            data = {
                "sku": sku,
                "product_id": product.id,
                "location_id": location_gid,
                "quantity": self._shopify_published_quantity(on_hand, reserved),
            }
            yield f"{sku}@{location_gid}", data, product

    def _shopify_post_stock(self, location_gid, location, products):
        messages = list(self._shopify_stock_messages(location_gid, location, products))
        self.env["dsync.outbox"].sudo()._dsync_post_many(
            self, "stock_export", messages, trigger=False
        )
        return len(messages)

    # ------------------------------------------------------------------
    # stock export: triggers
    # ------------------------------------------------------------------
    @api.model
    def _shopify_senders(self, domain):
        """The Shopify backends matching ``domain`` that may call Shopify."""
        backends = self.sudo().search([("backend_type", "=", "shopify"), *domain])
        return backends.filtered(lambda b: b._shopify_can_send())

    @api.model
    def _shopify_on_moves_done(self, moves):
        """Hook of ``stock.move._action_done``: post the new stock levels and
        the fulfillments of the moves just done."""
        for backend in self._shopify_senders(
            [("company_id", "in", moves.company_id.ids)]
        ):
            company_moves = moves.filtered(
                lambda m, b=backend: m.company_id == b.company_id
            )
            backend._shopify_post_stock_for_moves(company_moves)
            backend._shopify_post_fulfillments(company_moves.picking_id)

    @api.model
    def _shopify_on_reservations_changed(self, changed):
        """Precommit hook of reservations: ``changed`` is {location id:
        product ids}. Backends publishing the free quantity post the new
        levels of those products at their mapped locations."""
        locations = self.env["stock.location"].sudo().browse(list(changed))
        Product = self.env["product.product"].sudo()

        def products_under(root):
            inside = locations.filtered(lambda loc: _inside(loc, root))
            return Product.browse(
                sorted(set().union(*(changed[i] for i in inside.ids)))
            )

        for backend in self._shopify_senders([("shopify_stock_quantity", "=", "free")]):
            backend._shopify_post_levels(products_under)

    def _shopify_post_stock_for_moves(self, moves):
        """Post the level of each product moved in or out of a mapped
        location (or one of its children)."""
        return self._shopify_post_levels(
            lambda root: moves.filtered(lambda move: _touches(move, root)).product_id
        )

    def _shopify_post_levels(self, products_under):
        """Post, at each mapped location, the level of the published products
        among ``products_under(location)``, and wake the stock export."""
        self.ensure_one()
        count = 0
        for location_gid, root in self._shopify_location_maps():
            products = products_under(root).filtered(
                lambda p: p.is_storable and p.default_code
            )
            if products:
                count += self._shopify_post_stock(location_gid, root, products)
        if count:
            self._shopify_trigger("stock_export")
        return count

    def action_shopify_export_stock(self):
        """Button: queue every SKU's level at every mapped location."""
        self.ensure_one()
        count = self._shopify_post_full_stock()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Stock export queued"),
                "message": _("%s stock levels queued for Shopify.", count),
                "type": "success",
            },
        }

    def _shopify_post_full_stock(self):
        """Post the level of every published product at every mapped
        location (batch mode); return the number of messages."""
        self.ensure_one()
        products = self._shopify_stock_products()
        count = 0
        for location_gid, location in self._shopify_location_maps():
            count += self._shopify_post_stock(location_gid, location, products)
        if count:
            self._shopify_trigger("stock_export")
        _logger.info(
            "backend %s: full stock export of %s levels queued", self.id, count
        )
        return count

    @api.model
    def _cron_shopify_export_stock(self):
        for backend in self.search([("backend_type", "=", "shopify")]):
            if backend._shopify_can_send():
                backend._shopify_post_full_stock()

    # ------------------------------------------------------------------
    # stock export: sender
    # ------------------------------------------------------------------
    def _shopify_send_stock_export(self, messages):
        """Sender of the stock_export flow: inventorySetQuantities in batches
        of at most 250 quantities. Returns {message id: None | error}."""
        self.ensure_one()
        client = self._shopify_client()
        entries = [(message, message._dsync_data()) for message in messages]
        items = self._shopify_inventory_items(client, [data for _m, data in entries])
        results, sendable = {}, []
        for message, data in entries:
            item = items.get(data["product_id"])
            if not item:
                results[message.id] = self._shopify_unknown_sku_error(data["sku"])
                continue
            quantity = {
                "inventoryItemId": item,
                "locationId": data["location_id"],
                "quantity": data["quantity"],
            }
            sendable.append((message, data, quantity))
        sent_any = False
        for chunk in _chunks(sendable, MAX_INPUT_SIZE):
            sent_any |= self._shopify_send_quantities(client, chunk, results, sent_any)
        return results

    def _shopify_unknown_sku_error(self, sku):
        return BusinessError(
            "unknown_product",
            _(
                "Shopify has no product variant with SKU %(sku)s (store %(store)s): "
                "create it in Shopify or fix the internal reference in Odoo.",
                sku=sku,
                store=self.name,
            ),
            kind_key=f"sku:{sku}",
        )

    def _shopify_inventory_items(self, client, datas):
        """{product id: inventory item gid}: from the bindings, else looked up
        by SKU in Shopify (and bound for next time)."""
        Binding = self.env["dsync.binding"].sudo()
        product_ids = list({data["product_id"] for data in datas})
        skus = {data["product_id"]: data["sku"] for data in datas}
        bindings = Binding.search(
            [
                ("backend_id", "=", self.id),
                ("res_model", "=", "product.product"),
                ("res_id", "in", product_ids),
                ("external_id", "=like", INVENTORY_ITEM_PREFIX + "%"),
            ]
        )
        items = {
            b.res_id: b.external_id
            for b in bindings
            if b.external_version == skus.get(b.res_id)
        }
        missing = {pid: sku for pid, sku in skus.items() if pid not in items}
        if missing:
            found = client.variants_by_sku(set(missing.values()))
            new = {
                product_id: (found[sku]["inventory_item_id"], sku)
                for product_id, sku in missing.items()
                if (found.get(sku) or {}).get("inventory_item_id")
            }
            self._shopify_bind_items(new)
            items.update({product_id: item for product_id, (item, _s) in new.items()})
        return items

    def _shopify_bind_items(self, new):
        """Bind products to their inventory items ({product id: (item gid,
        sku)}), replacing older bindings of either side."""
        if not new:
            return
        Binding = self.env["dsync.binding"].sudo()
        Binding.search(
            [
                ("backend_id", "=", self.id),
                ("res_model", "=", "product.product"),
                "|",
                ("res_id", "in", list(new)),
                ("external_id", "in", [item for item, _sku in new.values()]),
                ("external_id", "=like", INVENTORY_ITEM_PREFIX + "%"),
            ]
        ).unlink()
        by_item = {}  # two Odoo products with one SKU: the first is bound
        for product_id, (item, sku) in new.items():
            by_item.setdefault(item, (product_id, sku))
        Binding.create(
            [
                {
                    "backend_id": self.id,
                    "res_model": "product.product",
                    "res_id": product_id,
                    "external_id": item,
                    "external_version": sku,
                }
                for item, (product_id, sku) in by_item.items()
            ]
        )

    def _shopify_send_quantities(self, client, chunk, results, sent_any):
        """Send one chunk; per-quantity userErrors fail their message and the
        rest is sent again (the mutation is all or nothing). Returns True
        once Shopify applied something."""
        pending = list(chunk)
        reference = f"gid://distribution-sync/StockExport/{chunk[0][0].id}"
        while pending:
            key = hashlib.sha256(
                "".join(m.idempotency_key for m, _d, _q in pending).encode()
            ).hexdigest()
            try:
                payload = client.inventory_set_quantities(
                    [q for _m, _d, q in pending], reference, key
                )
            except TransientError as err:
                if not sent_any:
                    raise
                results.update({m.id: err for m, _d, _q in pending})
                return sent_any
            errors = payload.get("userErrors") or []
            if not errors:
                return True
            rejected = self._shopify_stock_user_errors(pending, errors, results)
            if not rejected:
                error = BusinessError(
                    "platform_rejected",
                    _(
                        "Shopify refused the stock update: %s",
                        "; ".join(e.get("message", "") for e in errors),
                    ),
                )
                results.update({m.id: error for m, _d, _q in pending})
                return sent_any
            pending = [p for index, p in enumerate(pending) if index not in rejected]
        return sent_any

    def _shopify_stock_user_errors(self, pending, errors, results):
        """Fail the messages the userErrors point at; return their indexes."""
        rejected = set()
        for error in errors:
            field = error.get("field") or []
            if len(field) < 3 or field[1] != "quantities" or not field[2].isdigit():
                continue
            index = int(field[2])
            if index >= len(pending):
                continue
            message, data, quantity = pending[index]
            rejected.add(index)
            results[message.id] = self._shopify_stock_error(data, quantity, error)
        return rejected

    def _shopify_stock_error(self, data, quantity, error):
        code = error.get("code") or ""
        category = STOCK_USER_ERROR_CATEGORIES.get(code, "platform_rejected")
        if category == "unknown_product":
            # the inventory item is gone: look the SKU up again next time
            self.env["dsync.binding"].sudo().search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "product.product"),
                    ("external_id", "=", quantity["inventoryItemId"]),
                ]
            ).unlink()
        kind_key = (
            f"location:{data['location_id']}"
            if category == "missing_mapping"
            else f"sku:{data['sku']}"
        )
        return BusinessError(
            category,
            _(
                "Shopify refused the stock of %(sku)s at %(location)s: %(message)s "
                "(%(code)s)",
                sku=data["sku"],
                location=data["location_id"],
                message=error.get("message"),
                code=code or "-",
            ),
            kind_key=kind_key,
            details=json.dumps(error),
        )

    # ------------------------------------------------------------------
    # fulfillment export
    # ------------------------------------------------------------------
    def _shopify_post_fulfillments(self, pickings):
        """Post one fulfillment_export message per delivery just done whose
        sale order is bound to a Shopify order of this backend."""
        self.ensure_one()
        Binding = self.env["dsync.binding"].sudo()
        Outbox = self.env["dsync.outbox"].sudo()
        posted = 0
        for picking in pickings.filtered(
            lambda p: (
                p.state == "done" and p.picking_type_code == "outgoing" and p.sale_id
            )
        ):
            order = Binding.search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "sale.order"),
                    ("res_id", "=", picking.sale_id.id),
                ],
                limit=1,
            )
            lines = order and self._shopify_fulfillment_lines(picking)
            if not lines:
                continue
            data = {
                "picking_id": picking.id,
                "picking": picking.name,
                "order_id": order.external_id,
                "lines": lines,
            }
            Outbox._dsync_post(
                self,
                "fulfillment_export",
                f"picking:{picking.id}",
                data,
                record=picking,
            )
            posted += 1
        return posted

    @api.model
    def _shopify_on_tracking_changed(self, pickings):
        """Hook of ``stock.picking.write``: the tracking of deliveries already
        done changed (a label bought after shipping, a carrier's correction).
        Post one tracking message per delivery whose sale order is bound to a
        Shopify order; the sender updates the delivery's fulfillment."""
        Binding = self.env["dsync.binding"].sudo()
        companies = pickings.company_id.ids
        for backend in self._shopify_senders([("company_id", "in", companies)]):
            mine = pickings.filtered(lambda p, b=backend: p.company_id == b.company_id)
            bound = set(
                Binding.search(
                    [
                        ("backend_id", "=", backend.id),
                        ("res_model", "=", "sale.order"),
                        ("res_id", "in", mine.sale_id.ids),
                    ]
                ).mapped("res_id")
            )
            items = [
                (
                    f"tracking:picking:{picking.id}",
                    {
                        "tracking_update": True,
                        "picking_id": picking.id,
                        "picking": picking.name,
                    },
                    picking,
                )
                for picking in mine
                if picking.sale_id.id in bound
            ]
            if items:
                self.env["dsync.outbox"].sudo()._dsync_post_many(
                    backend, "fulfillment_export", items
                )

    def _shopify_fulfillment_lines(self, picking):
        """[{line_item_id, sku, quantity}] shipped by ``picking``, from the
        bindings of its sale order lines to Shopify line items."""
        Binding = self.env["dsync.binding"].sudo()
        quantities = defaultdict(float)
        skus = {}
        for move in picking.move_ids.filtered(
            lambda m: m.state == "done" and m.sale_line_id
        ):
            binding = Binding.search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "sale.order.line"),
                    ("res_id", "=", move.sale_line_id.id),
                ],
                limit=1,
            )
            if not binding:
                continue
            quantities[binding.external_id] += move.product_uom._compute_quantity(
                move.quantity, move.sale_line_id.product_uom
            )
            skus[binding.external_id] = move.product_id.default_code
        return [
            {"line_item_id": line, "sku": skus[line], "quantity": int(round(qty))}
            for line, qty in quantities.items()
            if round(qty) > 0
        ]

    def _shopify_send_fulfillment_export(self, messages):
        """Sender of the fulfillment_export flow: one fulfillment per
        delivery. Returns {message id: None | error}."""
        self.ensure_one()
        client = self._shopify_client()
        results, sent_any = {}, False
        for index, message in enumerate(messages):
            try:
                sent_any |= self._shopify_send_fulfillment(client, message)
            except BusinessError as err:
                results[message.id] = err
            except FulfillmentPending as err:
                results[message.id] = err  # this message alone waits
            except TransientError as err:
                if not sent_any:
                    raise  # nothing done yet: the whole batch retries
                results.update({rest.id: err for rest in messages[index:]})
                break
        return results

    def _shopify_send_fulfillment(self, client, message):
        """Create the fulfillment of one delivery; True if one was made."""
        data = message._dsync_data()
        picking = self.env["stock.picking"].sudo().browse(data["picking_id"]).exists()
        if not picking:
            raise BusinessError(
                "invalid_payload", _("Delivery %s no longer exists.", data["picking"])
            )
        if data.get("tracking_update"):
            return self._shopify_send_tracking(client, picking)
        if self._shopify_picking_fulfillments(picking):
            return False  # never twice for the same delivery
        fulfillment_orders = client.fulfillment_orders(data["order_id"])
        if fulfillment_orders is None:
            raise BusinessError(
                "platform_rejected",
                _("Shopify does not know order %s.", data["order_id"]),
                kind_key=f"order:{data['order_id']}",
            )
        plan = self._shopify_plan_fulfillment(
            picking, data["lines"], fulfillment_orders
        )
        warehouse = self._shopify_location_of(picking.location_id)
        if len(plan) > 1 and warehouse:
            # Shopify routed some items to other locations than the one this
            # delivery ships from: assign them to it, then plan again
            self._shopify_move_to(client, picking, plan, warehouse)
            plan = self._shopify_plan_fulfillment(
                picking, data["lines"], client.fulfillment_orders(data["order_id"])
            )
        if len(plan) > 1:
            raise BusinessError(
                "platform_rejected",
                _(
                    "Delivery %(picking)s ships items that Shopify assigned to "
                    "%(count)s locations, and its own location is not mapped to "
                    "a Shopify location: map it (or move the items to one "
                    "location in Shopify), then retry.",
                    picking=picking.name,
                    count=len(plan),
                ),
                kind_key=f"picking:{picking.id}",
                record=picking,
            )
        ((location_gid, groups),) = plan.items()
        tracking = self._shopify_tracking(picking)
        self._shopify_create_fulfillment(
            client, picking, location_gid, groups, tracking
        )
        return True

    def _shopify_move_to(self, client, picking, plan, location_gid):
        """Assign the planned lines of other locations to ``location_gid``
        (``fulfillmentOrderMove``), one call per fulfillment order."""
        for other, groups in plan.items():
            if other == location_gid:
                continue
            for fo_id, lines in groups.items():
                _mutation_result(
                    client.fulfillment_order_move(fo_id, location_gid, lines),
                    picking,
                    _("Shopify refused to assign to this warehouse the items of %s"),
                )
        picking.message_post(
            body=_(
                "Items Shopify had assigned to other locations were assigned to "
                "this delivery's location before its fulfillment."
            )
        )

    def _shopify_picking_fulfillments(self, picking):
        """Bindings of ``picking`` to the Shopify fulfillments made for it."""
        return (
            self.env["dsync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "stock.picking"),
                    ("res_id", "=", picking.id),
                ]
            )
        )

    def _shopify_plan_fulfillment(self, picking, lines, fulfillment_orders):
        """{location gid: {fulfillment order id: [(its line id, quantity)]}}
        covering ``lines``; fulfillment orders at the picking's mapped
        location first. Raises when Shopify has less left to fulfill."""
        preferred = self._shopify_location_of(picking.location_id)
        open_orders = sorted(
            (
                fo
                for fo in fulfillment_orders
                if fo["status"] in ("OPEN", "IN_PROGRESS")
            ),
            key=lambda fo: fo["locationId"] != preferred,
        )
        plan = defaultdict(lambda: defaultdict(list))
        short = []
        for line in lines:
            wanted = line["quantity"]
            line_gid = to_gid("LineItem", line["line_item_id"])
            for fo in open_orders:
                for fo_line in fo["lineItems"]:
                    if wanted and fo_line["lineItemId"] == line_gid:
                        take = min(wanted, fo_line["remainingQuantity"])
                        if take > 0:
                            plan[fo["locationId"]][fo["id"]].append(
                                (fo_line["id"], take)
                            )
                            wanted -= take
            if wanted:
                short.append(f"{line.get('sku') or line_gid}: {wanted}")
        if short:
            raise BusinessError(
                "platform_rejected",
                _(
                    "Shopify has less left to fulfill than delivery %(picking)s "
                    "shipped (already fulfilled there?): %(lines)s",
                    picking=picking.name,
                    lines=", ".join(short),
                ),
                kind_key=f"picking:{picking.id}",
                record=picking,
            )
        return plan

    def _shopify_location_of(self, location):
        for location_gid, root in self._shopify_location_maps():
            if _inside(location, root):
                return location_gid
        return None

    def _shopify_tracking(self, picking):
        """What Shopify's ``FulfillmentTrackingInput`` gets for ``picking``:
        its tracking number, carrier and link; a delivery of several
        packages (``carrier_tracking_ref`` ``"A,B"``) gives one number and
        one link per package (``numbers`` / ``urls``), never ``"A,B"`` as
        one number."""
        numbers = [
            number.strip()
            for number in (picking.carrier_tracking_ref or "").split(",")
            if number.strip()
        ]
        carrier = picking.carrier_id
        urls = self._shopify_tracking_urls(picking, numbers) if carrier else []
        company = False
        if carrier:
            company = (
                self.env["dsync.value.map"]
                .sudo()
                ._reverse_lookup(self, "carrier_service", carrier)
                or carrier.name
            )
        if len(numbers) > 1:
            return {"numbers": numbers, "company": company, "urls": urls}
        return {
            "number": numbers[0] if numbers else False,
            "company": company,
            "url": urls[0] if urls else False,
        }

    def _shopify_tracking_urls(self, picking, numbers):
        """One tracking link per number, or none: Odoo gives several
        packages' links as a JSON list of ``[package, link]``, and a
        carrier's tracking URL template gives each number its own."""
        if not numbers:
            return []
        url = picking.carrier_tracking_url or ""
        if url.startswith("["):
            try:
                links = [link for _name, link in json.loads(url)]
            except (ValueError, TypeError):
                links = []
            return links if len(links) == len(numbers) else []
        template = picking.carrier_id.tracking_url or ""
        if len(numbers) > 1 and "<shipmenttrackingnumber>" in template:
            return [template.replace("<shipmenttrackingnumber>", n) for n in numbers]
        return [url] if url and len(numbers) == 1 else []

    def _shopify_create_fulfillment(
        self, client, picking, location_gid, groups, tracking
    ):
        result = client.fulfillment_create(
            {fo_id: lines for fo_id, lines in groups.items()},
            tracking=tracking,
            notify_customer=self.shopify_notify_customer,
            message=_("Delivery %s", picking.name),
        )
        fulfillment = _mutation_result(
            result, picking, _("Shopify refused the fulfillment of %s")
        )
        self.env["dsync.binding"].sudo()._bind(
            self, picking, fulfillment["id"], version=_tracking_version(tracking)
        )
        picking.message_post(
            body=_(
                "Shopify fulfillment %(name)s created (tracking %(number)s).",
                name=fulfillment.get("name") or fulfillment["id"],
                number=_tracking_numbers(tracking) or _("none"),
            )
        )

    def _shopify_send_tracking(self, client, picking):
        """Give the delivery's fulfillment the delivery's current tracking;
        True if Shopify was called. The fulfillment's binding keeps the
        tracking Shopify has (its version): the same tracking is not sent
        twice, and a fulfillment created after the edit already carries it."""
        fulfillment = self._shopify_picking_fulfillments(picking)[:1]
        if not fulfillment:
            # its fulfillment_export message is still pending: it will be
            # made first (and carry the current tracking)
            raise FulfillmentPending(
                f"delivery {picking.name} has no Shopify fulfillment yet",
                retry_after=60,
            )
        tracking = self._shopify_tracking(picking)
        version = _tracking_version(tracking)
        if not _tracking_numbers(tracking) or fulfillment.external_version == version:
            return False  # Shopify has it, or there is nothing to give
        result = client.fulfillment_tracking_update(
            fulfillment.external_id,
            tracking,
            notify_customer=self.shopify_notify_customer,
        )
        _mutation_result(result, picking, _("Shopify refused the new tracking of %s"))
        fulfillment.external_version = version
        picking.message_post(
            body=_(
                "Shopify fulfillment tracking updated to %(number)s.",
                number=_tracking_numbers(tracking),
            )
        )
        return True

    # ------------------------------------------------------------------
    # recovery of missed order webhooks
    # ------------------------------------------------------------------
    def _shopify_recoverable_topics(self):
        """Order topics while the recovery job can fetch orders again (an API
        token is set and its scheduled action is active): what
        ``fast_accept`` may acknowledge before the disk flush. A delivery
        lost that way is an order update no webhook delivered, which that
        job exists for."""
        cron = self.env.ref(RECOVERY_CRON, raise_if_not_found=False)
        if not (cron and cron.sudo().active and self._shopify_can_send()):
            return ()
        return ORDER_TOPICS

    @api.model
    def _cron_shopify_recover_orders(self):
        for backend in self.search([("backend_type", "=", "shopify")]):
            if not backend._shopify_can_send():
                continue
            try:
                with self.env.cr.savepoint():
                    backend._shopify_recover_orders()
            except (BusinessError, TransientError) as err:
                _logger.warning(
                    "backend %s: order recovery failed: %s", backend.id, err
                )

    def action_shopify_recover_orders(self):
        self.ensure_one()
        events = self._shopify_recover_orders()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Order recovery"),
                "message": _(
                    "%s missed order updates fed into the inbox.", len(events)
                ),
                "type": "success",
            },
        }

    def _shopify_recover_orders(self, max_pages=RECOVERY_MAX_PAGES):
        """Page through the orders updated since the cursor and feed what no
        webhook delivered into the inbox; advance the cursor. Returns the
        events created."""
        self.ensure_one()
        client = self._shopify_client()
        start = self.shopify_orders_cursor or (
            fields.Datetime.now() - RECOVERY_FIRST_LOOKBACK
        )
        since = (start - RECOVERY_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
        events = self.env["dsync.event"]
        newest = self.shopify_orders_cursor
        cursor = None
        for _page in range(max_pages):
            nodes, cursor = client.orders_updated_since(since, cursor)
            payloads = [order_node_to_payload(node) for node in nodes]
            events |= self._shopify_insert_recovered(payloads)
            for payload in payloads:
                updated = parse_utc(payload["updated_at"])
                newest = max(newest, updated) if newest else updated
            if not cursor:
                break
        if newest and newest != self.shopify_orders_cursor:
            self.shopify_orders_cursor = newest
        events._dsync_enqueue()
        if events:
            _logger.info(
                "backend %s: %s missed order updates recovered", self.id, len(events)
            )
        return events

    def _shopify_insert_recovered(self, payloads):
        """Insert one ``orders/updated`` event per payload not seen yet."""
        Event = self.env["dsync.event"].sudo()
        keyed = {f"recovery:{p['id']}:{p['updated_at']}": p for p in payloads}
        if not keyed:
            return Event
        existing = set(
            Event.search(
                [("backend_id", "=", self.id), ("dedup_key", "in", list(keyed))]
            ).mapped("dedup_key")
        )
        known = self._shopify_known_versions(payloads)
        vals_list = []
        for key, payload in keyed.items():
            updated = parse_utc(payload["updated_at"])
            if key in existing or (legacy_id(payload["id"]), updated) in known:
                continue
            raw = json.dumps(payload, separators=(",", ":"))
            vals_list.append(
                {
                    "backend_id": self.id,
                    "company_id": self.company_id.id,
                    "topic": "orders/updated",
                    "payload": raw,
                    "payload_size": len(raw.encode()),
                    "headers": {"X-Dsync-Source": "recovery"},
                    "dedup_key": key,
                    "delivery_id": key,
                    "source_timestamp": updated,
                    "correlation_id": uuid.uuid4().hex,
                }
            )
        return Event.create(vals_list)

    def _shopify_known_versions(self, payloads):
        """{(order id, updated_at)} already applied (bindings) or already in
        the inbox from a webhook: no need to fetch them into the inbox again."""
        stamps = {parse_utc(p["updated_at"]) for p in payloads}
        ids = {str(legacy_id(p["id"])) for p in payloads}
        known = set()
        bindings = (
            self.env["dsync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", "sale.order"),
                    (
                        "external_id",
                        "in",
                        list(ids | {to_gid("Order", i) for i in ids}),
                    ),
                    ("external_updated_at", "!=", False),
                ]
            )
        )
        for binding in bindings:
            order_id = legacy_id(binding.external_id)
            for stamp in stamps:
                if stamp <= binding.external_updated_at:
                    known.add((order_id, stamp))
        events = (
            self.env["dsync.event"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("topic", "in", ORDER_TOPICS),
                    ("source_timestamp", "in", list(stamps)),
                    ("state", "not in", ("rejected", "failed")),
                ]
            )
        )
        for event in events:
            try:
                order_id = legacy_id(json.loads(event.payload or "{}").get("id"))
            except ValueError:
                continue
            known.add((order_id, event.source_timestamp))
        return known


def _tracking_numbers(tracking):
    """The tracking numbers of a ``_shopify_tracking`` value, as a text."""
    return ", ".join(tracking.get("numbers") or [tracking.get("number") or ""]).strip(
        ", "
    )


def _tracking_version(tracking):
    """What a fulfillment binding keeps of the tracking Shopify has."""
    return "|".join(
        ",".join(value) if isinstance(value, list) else str(value or "")
        for value in (
            tracking.get("numbers") or tracking.get("number"),
            tracking.get("company"),
            tracking.get("urls") or tracking.get("url"),
        )
    )


def _mutation_result(result, picking, refused):
    """The fulfillment (or fulfillment order) a mutation returned; its user
    errors (or no result) raise a ``platform_rejected`` error about ``picking``,
    ``refused`` being the message with a ``%s`` for the delivery's name."""
    errors = result.get("userErrors") or []
    fulfillment = result.get("fulfillment")
    if errors or not fulfillment:
        raise BusinessError(
            "platform_rejected",
            f"{refused % picking.name}: "
            + "; ".join(e.get("message", "") for e in errors),
            kind_key=f"picking:{picking.id}",
            record=picking,
            details=json.dumps(errors),
        )
    return fulfillment


class FulfillmentPending(TransientError):
    """A tracking update whose delivery has no fulfillment yet: only that
    message waits, the rest of its batch is sent."""
