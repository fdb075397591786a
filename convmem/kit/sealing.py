"""JSON payloads sealed with the server's key, one derived key per purpose.

Fernet (AES-CBC with HMAC-SHA256, from ``cryptography``) under a key derived with HKDF from the
server's signing key and the purpose's name: a payload sealed for one purpose (a page token)
never opens as another (a dataset's credentials), and a copy of the database without the
signing key holds nothing readable.
"""

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class JsonSeal:
    def __init__(self, key: bytes, *, purpose: str):
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, payload: Any) -> str:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def open(self, sealed: str) -> Any:
        """The payload; raises ``InvalidToken`` for text this key did not seal for this purpose, unaltered."""
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except (ValueError, UnicodeEncodeError):
            raise InvalidToken from None
