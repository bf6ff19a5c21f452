"""Synthetic accounts and moto seeding, for tests, benchmarks and the demo.

Not on the runtime path (alembic ships ``alembic/testing`` the same way):
:func:`synthetic_gaad` makes a GAAD document of any size, :func:`populate`
creates it through an IAM client (moto in tests and the demo).
"""

from groupify.testing.synth import populate, synthetic_gaad

__all__ = ["populate", "synthetic_gaad"]
