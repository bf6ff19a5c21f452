"""A moto server for the export tests that run the AWS CLI or Terraform against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import awsmoto


@pytest.fixture
def cli_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A fresh moto server's URL, and an environment in which child processes (the AWS
    CLI, Terraform) see only fake credentials and no profile, endpoint or TF_ setting."""
    awsmoto.fake_env(monkeypatch, tmp_path, drop=("TF_",))
    for url in awsmoto.serve():
        awsmoto.reset(url)
        yield url
