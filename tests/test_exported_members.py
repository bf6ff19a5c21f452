"""The public API is exactly ``groupify.__all__``, sorted, and every name in it resolves."""

from __future__ import annotations

import groupify


def test_all_is_the_sorted_public_names() -> None:
    """__all__ lists every public name the package defines, in sorted order, and no other."""
    exported = groupify.__all__
    public = sorted(
        name
        for name in vars(groupify)
        if not name.startswith("_")
        # The stage packages are importable as submodules; they are not re-exported names.
        and not isinstance(getattr(groupify, name), type(groupify))
    )
    assert exported == sorted(exported)
    assert sorted(n for n in exported if n != "__version__") == public


def test_every_exported_name_resolves() -> None:
    """Each name in __all__ is an attribute of the package (``__version__`` included)."""
    for name in groupify.__all__:
        assert getattr(groupify, name) is not None, name
    assert isinstance(groupify.__version__, str)


def test_version_is_read_lazily() -> None:
    """__version__ is not computed at import (it costs importlib.metadata) but on demand."""
    assert "__version__" not in vars(groupify)
    assert groupify.__version__ == groupify.__version__
