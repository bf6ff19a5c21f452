"""Pieces the notebook views of every stage share: a titled box, folded tables, badges.

Nothing here imports IPython or a stage: the views beside each stage
(``inventory/views.py``, ``proposal/views.py``, …) build on these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from groupify._html import details, esc, table

__all__ = ["FOLD", "STYLE", "box", "fold", "names", "pandas"]

STYLE = (
    "<style>"
    "table.groupify{border-collapse:collapse;margin:4px 0 10px 0;font-size:90%}"
    "table.groupify th,table.groupify td{border:1px solid #d0d7de;padding:3px 8px;"
    "text-align:left;vertical-align:top}"
    "table.groupify thead th{background:#f6f8fa}"
    "table.summary th{background:#f6f8fa;font-weight:600}"
    ".groupify-box{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif}"
    ".groupify-box h4{margin:8px 0 4px 0}"
    "</style>"
)

#: Rows shown before a table is folded.
FOLD = 25


def box(title: str, *parts: str) -> str:
    return f'{STYLE}<div class="groupify-box"><h4>{esc(title)}</h4>{"".join(parts)}</div>'


def fold(title: str, headers: list[str], rows: list[list[Any]], raw: Iterable[int] = ()) -> str:
    raw = tuple(raw)
    if len(rows) <= FOLD:
        return table(headers, rows, raw=raw)
    return table(headers, rows[:FOLD], raw=raw) + details(
        f"{title}: all {len(rows)} rows", table(headers, rows, raw=raw)
    )


def names(items: Iterable[str], most: int = 12) -> str:
    """Sorted, comma-separated, the rest counted: ``a, b … (+3)``."""
    shown = sorted(items)
    out = ", ".join(shown[:most])
    return out + (f" … (+{len(shown) - most})" if len(shown) > most else "")


def pandas() -> Any:
    """The pandas module, or an ImportError that says which extra brings it."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe() needs pandas: pip install 'groupify[notebook]'") from None
    return pandas
