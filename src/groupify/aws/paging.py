"""Paging, written once: IAM's ``Marker``, and ``NextToken`` (Organizations, Security Hub)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from groupify.aws.errors import api_name
from groupify.errors import AWSError

__all__ = ["collect", "pages", "token_pages"]

Fetch = Callable[..., Mapping[str, Any]]


def pages(fetch: Fetch, operation: str, **params: Any) -> Iterator[Mapping[str, Any]]:
    """Every page of *fetch* (one call of *operation*, retried on its own), following ``Marker``."""
    while True:
        page = fetch(**params)
        yield page
        if not page.get("IsTruncated"):
            return
        marker = page.get("Marker")
        if not marker:
            name = api_name(operation)
            raise AWSError(f"{name} said IsTruncated but gave no Marker", operation=name)
        params = {**params, "Marker": marker}


def collect(fetch: Fetch, operation: str, key: str, **params: Any) -> list[Any]:
    """The items under *key* of every page."""
    return [item for page in pages(fetch, operation, **params) for item in page.get(key, [])]


def token_pages(fetch: Fetch, **params: Any) -> Iterator[Mapping[str, Any]]:
    """Every page of *fetch*, following ``NextToken`` until a page has none."""
    seen: set[str] = set()
    while True:
        page = fetch(**params)
        yield page
        token = page.get("NextToken")
        if not token:
            return
        if token in seen:  # a service that hands out the same token would loop forever
            raise AWSError("the same NextToken came back twice; stopping", operation="paging")
        seen.add(token)
        params = {**params, "NextToken": token}
