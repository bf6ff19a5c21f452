"""MkDocs hooks: pages generated from the code, so the site cannot drift from it.

* ``<!-- groupify-cli:usage -->`` and ``<!-- groupify-cli:help -->`` in a page
  are replaced by the usage lines and the ``--help`` text of every subcommand,
  rendered from :func:`groupify.cli.build_parser` itself.
* Every name in ``groupify.__all__`` must be rendered by a ``::: IDENTIFIER``
  block on some page; a missing one is a warning, so ``mkdocs build --strict``
  fails until the API reference lists it.

Loaded from mkdocs.yml (``hooks: [docs/hooks.py]``).
"""

from __future__ import annotations

import argparse
import importlib
import re
from typing import Any

from mkdocs.plugins import get_plugin_logger

log = get_plugin_logger("groupify")

HELP_WIDTH = 80
_MARKER = re.compile(r"<!--\s*groupify-cli:(?P<what>usage|help)\s*-->")
_IDENTIFIER = re.compile(r"^:::\s+(?P<id>[\w.]+)", re.MULTILINE)

_documented: set[str] = set()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _fixed_width(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Wrap help at a fixed width, in plain text, whatever the terminal running the build."""
    formatter_class = parser.formatter_class

    def formatter(prog: str) -> argparse.HelpFormatter:
        return formatter_class(prog, width=HELP_WIDTH)  # type: ignore[call-arg]

    parser.formatter_class = formatter
    if hasattr(parser, "color"):  # Python 3.14+ colours help on a terminal
        parser.color = False
    return parser


def _fence(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```"


def cli_usage() -> str:
    """The usage line of every subcommand, one block."""
    from groupify.cli import build_parser

    prefix = "usage: "
    lines: list[str] = []
    for p in _subcommands(build_parser()).values():
        usage = _fixed_width(p).format_usage().rstrip().removeprefix(prefix)
        # Continuation lines are indented to follow "usage: "; that word is gone.
        lines += [line.removeprefix(" " * len(prefix)) for line in usage.splitlines()]
    return _fence("\n".join(lines))


def cli_help() -> str:
    """``groupify --help`` and each ``groupify COMMAND --help``, a section each."""
    from groupify.cli import build_parser

    parser = _fixed_width(build_parser())
    parts = [f"### `{parser.prog}`", "", _fence(parser.format_help())]
    for p in _subcommands(parser).values():
        parts += ["", f"### `{p.prog}`", "", _fence(_fixed_width(p).format_help())]
    return "\n".join(parts)


_RENDER = {"usage": cli_usage, "help": cli_help}


def on_pre_build(config: Any, **kwargs: Any) -> None:
    _documented.clear()


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    _documented.update(m["id"] for m in _IDENTIFIER.finditer(markdown))
    return _MARKER.sub(lambda m: _RENDER[m["what"]](), markdown)


def _rendered(identifier: str) -> object:
    """The object a ``::: identifier`` block renders: as griffe does, a module wins."""
    parts = identifier.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name, None)
        return obj
    return None


def on_env(env: Any, config: Any, files: Any, **kwargs: Any) -> Any:
    import groupify

    rendered = {id(_rendered(identifier)) for identifier in _documented}
    missing = sorted(
        name
        for name in groupify.__all__
        if not name.startswith("__") and id(getattr(groupify, name)) not in rendered
    )
    if missing:
        log.warning(
            "groupify.__all__ names not in the API reference (add a '::: groupify.NAME' "
            "block to a page under docs/reference/): %s",
            ", ".join(missing),
        )
    return env
