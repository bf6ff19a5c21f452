"""Small HTML building blocks shared by notebook views and the report. No dependencies."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["badge", "details", "esc", "kv_table", "table"]


def esc(value: object) -> str:
    """HTML-escaped text of *value*."""
    return html.escape(str(value), quote=True)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    raw: Iterable[int] = (),
    cls: str = "groupify",
) -> str:
    """A table; cells are escaped except in the columns listed in *raw* (already HTML)."""
    raw_cols = set(raw)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{cell if i in raw_cols else esc(cell)}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def kv_table(items: Iterable[tuple[str, object]]) -> str:
    """A two-column table of labels and values."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items)
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
