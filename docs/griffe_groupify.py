"""griffe extensions: how the API reference shows groupify; the source is never changed.

``SphinxRolesToMarkdown`` renders the docstrings, plain prose with two
reStructuredText habits that Markdown does not share, as Markdown:

* cross-reference roles, ``:class:`~groupify.errors.AWSError```, become links
  to the API reference when the target is documented there, and code
  otherwise (``optional`` autorefs: an undocumented target is not an error);
* literal blocks introduced by ``::`` become fenced code blocks.

``double backticks`` and ``*emphasis*`` already mean the same in Markdown.

``FieldDefaults`` shows attributes as a reader thinks of them: an attrs field
is an instance attribute whose default is the ``default=`` of ``field(...)``
(not the call), and an attribute set in ``__init__`` (``self.users =
tuple(users)``) shows no value at all.

Both are loaded from mkdocs.yml (``extensions:`` of the python handler).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterator
from functools import partial
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?P<role>[a-z]+):`(?P<target>[^`]+)`")
_CALLABLE_ROLES = {"func", "meth"}


class SphinxRolesToMarkdown(griffe.Extension):
    """Rewrite roles and literal blocks in every docstring of the loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None:
                text = _literal_blocks(obj.docstring.value)
                obj.docstring.value = _ROLE.sub(partial(_role, obj=obj), text)


_ATTRS_DECORATORS = {
    f"{module}.{name}"
    for module in ("attr", "attrs")
    for name in ("frozen", "define", "mutable", "s", "attrs", "dataclass")
}
_ATTRS_FIELDS = {"attr.ib", "attr.attrib", "attrs.field", "attr.field"}


class FieldDefaults(griffe.Extension):
    """Show attrs fields with their real defaults, and no value for ``__init__`` assignments."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if not isinstance(obj, griffe.Class):
                continue
            is_attrs = any(_path(d.value) in _ATTRS_DECORATORS for d in obj.decorators)
            for member in obj.members.values():
                if not isinstance(member, griffe.Attribute):
                    continue
                if "class-attribute" not in member.labels:
                    member.value = None
                elif is_attrs and member.annotation:
                    _field_default(member)


def _path(expr: Any) -> str:
    if isinstance(expr, griffe.ExprCall):
        expr = expr.function
    try:
        return str(expr.canonical_path)
    except AttributeError:
        return str(expr)


def _field_default(attr: griffe.Attribute) -> None:
    if "property" in attr.labels:
        return
    attr.labels.discard("class-attribute")
    attr.labels.add("instance-attribute")
    value = attr.value
    if isinstance(value, griffe.ExprCall) and _path(value) in _ATTRS_FIELDS:
        defaults = [
            a.value
            for a in value.arguments
            if isinstance(a, griffe.ExprKeyword) and a.name == "default"
        ]
        attr.value = defaults[0] if defaults else None


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if isinstance(member, griffe.Object):
            yield from _walk(member)


def _role(match: re.Match[str], obj: griffe.Object) -> str:
    role, target = match["role"], match["target"].strip()
    short = target.startswith("~")
    target = target.lstrip("~")
    if "<" in target and target.endswith(">"):  # :class:`title <path>`
        title, _, target = target[:-1].partition("<")
        title = title.strip()
    else:
        title = target.rsplit(".", 1)[-1] if short else target
        if role in _CALLABLE_ROLES:
            title += "()"
    code = f"<code>{html.escape(title)}</code>"
    if role == "mod":
        return f"`{title}`"
    path = _resolve(obj, target)
    if path is None:
        return f"`{title}`"
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """The full path *target* names from *obj*'s scope, or ``None`` (a builtin, say)."""
    head, _, rest = target.partition(".")
    if head == obj.package.name:
        return target
    try:
        path = obj.resolve(head)
    except griffe.NameResolutionError:
        return None
    return f"{path}.{rest}" if rest else path


def _literal_blocks(text: str) -> str:
    """Turn reST literal blocks (a paragraph ending in ``::``) into fenced code."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.rstrip()
        if not stripped.endswith("::"):
            out.append(line)
            i += 1
            continue
        # As Sphinx does: "word::" -> "word:", "word ::" -> "word", a lone "::" goes.
        intro = stripped[:-2]
        if intro.strip():
            out.append(intro.rstrip() if intro.endswith(" ") else intro + ":")
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block: list[str] = []
        while j < len(lines) and (not lines[j].strip() or lines[j][:1] in (" ", "\t")):
            block.append(lines[j])
            j += 1
        while block and not block[-1].strip():
            block.pop()
            j -= 1
        if block:
            out += ["", "```", textwrap.dedent("\n".join(block)), "```"]
        i = j
    return "\n".join(out)
