"""The local stack: the whole system on an embedded AWS (moto), no account and no Docker.

``python -m chalicelib.local`` (``make run``) serves the API, pumps the queues into the
SQS handlers and fires the scheduled handlers; :class:`LocalStack` does the same
inside a test or a script.
"""

from chalicelib.local.stack import LocalStack

__all__ = ["LocalStack"]
