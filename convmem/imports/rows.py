"""Reading import files: CSV records with resumable byte offsets, and cells as trait values.

Files are read as users write them: UTF-8 with or without a BOM, CRLF or LF line endings,
quoted fields holding commas, quotes and line breaks, blank lines. The reader hands out
records one at a time and knows the byte offset just past each, so a resumed import seeks
straight to the first record it has not committed; memory stays flat whatever the file's
size (a line longer than ``MAX_LINE_BYTES`` fails the import instead of filling memory).
"""

import csv
import json
import math
import re
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE_BYTES = 1024 * 1024
# csv's default 128 KiB field limit would refuse long but legitimate cells (notes, JSON);
# a field can't usefully outgrow a line, and the limit still bounds an unclosed quote.
csv.field_size_limit(MAX_LINE_BYTES)
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class UnreadableFile(Exception):
    """The file can't be read as CSV from this record on: the import fails with this message."""


class CsvRecords:
    """The records of a CSV file from ``offset`` on, numbered from ``record_number + 1``.

    Records are numbered as a spreadsheet numbers rows: the header is row 1 and a blank line
    is a row too. After each record, ``offset`` is the byte offset just past it.
    """

    def __init__(self, binary: BinaryIO, offset: int = 0, record_number: int = 0):
        binary.seek(offset)
        self.offset = offset
        self.record_number = record_number
        self._binary = binary
        # csv.reader asks for the next line only when it needs it: once it has returned a
        # record, every line it has taken is part of that record, so ``offset`` is exact.
        self._reader = csv.reader(self._lines(), strict=True)

    def _lines(self) -> Iterator[str]:
        while raw := self._binary.readline(MAX_LINE_BYTES + 1):
            if len(raw) > MAX_LINE_BYTES:
                raise UnreadableFile(f"Row {self.record_number + 1} has a line longer than {MAX_LINE_BYTES} bytes")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UnreadableFile(f"Row {self.record_number + 1} is not valid UTF-8; save the file as UTF-8") from None
            if self.offset == 0:
                line = line.removeprefix("\ufeff")
            self.offset += len(raw)
            yield line

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        try:
            fields = next(self._reader)
        except csv.Error as error:
            raise UnreadableFile(f"Row {self.record_number + 1} is not well-formed CSV: {error}") from None
        self.record_number += 1
        return self.record_number, fields


def is_blank(fields: list[str]) -> bool:
    return all(not field.strip() for field in fields)


def cell_value(data_type: str, text: str):
    """The trait value a (stripped, non-empty) cell holds for a trait of ``data_type``.

    Raises ``ValueError`` saying what the cell should look like.
    """
    if data_type == "NUMBER":
        if _INTEGER.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if data_type == "BOOLEAN":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("must be true or false")
    if data_type == "ARRAY":
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                raise ValueError("must be a JSON array or ;-separated values") from None
            if not isinstance(items, list):
                raise ValueError("must be a JSON array or ;-separated values")
            return items
        return [item.strip() for item in text.split(";") if item.strip()]
    return text
