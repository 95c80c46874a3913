"""Repository-wide pytest hooks for the Distribution Sync test suite.

- Odoo must be importable: fail loudly at start-up otherwise.
- pytest must be given an Odoo database (use ``bash tools/test.sh``).
- A skipped test is a failed run: Odoo silently skips browser tours without
  Chromium or websocket-client, and pytest-odoo skips every HttpCase without
  ``--odoo-http``; a green run that skipped them would hide untested code.
"""

import os

import pytest

try:
    import odoo  # noqa: F401  (pytest-odoo imports it too; this gives the hint)
except ImportError as err:  # pragma: no cover - depends on the machine
    raise pytest.UsageError(
        f"cannot import odoo ({err}): install Odoo 18.0 Community from Odoo's "
        "source into this Python (see tools/common.sh or run `bash tools/test.sh`, "
        "which explains how)"
    ) from err

_SKIPPED = []


def pytest_configure(config):
    has_db = (
        config.getoption("--odoo-database", default=None)
        or config.getoption("--odoo-config", default=None)
        or os.environ.get("ODOO_RC")
        or os.environ.get("OPENERP_SERVER")
    )
    if not has_db and not (config.option.help or config.option.version):
        raise pytest.UsageError(
            "the Distribution Sync tests need an Odoo database: run them with "
            "`bash tools/test.sh [pytest args]` (or pass --odoo-config and "
            "--odoo-database of an existing database with the addons installed)"
        )
    _patch_odoo_tests()


def _patch_odoo_tests():
    """Small compatibility shims, applied once Odoo's config has been parsed."""
    from odoo.tests import common

    # Odoo gives its test classes their default tags ('standard', 'at_install') and
    # test_module only when they live in odoo.addons.*; the cross-addon tests of the
    # top-level tests/ directory are plain modules, and BaseCase.__init__ needs
    # test_tags. Give them the same defaults.
    meta = common.MetaCase
    if not getattr(meta, "_dsync_patched", False):
        original_init = meta.__init__

        def __init__(cls, name, bases, attrs):
            original_init(cls, name, bases, attrs)
            if not cls.__module__.startswith("odoo.") and (
                getattr(cls, "test_tags", None) is None
            ):
                cls.test_tags = {"standard", "at_install"}
                cls.test_module = cls.__module__.rsplit(".", 1)[-1]
                cls.test_class = cls.__name__
                cls.test_sequence = 0

        meta.__init__ = __init__
        meta._dsync_patched = True

    # queue_job >= 18.0.3.1.3 registers its method patcher in
    # odoo.tests.common.SETATTR_SOURCES (tests/common.py, trap_jobs), a dict that
    # recent Odoo 18.0 uses to silence a warning about patched methods. Odoo 18.0
    # sources from before that change have no such dict and the import fails: give
    # them an empty one (nothing reads it there).
    if not hasattr(common, "SETATTR_SOURCES"):
        common.SETATTR_SOURCES = {}


def _record(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report)


def pytest_runtest_logreport(report):
    _record(report)


def pytest_collectreport(report):
    _record(report)


def _reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, lineno, reason = longrepr
        return f"{reason} ({path}:{lineno})"
    return str(longrepr)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _SKIPPED and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _SKIPPED:
        return
    terminalreporter.section("skipped tests fail the run", sep="=", red=True)
    for report in _SKIPPED:
        terminalreporter.write_line(f"SKIPPED {report.nodeid}: {_reason(report)}")
    terminalreporter.write_line(
        f"{len(_SKIPPED)} test(s) skipped: a skipped test is a failure of this "
        "suite (missing Chromium / websocket-client / --odoo-http, or a skip "
        "left in the code); fix the cause instead of skipping.",
        red=True,
        bold=True,
    )
