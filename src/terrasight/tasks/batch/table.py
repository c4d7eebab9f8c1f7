"""The table of pairs a batch runs: CSV with ``before``, ``after`` and an optional ``name``."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from terrasight.errors import BatchTableError
from terrasight.io.remote import is_remote, source_name

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PairRow:
    """One line of the table: the pair's name (its output folder) and its two images."""

    name: str
    before: str
    after: str
    line: int


def read_pairs(path: str | Path) -> list[PairRow]:
    """The pairs of a CSV table, checked: columns, empty cells, names unique and safe.

    Relative local paths are taken relative to the table's folder; URLs and STAC Items
    stay as they are. A missing ``name`` column names pairs after the after image's file.

    Raises:
        BatchTableError: the file is missing or unreadable, a column is missing, a cell is
            empty, or two pairs share a name; the message names the file and the line.

    Example:
        >>> read_pairs("pairs.csv")[0]  # doctest: +SKIP
        PairRow(name='harbour', before='/data/2019.tif', after='/data/2024.tif', line=2)
    """
    table = Path(path)
    try:
        text = table.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BatchTableError(
            f"{table}: cannot read the table of pairs ({exc.strerror or exc}). Give a CSV file "
            "with the columns before, after and (optionally) name."
        ) from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in ("before", "after") if c not in columns]
    if missing:
        raise BatchTableError(
            f"{table}: no column {' or '.join(repr(c) for c in missing)} in the header "
            f"({', '.join(columns) or 'empty'}). The first line must name the columns: "
            "before,after,name."
        )
    rows: list[PairRow] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        cells = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        for column in ("before", "after"):
            if not cells.get(column):
                raise BatchTableError(f"{table} line {line}: the {column} cell is empty.")
        before, after = (_resolve(cells[c], table.parent) for c in ("before", "after"))
        name = _safe_name(cells.get("name") or Path(source_name(after)).stem or f"pair-{line}")
        if name in seen:
            raise BatchTableError(
                f"{table} line {line}: the name {name!r} is also on line {seen[name]}; each "
                "pair needs its own name (it is the pair's output folder)."
            )
        seen[name] = line
        rows.append(PairRow(name, before, after, line))
    if not rows:
        raise BatchTableError(f"{table}: the table has a header but no pairs.")
    return rows


def _resolve(cell: str, folder: Path) -> str:
    if is_remote(cell) or Path(cell).is_absolute():
        return cell
    return str((folder / cell).resolve())


def _safe_name(name: str) -> str:
    """A folder name: runs of characters other than letters, digits, ``.``, ``_``, ``-`` as ``_``.

    Example:
        >>> _safe_name("Port of Spain / 2024")
        'Port_of_Spain_2024'
    """
    return _UNSAFE.sub("_", name).strip("._") or "pair"
