"""The blob store's signing key, generated once and shared by every process on a data_dir."""

import secrets

from convmem.background import blobstore
from convmem.background.blobstore import signing_key
from convmem.config import Settings


def test_a_generated_key_is_kept_and_read_back(tmp_path):
    settings = Settings(data_dir=tmp_path, signing_key=None)
    key = signing_key(settings)
    assert len(key) == 64
    assert signing_key(settings) == key


def test_a_process_starting_while_another_writes_the_key_reads_the_whole_key(tmp_path, monkeypatch):
    """Another process looks for the key while this one is generating it: both must end up
    with one and the same key, never with an empty or partial one."""
    settings = Settings(data_dir=tmp_path, signing_key=None)
    generate = secrets.token_hex
    seen_by_the_other = []

    def another_process_starts_meanwhile(nbytes: int) -> str:
        monkeypatch.setattr(blobstore.secrets, "token_hex", generate)
        seen_by_the_other.append(signing_key(settings))
        return generate(nbytes)

    monkeypatch.setattr(blobstore.secrets, "token_hex", another_process_starts_meanwhile)
    key = signing_key(settings)
    assert len(key) == 64
    assert seen_by_the_other == [key]
    assert signing_key(settings) == key
    assert [path.name for path in tmp_path.iterdir()] == [blobstore.SIGNING_KEY_FILE]
