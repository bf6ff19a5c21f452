"""Fixtures and Hypothesis profiles; the builders live in :mod:`tests.support`."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from groupify import Inventory
from tests.support import aws, doc, make_inventory

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
def small() -> Inventory:
    """Four users: two analysts sharing a set, one with its own, one break-glass."""
    return make_inventory(
        {
            "alice": {
                "managed": [aws("AmazonS3ReadOnlyAccess")],
                "inline": {"athena": doc("athena:StartQueryExecution")},
                "tags": {"Team": "data", "JobFunction": "analyst"},
            },
            "bob": {
                "managed": [aws("AmazonS3ReadOnlyAccess")],
                "inline": {"athena-query": doc("athena:StartQueryExecution")},
                "tags": {"Team": "data", "JobFunction": "analyst"},
            },
            "carol": {"managed": [aws("AmazonEC2ReadOnlyAccess"), aws("AmazonS3ReadOnlyAccess")]},
            "root-bg": {"managed": [aws("AdministratorAccess")], "tags": {"BreakGlass": "true"}},
            "dave": {"groups": ["readers"]},
        },
        {"readers": {"managed": [aws("ReadOnlyAccess")]}},
    )
