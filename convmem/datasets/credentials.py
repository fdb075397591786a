"""Source credentials (database URLs with passwords, S3 keys), sealed with the server's key.

Fernet (AES-CBC with HMAC-SHA256, from ``cryptography``) under a key derived from the server's
signing key (``CONVMEM_SIGNING_KEY``, else the one kept in ``data_dir``) for this purpose only,
as page tokens derive theirs: a copy of the database without that key holds no usable secret.
"""

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class CredentialsUnreadable(Exception):
    """The sealed credentials were sealed under another key (the server's key changed)."""


class CredentialSeal:
    def __init__(self, key: bytes):
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"convmem.dataset-credentials").derive(key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secrets: dict) -> str:
        return self._fernet.encrypt(json.dumps(secrets, separators=(",", ":")).encode()).decode()

    def open(self, sealed: str | None) -> dict:
        if not sealed:
            return {}
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise CredentialsUnreadable(
                "The dataset's credentials were sealed with another server key; give them again (PATCH the dataset)"
            ) from None
