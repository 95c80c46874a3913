# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from collections import Counter

from odoo import models
from odoo.osv import expression
from odoo.tools import float_compare, groupby
from odoo.tools.misc import clean_context

from ..batch_scope import current_scope
from ..order_note import with_note_block

# The steps of Odoo's picking assignment the batch shortcut stands in for,
# and the modules whose versions of them it knows: with any other module
# overriding one of them, Odoo's own assignment runs.
KNOWN_ASSIGNMENT = {
    "_action_confirm": {"stock", "connector_shopify"},
    "_assign_picking": {"stock"},
    "_search_picking_for_assignation": {"stock"},
    "_assign_picking_post_process": {"stock", "sale_stock"},
}


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_done(self, cancel_backorder=False):
        """Moves done change stock levels (and may complete a delivery): let
        the Shopify backends post what their channels must learn."""
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        done = moves.filtered(lambda move: move.state == "done")
        if done:
            self.env["dsync.backend"]._shopify_on_moves_done(done)
        return moves

    def _action_confirm(self, merge=True, merge_into=False):
        """Inside a batch scope, new deliveries are created together first
        (:meth:`_shopify_assign_new_pickings`); Odoo then confirms the moves
        as usual and finds them assigned."""
        if len(self) > 1 and current_scope(self.env) is not None:
            self._shopify_assign_new_pickings()
        return super()._action_confirm(merge=merge, merge_into=merge_into)

    def _shopify_assign_new_pickings(self):
        """Create the pickings of new procurement groups with one ``create``.

        Odoo's ``_action_confirm`` assigns the moves of each procurement
        group on its own: a search for an open picking to join, then a
        ``create`` when none is found, each search first flushing what the
        previous picking computed: about ten queries an order. A group of
        moves is assigned here only when that search could not find
        anything: its procurement group has no picking at all yet, the
        search requires that procurement group, no other group of moves of
        this call shares it, and none of its moves is negative. Each gets
        the picking values, the write and the follow-up
        (``_assign_picking_post_process``) Odoo's assignment gives it. Any
        move made to order or chained to another, or a module customising
        these steps, leaves everything to Odoo."""
        if not all(
            _overridden_only_by(self, method, modules)
            for method, modules in KNOWN_ASSIGNMENT.items()
        ):
            return
        moves = self.filtered(
            lambda m: m.state == "draft" and m._should_be_assigned()
        ).with_context(clean_context(self.env.context))
        if any(
            m.move_orig_ids
            or m.procure_method != "make_to_stock"
            or m.rule_id.procure_method == "mts_else_mto"
            for m in moves
        ):
            return
        groups = [
            moves.browse().concat(*grouped)
            for _key, grouped in groupby(moves, key=lambda m: m._key_assign_picking())
        ]
        sharing = Counter(grouped.group_id.id for grouped in groups)
        candidates = [
            grouped
            for grouped in groups
            if len(grouped.group_id) == 1
            and sharing[grouped.group_id.id] == 1
            and _requires_group(grouped[0])
            and all(
                float_compare(
                    m.product_uom_qty, 0.0, precision_rounding=m.product_uom.rounding
                )
                >= 0
                for m in grouped
            )
        ]
        if not candidates:
            return
        with_pickings = {
            group.id
            for [group] in self.env["stock.picking"]
            .sudo()
            ._read_group(
                [("group_id", "in", [grouped.group_id.id for grouped in candidates])],
                ["group_id"],
            )
        }
        new = [g for g in candidates if g.group_id.id not in with_pickings]
        if not new:
            return
        pickings = moves.env["stock.picking"].create(
            [grouped._get_new_picking_values() for grouped in new]
        )
        for grouped, picking in zip(new, pickings, strict=True):
            grouped.write({"picking_id": picking.id})
            grouped._assign_picking_post_process(new=True)
        # Odoo then merges the moves of each picking, reading their many2many
        # fields picking by picking (a query each): read them for all at once
        for fname in moves._prepare_merge_moves_distinct_fields():
            if moves._fields[fname].type == "many2many":
                moves.mapped(fname)

    def _get_new_picking_values(self):
        """A new picking of a Shopify order carries the customer's note
        (delivery instructions, gift message) for the warehouse."""
        vals = super()._get_new_picking_values()
        note = self.group_id.sale_id.shopify_note
        if note:
            vals["note"] = with_note_block(vals.get("note"), note)
        return vals

    def _trigger_scheduler(self):
        """Inside a batch scope, Odoo's search for an automatic reordering
        rule, one a move, is skipped when none exists for any of the moves'
        products: it would find nothing (see batch_scope). Which products
        have one is asked once for the scope, with the products of the
        orders being confirmed (``order_products``) when the batch named
        them."""
        scope = current_scope(self.env)
        if self and scope is not None:
            auto = self._auto_orderpoint_products(scope)
            if not auto.intersection(self.product_id.ids):
                return None
        return super()._trigger_scheduler()

    def _auto_orderpoint_products(self, scope):
        """Ids of the products with an automatic reordering rule, among the
        scope's products checked so far (this call's moves included)."""
        checked = scope.setdefault("orderpoints_checked", set())
        auto = scope.setdefault("orderpoints_auto", set())
        todo = (set(self.product_id.ids) | scope.get("order_products", set())) - checked
        if todo:
            groups = self.env["stock.warehouse.orderpoint"]._read_group(
                [("product_id", "in", list(todo)), ("trigger", "=", "auto")],
                ["product_id"],
            )
            auto.update(product.id for (product,) in groups)
            checked |= todo
        return auto


def _overridden_only_by(records, method, modules):
    """Whether only ``modules`` define ``method`` on ``records``' model."""
    return all(
        cls.__module__.split(".")[2] in modules
        for cls in type(records).__mro__
        if method in vars(cls) and cls.__module__.startswith("odoo.addons.")
    )


def _requires_group(move):
    """Whether every picking Odoo's search for a picking to join could find
    for ``move`` belongs to the move's procurement group: the search's
    domain requires that group at its top level."""
    term = ("group_id", "=", move.group_id.id)
    return term in _conjuncts(move._search_picking_for_assignation_domain())


def _conjuncts(domain):
    """The conditions a domain ANDs at its top level (not those under an OR
    or a NOT)."""
    domain = expression.normalize_domain(domain)
    found = []

    def walk(index, top):
        token = domain[index]
        if token == expression.AND_OPERATOR:
            return walk(walk(index + 1, top), top)
        if token in (expression.OR_OPERATOR, expression.NOT_OPERATOR):
            end = walk(index + 1, False)
            return walk(end, False) if token == expression.OR_OPERATOR else end
        if top and isinstance(token, list | tuple):
            found.append(tuple(token))
        return index + 1

    index = 0
    while index < len(domain):
        index = walk(index, True)
    return found
