"""examples/review.ipynb runs from top to bottom, so it never rots."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_review_notebook_executes() -> None:
    """Every cell runs without error; the edit is refused and the run verifies."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(EXAMPLES / "review.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    streams = "".join(o.text for o in outputs if o.output_type == "stream")
    assert "refused: cannot merge" in streams
    assert "+ group analysts-eu" in streams
    html = "".join(o.data.get("text/html", "") for o in outputs if "data" in o)
    assert "Proposed groups" in html and "Quota headroom" in html
    assert "all users pass" in html
    assert any("image/png" in o.get("data", {}) for o in outputs)
