# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Carrier platform adapters (plain Python): one module per platform, all
speaking ``base.py``'s terms. ``PLATFORMS`` maps a backend's platform code
to its adapter class and a factory of its API client."""

from . import base, easypost

PLATFORMS = {
    "easypost": (easypost.EasyPostPlatform, easypost.EasyPostClient),
}


def make_platform(code, base_url, api_key, timeout=20, session=None):
    """The adapter of platform ``code`` for one API key."""
    adapter, client = PLATFORMS[code]
    return adapter(client(base_url, api_key, timeout=timeout, session=session))
