"""Fixtures of the archive tests: a real S3 server, and the sandbox's."""

from tests.archive.s3server import s3, s3_endpoint
from tests.sandbox.conftest import clock, make_sandbox, sandbox

__all__ = ["clock", "make_sandbox", "s3", "s3_endpoint", "sandbox"]
