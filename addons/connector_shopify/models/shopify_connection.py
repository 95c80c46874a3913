# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A Shopify store's configuration, as the admin sees it: the shop domain
(source of the API address), the connection test and its report in plain
words, the warnings of what the store still lacks, and the financial
statuses that confirm an order as a multiple choice."""

import re
import socket
import ssl

import requests
from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from ..shopify_client import ShopifyAuthError
from .dsync_backend import normalize_shop_domain
from .shopify_outbound import REQUIRED_SCOPES

LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
HOSTNAME = re.compile(rf"^{LABEL}(\.{LABEL})+$")
OK, FAILED, WARN = "✓", "✗", "!"


class ShopifyFinancialStatus(models.Model):
    """Shopify's documented financial statuses of an order (data), to
    choose those that confirm the sale order."""

    _name = "shopify.financial.status"
    _description = "Shopify Financial Status"
    _order = "sequence, id"

    code = fields.Char(required=True, readonly=True)
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)

    _sql_constraints = [("code_unique", "unique(code)", "One status per code.")]


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    shopify_admin_api_url = fields.Char(
        "Admin API Address",
        compute="_compute_shopify_admin_api_url",
        help="Where the connector calls the store's Admin API: the shop "
        "domain's, unless an API URL override is set (debug mode).",
    )
    shopify_confirm_status_ids = fields.Many2many(
        "shopify.financial.status",
        string="Confirm the Order When Payment Is",
        compute="_compute_shopify_confirm_status_ids",
        inverse="_inverse_shopify_confirm_status_ids",
        help="The sale order is confirmed when Shopify's financial status of "
        "the order is one of these; with any other (pending...), it stays a "
        "quotation until an update brings one of them.",
    )
    shopify_connection_report = fields.Text(
        "Last Connection Test", readonly=True, copy=False
    )
    shopify_connection_checked_at = fields.Datetime(
        "Tested On", readonly=True, copy=False
    )
    shopify_connection_ok = fields.Boolean(readonly=True, copy=False)
    shopify_missing_scopes = fields.Char(
        "Missing Access Scopes",
        readonly=True,
        copy=False,
        help="Access scopes the app lacked at the last connection test.",
    )

    # ------------------------------------------------------------------
    # shop domain and API address
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("shopify_shop_domain"):
                vals["shopify_shop_domain"] = normalize_shop_domain(
                    vals["shopify_shop_domain"]
                )
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("shopify_shop_domain"):
            vals = dict(
                vals,
                shopify_shop_domain=normalize_shop_domain(vals["shopify_shop_domain"]),
            )
        return super().write(vals)

    @api.constrains("shopify_shop_domain")
    def _check_shopify_shop_domain(self):
        for backend in self.filtered("shopify_shop_domain"):
            if not HOSTNAME.match(backend.shopify_shop_domain):
                raise ValidationError(
                    _(
                        "'%s' is not a shop domain: enter the store's address, "
                        "e.g. my-store.myshopify.com.",
                        backend.shopify_shop_domain,
                    )
                )

    @api.depends("api_url", "shopify_shop_domain", "shopify_api_version")
    def _compute_shopify_admin_api_url(self):
        for backend in self:
            base = backend.backend_type == "shopify" and backend._shopify_base_url()
            backend.shopify_admin_api_url = (
                f"{base.rstrip('/')}/admin/api/"
                f"{backend.shopify_api_version or '2025-07'}/graphql.json"
                if base
                else False
            )

    # ------------------------------------------------------------------
    # financial statuses that confirm an order
    # ------------------------------------------------------------------
    @api.depends("shopify_confirm_statuses")
    def _compute_shopify_confirm_status_ids(self):
        Status = self.env["shopify.financial.status"]
        for backend in self:
            codes = backend._shopify_confirm_status_set()
            backend.shopify_confirm_status_ids = Status.search(
                [("code", "in", list(codes))]
            )

    def _inverse_shopify_confirm_status_ids(self):
        for backend in self:
            backend.shopify_confirm_statuses = ",".join(
                backend.shopify_confirm_status_ids.sorted().mapped("code")
            )

    # ------------------------------------------------------------------
    # what the store lacks
    # ------------------------------------------------------------------
    def _shopify_config_warnings(self):
        warnings = []
        if not self.shopify_shop_domain:
            warnings.append(
                _(
                    "No shop domain: every delivery is refused until it is set "
                    "(the store's address, my-store.myshopify.com)."
                )
            )
        if self.shopify_uninstalled_at:
            warnings.append(
                _(
                    "The Shopify app was uninstalled on %s: outbound flows are set "
                    "to manual.",
                    fields.Datetime.to_string(self.shopify_uninstalled_at),
                )
            )
        if not self.api_secret_set:
            warnings.append(
                _(
                    "No Admin API access token: orders still arrive by webhook, but "
                    "stock levels, fulfillments and the recovery of missed orders "
                    "need it (Secrets › API Token)."
                )
            )
        elif not self._shopify_location_maps():
            warnings.append(
                _(
                    "No Shopify location is mapped to an Odoo warehouse: no stock "
                    "level is published. Run Test Connection, then choose a "
                    "warehouse for each location (Shopify Stock & Shipments)."
                )
            )
        if self.shopify_missing_scopes:
            warnings.append(
                _(
                    "The app lacks access scopes (last connection test): %s. Grant "
                    "them in the Shopify app, then test again.",
                    self.shopify_missing_scopes,
                )
            )
        waiting = self.env["dsync.exception"]._read_group(
            [
                ("backend_id", "=", self.id),
                ("category", "=", "missing_mapping"),
                ("state", "in", ("open", "in_progress")),
            ],
            ["kind_key"],
            ["__count"],
        )
        if waiting:
            labels = dict(
                self.env["dsync.value.map"]
                ._fields["map_type"]
                ._description_selection(self.env)
            )
            parts = []
            for kind_key, count in waiting:
                map_type, _sep, code = (kind_key or "").partition(":")
                parts.append(
                    _(
                        "%(type)s %(code)s (%(count)s)",
                        type=labels.get(map_type, map_type),
                        code=code,
                        count=count,
                    )
                )
            warnings.append(
                _(
                    "Orders wait for a mapping: %s. Map them in Mappings › Value "
                    "Maps, then retry the exceptions.",
                    "; ".join(parts),
                )
            )
        return warnings

    # ------------------------------------------------------------------
    # connection test
    # ------------------------------------------------------------------
    def action_shopify_test_connection(self):
        """Check the store step by step and report in plain words what was
        checked and what failed; list the store's locations for mapping."""
        self.ensure_one()
        self._dsync_check_manager()
        lines, shop = self._shopify_check_connection()
        ok = shop is not None
        if not ok:
            title, kind = _("Shopify connection: to fix"), "danger"
        elif self.shopify_missing_scopes:
            title = _("Connected to %s: access scopes missing", shop.get("name"))
            kind = "warning"
        else:
            title, kind = _("Connected to %s", shop.get("name")), "success"
        report = "\n".join(lines)
        self.write(
            {
                "shopify_connection_report": report,
                "shopify_connection_checked_at": fields.Datetime.now(),
                "shopify_connection_ok": ok,
            }
        )
        self.message_post(
            body=Markup("<br/>").join(escape(line) for line in [title] + lines)
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": report,
                "type": kind,
                "sticky": kind != "success",
                "className": "o_dsync_notification",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _shopify_check_connection(self):
        """(report lines, the shop or None): each check, passed or not, in
        order; stops at the first that makes the next ones meaningless."""
        lines = []
        base = self._shopify_base_url()
        if not base:
            lines.append(
                _(
                    "%s No shop domain: enter the store's address "
                    "(my-store.myshopify.com).",
                    FAILED,
                )
            )
            return lines, None
        override = self.api_url and _(" (API URL override)") or ""
        lines.append(
            _(
                "%(ok)s Store address: %(url)s%(override)s.",
                ok=OK,
                url=base,
                override=override,
            )
        )
        lines.append(self._shopify_check_webhook_secret())
        if not self.api_secret_set:
            lines.append(
                _(
                    "%s No Admin API access token: paste the custom app's Admin "
                    "API access token (Secrets › API Token). Nothing else can be "
                    "checked without it.",
                    FAILED,
                )
            )
            return lines, None
        try:
            client = self._shopify_client()
            shop = client.shop_info()
            locations = client.locations()
        except ShopifyAuthError as err:
            lines.append(
                _(
                    "%(no)s The store answered, but refused the access token "
                    "(%(why)s): copy the Admin API access token again from the "
                    "app (Shopify admin › Settings › Apps and sales channels › "
                    "Develop apps › your app › API credentials).",
                    no=FAILED,
                    why=_http_status(err) or _("not allowed"),
                )
            )
            return lines, None
        except (BusinessError, TransientError, requests.RequestException) as err:
            lines.append(
                _(
                    "%(no)s The store could not be reached at %(url)s: %(why)s.",
                    no=FAILED,
                    url=base,
                    why=plain_reason(err, self.request_timeout or 20),
                )
            )
            return lines, None
        lines.append(
            _(
                "%(ok)s Connected: %(name)s (%(domain)s), currency %(currency)s.",
                ok=OK,
                name=shop.get("name"),
                domain=shop.get("myshopifyDomain"),
                currency=shop.get("currencyCode"),
            )
        )
        missing = self._shopify_missing_scopes(shop.get("accessScopes") or [])
        self.shopify_missing_scopes = ", ".join(missing) or False
        if missing:
            lines.append(_("%s Access scopes missing (grant them in the app):", FAILED))
            lines += [
                self.env._(
                    "    %(scope)s, to %(why)s", scope=s, why=str(REQUIRED_SCOPES[s])
                )
                for s in missing
            ]
        else:
            lines.append(_("%s Every access scope the connector needs is granted.", OK))
        self._shopify_register_locations(locations)
        lines += self._shopify_location_report(locations)
        return lines, shop

    def _shopify_check_webhook_secret(self):
        if self.webhook_secret_set:
            return _(
                "%s Webhook secret set (Shopify signs its deliveries with it).", OK
            )
        return _(
            "%s No webhook secret: every delivery is refused until it is set "
            "(the app's API secret key).",
            FAILED,
        )

    @api.model
    def _shopify_missing_scopes(self, granted):
        granted = set(granted)
        missing = []
        for scope in REQUIRED_SCOPES:
            write_scope = scope.replace("read_", "write_", 1)
            if scope not in granted and write_scope not in granted:
                missing.append(scope)
        return missing

    def _shopify_location_report(self, locations):
        mapped = {
            m.external_code: m.target_ref.display_name
            for m in self.shopify_location_map_ids
            if m.target_ref
        }
        count = sum(1 for location in locations if location["id"] in mapped)
        lines = [
            _(
                "%(mark)s Locations: %(count)s of %(total)s mapped to Odoo.",
                mark=OK if count else WARN,
                count=count,
                total=len(locations),
            )
        ]
        for location in locations:
            target = mapped.get(location["id"])
            lines.append(
                _(
                    "    %(name)s: published from %(target)s",
                    name=location["name"],
                    target=target,
                )
                if target
                else _(
                    "    %s: not mapped yet (choose a warehouse below)",
                    location["name"],
                )
            )
        return lines

    def _shopify_register_locations(self, locations):
        """Create a location mapping row (without Odoo location) for each
        Shopify location not listed yet, so that it only needs a target."""
        Map = self.env["dsync.value.map"].sudo().with_context(active_test=False)
        existing = {
            m.external_code: m
            for m in Map.search(
                [("backend_id", "=", self.id), ("map_type", "=", "location")]
            )
        }
        for location in locations:
            row = existing.get(location["id"])
            if row:
                if row.external_label != location["name"]:
                    row.external_label = location["name"]
                continue
            Map.create(
                {
                    "backend_id": self.id,
                    "map_type": "location",
                    "external_code": location["id"],
                    "external_label": location["name"],
                }
            )


def _http_status(err):
    match = re.search(r"HTTP (\d{3})", str(err))
    return _("HTTP %s", match.group(1)) if match else None


def plain_reason(err, timeout):
    """Why a request failed, in a person's words (never a stack or a
    library's representation of a connection pool)."""
    chain = []
    current = err
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
        if current is not None and any(current is seen for seen in chain):
            break
    for exc in chain:
        if isinstance(exc, requests.exceptions.SSLError | ssl.SSLError):
            return _("the secure connection failed (certificate)")
        if isinstance(exc, requests.Timeout | socket.timeout | TimeoutError):
            return _("no answer within %s seconds", timeout)
        if (
            isinstance(exc, socket.gaierror)
            or "Name or service not known" in str(exc)
            or "NameResolutionError" in type(exc).__name__
        ):
            return _("the address does not exist (the name is not found)")
        if isinstance(exc, ConnectionRefusedError) or "Connection refused" in str(exc):
            return _("the connection was refused (nothing answers at that address)")
    for exc in chain:
        status = _http_status(exc)
        if status:
            return _("the store answered with an error (%s)", status)
        if isinstance(exc, BusinessError):
            return exc.message
    return _("the connection failed")
