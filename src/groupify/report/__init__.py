"""The change-approval report: one plan, read by a board, in HTML or Markdown.

:func:`render_html` and :func:`render_markdown` turn a :class:`~groupify.Plan`
into a single self-contained document (inline CSS, no script, no external
resource) that a change-approval board can read on screen, in a notebook or
on paper: the scope, the documented exceptions, each group and why it
exists, the quota headroom, every step (those that remove a direct grant marked,
with the group replacing it), an estimate of how long apply takes, how to roll
back, and the verification statement.

Both formats are rendered from the same facts (:class:`~groupify.report.facts.Facts`),
computed once from the plan, so they say the same thing. The plan is verified
again before anything is rendered: the report never states a verification
that did not just pass. Everything that comes from the account or from a
reviewer (names, paths, reasons, policy documents) is escaped; IAM allows
``<``, ``&`` and quotes in paths and in policy documents, and reasons are free text.
"""

from groupify.report.html import render_html
from groupify.report.markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
