"""Pieces the notebook views of every stage share: a titled box, folded tables, badges.

Nothing here imports IPython or a stage: the views beside each stage
(``inventory/views.py``, ``proposal/views.py``, …) build on these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from groupify._html import details, esc, table

__all__ = ["FOLD", "STYLE", "box", "fold", "names", "pandas", "step_ranges"]

_STEP_ID = re.compile(r"s(\d+)")

#: The views' style. Notebook front ends style tables too, and JupyterLab's
#: ``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td {text-align: right}`` is more
#: specific than a plain ``table.groupify td``: so every rule is scoped under the box
#: (``.groupify-box table.groupify``) and alignment is ``!important``. Text aligns left,
#: numbers (class ``num``, see :func:`groupify._html.table`) right.
STYLE = (
    "<style>"
    ".groupify-box table.groupify{border-collapse:collapse;margin:4px 0 10px 0;font-size:90%;"
    "table-layout:auto}"
    ".groupify-box table.groupify th,.groupify-box table.groupify td{border:1px solid #d0d7de;"
    "padding:3px 8px;text-align:left!important;vertical-align:top!important;"
    "white-space:normal}"
    ".groupify-box table.groupify .num{text-align:right!important;"
    "font-variant-numeric:tabular-nums}"
    ".groupify-box table.groupify thead th{background:#f6f8fa}"
    ".groupify-box table.summary th{background:#f6f8fa;font-weight:600}"
    ".groupify-box{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;"
    "text-align:left}"
    ".groupify-box h4{margin:8px 0 4px 0}"
    ".groupify-box .muted{color:#59636e}"
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


def step_ranges(ids: Iterable[str]) -> str:
    """Step ids with runs of three or more shortened: ``s4–s6, s9``."""
    ids = list(ids)
    numbers: list[int] = []
    for step_id in ids:
        m = _STEP_ID.fullmatch(step_id)
        if m is None:
            return ", ".join(ids)
        numbers.append(int(m.group(1)))
    numbers.sort()
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"s{numbers[i]}–s{numbers[j]}")
        else:
            parts += [f"s{n}" for n in numbers[i : j + 1]]
        i = j + 1
    return ", ".join(parts)
