"""Plumbing shared by the reference tables: reading the shipped TSV files and suggesting
the closest valid codes when a code is unknown."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files


def read_rows(filename: str, columns: int) -> list[list[str]]:
    """Rows of ``data/<filename>``: ``#`` comment lines and the column header skipped."""
    text = files("custmdm.standards").joinpath("data", filename).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = [line.split("\t") for line in lines[1:]]
    for number, row in enumerate(rows, start=1):
        if len(row) != columns:
            raise ValueError(f"{filename}: data row {number} has {len(row)} columns, not {columns}")
    return rows


def nearest_codes(query: str, codes: Sequence[str], limit: int = 3) -> list[str]:
    """The ``limit`` codes of the same length closest to a mistyped numeric code.

    Codes in these standards are hierarchical, so a typo usually keeps the leading digits
    right: candidates sharing the longest prefix with the query rank first. Among those,
    rapidfuzz's OSA distance ranks typos (one wrong digit, two swapped digits) above
    codes that are merely numerically close, and numeric distance breaks the ties.
    """
    from rapidfuzz.distance import OSA  # only needed on the error path; keeps loading fast

    candidates = [code for code in codes if len(code) == len(query)]

    def shared_prefix(code: str) -> int:
        length = 0
        while length < len(code) and code[length] == query[length]:
            length += 1
        return length

    def rank(code: str) -> tuple[int, int, int]:
        distance = abs(int(code) - int(query)) if code.isdigit() and query.isdigit() else 0
        return (-shared_prefix(code), OSA.distance(code, query), distance)

    return sorted(candidates, key=rank)[:limit]


def nearest_names(query: str, names: Sequence[str], limit: int = 3) -> list[int]:
    """Indexes into ``names`` of the entries whose names best match ``query`` (any case)."""
    from rapidfuzz import fuzz, process, utils

    matches = process.extract(
        query,
        names,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=limit,
        score_cutoff=50,
    )
    return [index for _name, _score, index in matches]
