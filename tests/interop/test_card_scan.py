"""The PCI scan itself (card_scan.py) finds what it must and only that."""

from dataclasses import dataclass, field
from pathlib import Path

import card_scan


@dataclass
class FakeRun:
    """What the scan reads of a JouleServer: its output, folder and database."""
    data_dir: Path
    output: list = field(default_factory=list)
    database_url: str = "sqlite://unused"
    pg_schema: str = ""


def test_luhn_valid_runs_are_found_and_others_are_not():
    assert card_scan.card_numbers("card 4000 0000 0000 0002") == []  # spaced: not one run
    assert card_scan.card_numbers("x 4000000000000002 y") == ["4000000000000002"]
    assert card_scan.card_numbers("4242424242424241") == []  # Luhn fails
    assert card_scan.card_numbers("ch_4242424242424242abc") == []  # part of an id
    assert card_scan.card_numbers("key_4242424242424242") == ["4242424242424242"]  # "_" separates: flagged
    assert card_scan.card_numbers("1700000000000") == []  # a 13-digit timestamp, Luhn fails
    # a UUID whose last group is all digits, stored against a timestamp
    assert card_scan.card_numbers("01a20b9e-b869-7039-b7ef-8668591458232026-11-24T03:34:41Z") == []


def test_logs_and_files_are_scanned_but_the_gateways_folder_is_not(tmp_path):
    (tmp_path / "joule.db").write_bytes(b"\x00row\x005555555555554444\x00")
    (tmp_path / "ls").mkdir()
    (tmp_path / "ls" / "localstripe.pickle").write_text("4242424242424242")
    run = FakeRun(tmp_path, output=["INFO paid 378282246310005"])
    found = card_scan.scan(run)
    assert found == ["log: 378282246310005", f"{tmp_path / 'joule.db'}: 5555555555554444"]
