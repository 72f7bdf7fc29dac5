"""``zoomq.jobs.run_chunk``'s arguments, as a service speaking Celery may send them by hand:
anything that names no real items of the job is refused, never passed as done."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tasks.bulk import check_args
from zoomq.errors import InvalidInput, handled_as
from zoomq.jobs.models import JobRequest
from zoomq.jobs.submit import Fanout, submit
from zoomq.runtime.jobs import JobStore
from zoomq.runtime.keys import Keys
from zoomq.settings import JobsSettings


@pytest.fixture
def job(redis_client: redis.Redis) -> tuple[JobStore, str]:
    store = JobStore(redis_client, keys=Keys("t"))
    request = JobRequest(action="getUser", items=[{"userId": f"u{i}"} for i in range(3)])
    view, _ = submit(store, Fanout(JobsSettings()), "a", request)
    return store, view.job_id


@pytest.mark.parametrize(
    ("job_id", "indexes", "field", "says"),
    [
        (None, [0], "job_id", "job_id must be"),
        ("JOB", "0", "indexes", "non-empty list of integers"),
        ("JOB", [], "indexes", "non-empty list of integers"),
        ("JOB", [0, True], "indexes", "non-empty list of integers"),
        ("JOB", [0, 3], "indexes", "has items 0 to 2; not [3]"),
        ("JOB", [-1], "indexes", "not [-1]"),
    ],
)
def test_bad_arguments_are_refused_naming_them(
    job: tuple[JobStore, str], job_id: Any, indexes: Any, field: str, says: str
) -> None:
    store, real = job
    with pytest.raises(InvalidInput) as caught:
        check_args(store, real if job_id == "JOB" else job_id, indexes)
    assert says in str(caught.value)
    assert caught.value.errors[0]["field"] == field
    # InvalidInput is never retried: the message goes to the dead letters with its reason.
    assert handled_as(type(caught.value)) is InvalidInput


def test_real_indexes_and_an_unknown_job_pass(job: tuple[JobStore, str]) -> None:
    store, real = job
    check_args(store, real, [0, 1, 2])
    check_args(store, "no-such-job", [0])  # the executor reports it missing
