"""Every Redis key the worker runtime and the receiver write, under one prefix.

``Keys(settings.zoomq_key_prefix)`` is built at the edge and handed to each store; the
default prefix keeps the historical names (``zoomq:ledger``, ``zoomq:parked``, ...). The
Zoom client's token cache and rate limiter take the same prefix as a string.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoomq.settings import DEFAULT_KEY_PREFIX

__all__ = ["Keys"]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under ``prefix``; ``keys("a", "b")`` is ``"<prefix>:a:b"``."""

    prefix: str = DEFAULT_KEY_PREFIX

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # The ledger (zoomq.runtime.ledger): due times, message bodies, suspects.
    @property
    def ledger_due(self) -> str:
        return self("ledger")

    @property
    def ledger_messages(self) -> str:
        return self("ledger", "messages")

    @property
    def ledger_suspect(self) -> str:
        return self("ledger", "suspect")

    # Parked tasks (zoomq.runtime.parking): waiting, being moved back, unreadable.
    @property
    def parked(self) -> str:
        return self("parked")

    @property
    def parked_moving(self) -> str:
        return self("parked", "moving")

    @property
    def parked_bad(self) -> str:
        return self("parked", "bad")

    # Dead letters (zoomq.runtime.dlq).
    @property
    def dlq_entries(self) -> str:
        return self("dlq", "entries")

    @property
    def dlq_index(self) -> str:
        return self("dlq", "index")

    # Idempotency records (zoomq.runtime.idempotency): ``<prefix>:idem:<kind>:<key>``.
    @property
    def idempotency(self) -> str:
        return self("idem")

    # Bulk jobs (zoomq.runtime.jobs): ``<prefix>:job:<id>`` and the keys under it, each
    # tenant's index of jobs, and each tenant's idempotency keys.
    def job(self, job_id: str, *part: str) -> str:
        return self("job", job_id, *part)

    def tenant_jobs(self, tenant: str) -> str:
        return self("jobs", tenant)

    def job_idempotency(self, tenant: str, key: str) -> str:
        return self("jobs", tenant, "idem", key)

    # The receiver: delivered-event markers ``<prefix>:seen:<connection>:<key>``.
    @property
    def seen(self) -> str:
        return self("seen")
