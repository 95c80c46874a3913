# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What Odoo does record by record while creating and confirming orders,
done once for a batch.

Creating and confirming a batch of new orders with one ``create`` and one
``action_confirm`` already shares Odoo's procurement run, but four steps
inside them still work one record at a time, at a cost that dominates a
batch job (measured with a sampling profiler, see the README):

* every confirmed order and every new delivery makes its customer a follower
  (``message_subscribe``: an access check, two searches and an insert each)
  — inside the scope the subscriptions are collected and inserted together
  when the scope closes, with the same default subtypes;
* every new delivery posts a "created from <order>" chatter note through the
  full ``message_post`` pipeline (recipients, followers, notifications) —
  inside the scope the notes are collected and created together, with the
  values ``message_post`` gives them (an internal note, which notifies no
  one unless a follower subscribed to internal notes: that delivery gets
  Odoo's own ``message_post``);
* every order line looks its analytic distribution models up with a search,
  twice — inside the scope the answer is remembered for the same question,
  and a company without any distribution model is asked once;
* every new stock move looks for an automatic reordering rule of its product
  with a search, twice — inside the scope one search tells whether any of
  the moves' products has one at all, and only then does Odoo look.

The connector also keeps its own lookups (mappings, products, taxes,
pricelists) in the scope while it is open (``_shopify_memo``).

The scope lives in the cursor's transaction cache for the duration of one
call, so no context key travels into records, jobs or reports; outside it
Odoo behaves as usual. What was collected is applied when the scope closes
normally; an exception discards it along with the caller's savepoint.
"""

from collections import Counter
from contextlib import contextmanager

from odoo.models import BaseModel

SCOPE_KEY = "connector_shopify.batch_scope"
ORIGIN_NOTE = "mail.message_origin_link"
DEFERRED_FOLLOWS = ("sale.order", "stock.picking")


@contextmanager
def batch_scope(env):
    """Open the scope on ``env``'s cursor (re-entrant: the outermost one
    applies what was collected)."""
    if env.cr.cache.get(SCOPE_KEY) is not None:
        yield
        return
    scope = env.cr.cache[SCOPE_KEY] = {
        "follows": [],
        "origin_notes": [],
        "distributions": {},
    }
    try:
        yield
        _insert_followers(env, scope["follows"])
        _log_origin_notes(env, scope["origin_notes"])
    finally:
        env.cr.cache.pop(SCOPE_KEY, None)


def current_scope(env):
    """The open scope's state, or None."""
    return env.cr.cache.get(SCOPE_KEY)


def defer_subscribe(records, partner_ids, subtype_ids):
    """Inside a scope, collect ``records.message_subscribe(partner_ids)``
    (default subtypes, not the current user) and return True."""
    scope = current_scope(records.env)
    if (
        scope is None
        or not records
        or not partner_ids
        or subtype_ids
        or records._name not in DEFERRED_FOLLOWS
        or records.env.user.partner_id.id in partner_ids
    ):
        return False
    scope["follows"].append((records, list(partner_ids)))
    return True


def _insert_followers(env, follows):
    """Subscribe the collected partners: [(records, partner ids)], as
    ``message_subscribe`` would (write access to the records, in the
    environment they were subscribed in; active partners only; default
    subtypes; existing followers kept)."""
    if not follows:
        return
    for records, _pids in follows:
        records.check_access("write")
    Followers = env["mail.followers"].sudo()
    partners = (
        env["res.partner"]
        .sudo()
        .browse({pid for _records, pids in follows for pid in pids})
    )
    active = set(partners.filtered("active").ids)
    shared = partners.filtered("partner_share").ids
    by_model = {}
    for records, _pids in follows:
        by_model.setdefault(records._name, set()).update(records.ids)
    following = set()
    for model, ids in by_model.items():
        following |= {
            (model, follower.res_id, follower.partner_id.id)
            for follower in Followers.search(
                [("res_model", "=", model), ("res_id", "in", list(ids))]
            )
        }
    vals_list = []
    for records, pids in follows:
        model = records._name
        for res_id in records.ids:
            todo = [
                pid
                for pid in pids
                if pid in active and (model, res_id, pid) not in following
            ]
            following.update((model, res_id, pid) for pid in todo)
            new, _updates = Followers._add_default_followers(
                model, [res_id], todo, customer_ids=shared, check_existing=False
            )
            vals_list += [
                dict(values, res_model=model, res_id=res_id)
                for values in new.get(res_id, [])
            ]
    if vals_list:
        Followers.with_context(default_partner_id=False).create(vals_list)
        for model, ids in by_model.items():
            env[model].browse(list(ids)).invalidate_recordset(
                ["message_follower_ids", "message_partner_ids"]
            )


