"""Write ``examples/acme-gaad.json``: a synthetic account to try groupify on.

The file has the shape ``aws iam get-account-authorization-details > gaad.json``
writes. Run from anywhere::

    python examples/make_example.py
"""

from __future__ import annotations

import json
from pathlib import Path

from groupify.testing import synthetic_gaad

OUT = Path(__file__).with_name("acme-gaad.json")


def main() -> None:
    gaad = synthetic_gaad(users=48, seed=7)
    OUT.write_text(json.dumps(gaad, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(gaad['UserDetailList'])} users)")


if __name__ == "__main__":
    main()
