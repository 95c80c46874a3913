# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Encryption of backend secrets with a Fernet key from the server config."""

from cryptography.fernet import Fernet, InvalidToken

from odoo.exceptions import UserError
from odoo.tools import config

KEY_OPTION = "dsync_encryption_key"


class SecretKeyMissing(UserError):
    pass


def _fernet():
    key = config.get(KEY_OPTION)
    if not key:
        raise SecretKeyMissing(
            f"Secrets cannot be stored or read: the option '{KEY_OPTION}' is "
            "missing from the Odoo server configuration. Generate a key with "
            'python3 -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())" and add '
            f"'{KEY_OPTION} = <key>' to the [options] section."
        )
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as err:
        raise SecretKeyMissing(
            f"The option '{KEY_OPTION}' of the Odoo server configuration is "
            "not a valid Fernet key (32 url-safe base64-encoded bytes)."
        ) from err


def encrypt(plain):
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as err:
        raise UserError(
            f"A stored secret cannot be decrypted with the configured "
            f"'{KEY_OPTION}': was the key changed? Enter the secret again."
        ) from err
