"""Source credentials (database URLs with passwords, S3 keys), sealed with the server's key.

Sealed (``kit.sealing``) under a key derived from the server's
signing key (``CONVMEM_SIGNING_KEY``, else the one kept in ``data_dir``) for this purpose only,
as page tokens derive theirs: a copy of the database without that key holds no usable secret.
"""

from cryptography.fernet import InvalidToken

from convmem.kit.sealing import JsonSeal


class CredentialsUnreadable(Exception):
    """The sealed credentials were sealed under another key (the server's key changed)."""


class CredentialSeal(JsonSeal):
    def __init__(self, key: bytes):
        super().__init__(key, purpose="convmem.dataset-credentials")

    def open(self, sealed: str | None) -> dict:
        if not sealed:
            return {}
        try:
            return super().open(sealed)
        except InvalidToken:
            raise CredentialsUnreadable(
                "The dataset's credentials were sealed with another server key; give them again (PATCH the dataset)"
            ) from None