def _log_origin_notes(env, notes):
    """Post the collected origin notes: [(picking ids, render values)].

    The messages get the values ``message_post`` gives them (author, record
    name, company, alias domain, reply-to, thread parent), created in one
    ``_message_create``. A note has no one to notify unless a follower of
    its delivery subscribed to internal notes: such a delivery, and one with
    two notes, gets Odoo's own ``message_post``."""
    if not notes:
        return
    view = env.ref(ORIGIN_NOTE)
    note = env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
    Picking = env["stock.picking"]
    bodies = []
    for picking_ids, render_values in notes:
        rendered = env["mail.render.mixin"]._render_template_qweb_view(
            view, Picking._name, picking_ids, add_context=render_values
        )
        bodies += [(picking_id, rendered[picking_id]) for picking_id in picking_ids]
    counts = Counter(picking_id for picking_id, _body in bodies)
    notified = set(
        env["mail.followers"]
        .sudo()
        .search(
            [
                ("res_model", "=", Picking._name),
                ("res_id", "in", list(counts)),
                ("subtype_ids", "in", note),
            ]
        )
        .mapped("res_id")
    )
    batch = []
    for picking_id, body in bodies:
        if picking_id in notified or counts[picking_id] > 1:
            Picking.browse(picking_id).message_post(
                body=body, message_type="notification", subtype_id=note
            )
        else:
            batch.append((picking_id, body))
    if not batch:
        return
    pickings = Picking.browse([picking_id for picking_id, _body in batch])
    author_id, email_from = pickings._message_compute_author(raise_on_email=True)
    alias_domains = pickings.sudo()._mail_get_alias_domains(default_company=env.company)
    companies = pickings._mail_get_companies(default=env.company)
    reply_to = pickings._notify_get_reply_to(default=email_from)
    parents = {}
    if Picking._mail_flat_thread:
        for message in (
            env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", Picking._name),
                    ("res_id", "in", pickings.ids),
                    ("message_type", "!=", "user_notification"),
                ],
                order="id ASC",
            )
        ):
            parents.setdefault(message.res_id, message.id)
    pickings._message_create(
        [
            {
                "author_id": author_id,
                "email_from": email_from,
                "model": Picking._name,
                "res_id": picking.id,
                "body": body,
                "message_type": "notification",
                "parent_id": parents.get(picking.id, False),
                "subject": False,
                "subtype_id": note,
                "partner_ids": [],
                "email_add_signature": True,
                "record_name": picking.sudo().display_name,
                "record_alias_domain_id": alias_domains[picking.id].id,
                "record_company_id": companies[picking.id].id,
                "reply_to": reply_to[picking.id],
            }
            for picking, (_picking_id, body) in zip(pickings, batch, strict=True)
        ]
    )


def freeze(value):
    """A hashable key of a memoized argument (dicts, lists, records)."""
    if isinstance(value, dict):
        return tuple(sorted((key, freeze(val)) for key, val in value.items()))
    if isinstance(value, list | tuple | set):
        return tuple(freeze(val) for val in value)
    if isinstance(value, BaseModel):
        return (value._name, tuple(value.ids))
    return value
