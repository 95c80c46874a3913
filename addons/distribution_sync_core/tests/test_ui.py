# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import TransactionCase, new_test_user


class TestUi(TransactionCase):
    """Every window action and menu of the suite opens for the users it is for."""

    def _actions(self):
        data = self.env["ir.model.data"].search(
            [("model", "=", "ir.actions.act_window"), ("module", "like", "%")]
        )
        actions = self.env["ir.actions.act_window"].browse(data.mapped("res_id"))
        return actions.filtered(lambda a: a.res_model.startswith("dsync."))

    def test_actions_load_their_views(self):
        actions = self._actions()
        self.assertGreaterEqual(len(actions), 7)
        manager = new_test_user(
            self.env,
            login="ui_manager",
            groups="distribution_sync_core.group_dsync_manager",
        )
        for action in actions:
            model = self.env[action.res_model].with_user(manager)
            view_types = action.view_mode.split(",")
            views = model.get_views(
                [(False, vt) for vt in view_types] + [(False, "search")]
            )
            for view_type in view_types:
                self.assertIn(view_type, views["views"], f"{action.name}: {view_type}")
            model.web_search_read([], {"display_name": {}}, limit=5)

    def test_menus_visible_to_sync_user(self):
        user = new_test_user(
            self.env, login="ui_user", groups="distribution_sync_core.group_dsync_user"
        )
        root = self.env.ref("distribution_sync_core.menu_dsync_root")
        menus = self.env["ir.ui.menu"].with_user(user).load_menus(debug=False)
        self.assertIn(root.id, menus)
        visible = {
            m["name"] for m in menus.values() if isinstance(m, dict) and "name" in m
        }
        for name in ("Exceptions", "Events", "Outbox", "Overview"):
            self.assertIn(name, visible)
        self.assertNotIn("Backends", visible, "configuration is for managers")

    def test_overview_counts(self):
        backend = self.env["dsync.backend"].create({"name": "Overview"})
        self.env["dsync.event"].create(
            [
                {
                    "backend_id": backend.id,
                    "company_id": backend.company_id.id,
                    "topic": "t",
                    "state": "failed",
                },
                {
                    "backend_id": backend.id,
                    "company_id": backend.company_id.id,
                    "topic": "t",
                    "state": "failed",
                },
            ]
        )
        self.env.flush_all()
        lines = self.env["dsync.overview"].search(
            [
                ("backend_id", "=", backend.id),
                ("kind", "=", "event"),
                ("code", "=", "failed"),
            ]
        )
        self.assertEqual(lines.count, 2)
        self.assertEqual(lines.label, "Failed")
        action = lines.action_open_records()
        self.assertEqual(self.env["dsync.event"].search_count(action["domain"]), 2)
