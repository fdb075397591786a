"""The repository stands on its own: the tests fetch the official spec themselves and read nothing beside the clone."""

import re
from pathlib import Path

from tests import contract

ROOT = Path(__file__).resolve().parents[1]


def test_a_damaged_copy_of_the_spec_is_fetched_again_and_checked_against_the_pin(tmp_path, monkeypatch):
    monkeypatch.setattr(contract, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(contract, "SPEC_PATH", tmp_path / "cache" / "spec.json")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "spec.json").write_text("{}")

    fetched = contract.spec_path()
    assert fetched == tmp_path / "cache" / "spec.json"
    assert contract._sha256(fetched) == contract.SPEC_SHA256


def test_the_spec_lives_in_the_clone():
    assert contract.spec_path().is_relative_to(ROOT)
    assert contract.official_spec()["info"]["title"] == "Twilio Memory API"


def test_nothing_reads_the_folder_beside_the_clone():
    outside = re.compile(r"""parents\[[2-9]\]|\.\./shared|["']shared["']\s*/""")
    sources = [*ROOT.glob("convmem/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/**/*.py")]
    offenders = [str(path.relative_to(ROOT)) for path in sources if outside.search(path.read_text())]
    assert offenders == []
