"""Small HTML building blocks shared by notebook views and the report. No dependencies."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["badge", "details", "esc", "kv_table", "table"]


def esc(value: object) -> str:
    """HTML-escaped text of *value*."""
    return html.escape(str(value), quote=True)


def _is_number(cell: object) -> bool:
    return isinstance(cell, (int, float)) and not isinstance(cell, bool)


def _td(cell: object, raw: bool) -> str:
    """A cell: a number right-aligned (class ``num``), text left-aligned."""
    if _is_number(cell):
        return f'<td class="num">{esc(cell)}</td>'
    return f"<td>{cell if raw else esc(cell)}</td>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    raw: Iterable[int] = (),
    cls: str = "groupify",
) -> str:
    """A table; cells are escaped except in the columns listed in *raw* (already HTML).

    Cells holding a number (``int`` or ``float``) get class ``num``, which the views'
    and the report's styles align right (and so does the header of a column of
    numbers); every other cell aligns left.
    """
    raw_cols = set(raw)
    rows = [list(row) for row in rows]
    numeric = {
        i
        for i in range(len(headers))
        if rows and all(i < len(row) and _is_number(row[i]) for row in rows)
    }
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>" + "".join(_td(cell, i in raw_cols) for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def kv_table(items: Iterable[tuple[str, object]], *, raw: Iterable[int] = ()) -> str:
    """A two-column table of labels and values; values are escaped except in the rows
    listed in *raw* (already HTML)."""
    raw_rows = set(raw)
    body = "".join(
        f"<tr><th>{esc(k)}</th><td>{v if i in raw_rows else esc(v)}</td></tr>"
        for i, (k, v) in enumerate(items)
    )
    return f'<table class="groupify summary"><tbody>{body}</tbody></table>'


def badge(text: str, kind: str = "info") -> str:
    """A small coloured label (kinds: info, ok, warn, danger, muted)."""
    colours = {
        "info": "#1f6feb",
        "ok": "#1a7f37",
        "warn": "#9a6700",
        "danger": "#cf222e",
        "muted": "#6e7781",
    }
    colour = colours.get(kind, colours["info"])
    return (
        f'<span style="border:1px solid {colour};color:{colour};border-radius:4px;'
        f'padding:0 4px;font-size:85%;white-space:nowrap">{esc(text)}</span>'
    )


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """A collapsible section (works in Jupyter and in browsers)."""
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{body}</details>"
