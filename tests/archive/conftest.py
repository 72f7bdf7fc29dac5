"""Fixtures of the archive tests."""

from tests.archive.s3server import s3, s3_endpoint

__all__ = ["s3", "s3_endpoint"]
