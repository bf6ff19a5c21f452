"""Privilege, not only policies: what the documents allow, and who may change a group.

:mod:`~groupify.privilege.evaluate` answers "may this principal call this action
on this resource?" from identity-policy documents.
"""

from groupify.privilege.evaluate import Answer, Evaluator, statements

__all__ = ["Answer", "Evaluator", "statements"]
