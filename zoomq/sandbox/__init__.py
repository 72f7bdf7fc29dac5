"""A local Zoom API + OAuth server for tests and benchmarks (like stripe-mock).

Seeded, stateful and in memory: users, meetings (one recurring), registrants,
webinars and their registrants and participants, cloud recordings with
downloadable files, call recordings, chat channels and messages. Zoom's paging,
errors, OAuth grants, rate limits and recording downloads are imitated; faults can
be injected. See ``SandboxConfig`` for the knobs, ``SandboxState`` for what tests
inspect, ``faults`` and ``control`` for the ``/_sandbox`` endpoints.

::

    with SandboxServer(SandboxConfig(seed=1)) as sandbox:
        sandbox.api_base_url, sandbox.token_url, sandbox.state.seeded.owner_user_id
"""

from __future__ import annotations

from zoomq.sandbox.app import create_sandbox_app, sandbox_state
from zoomq.sandbox.config import DEFAULT_APP, OAuthApp, SandboxConfig
from zoomq.sandbox.content import expected_bytes
from zoomq.sandbox.faults import Fault, FaultInjector
from zoomq.sandbox.ratelimits import Category
from zoomq.sandbox.seed import OWNER_EMAIL, SeededIds
from zoomq.sandbox.server import SandboxServer, serve
from zoomq.sandbox.state import RequestRecord, SandboxState

__all__ = [
    "DEFAULT_APP",
    "OWNER_EMAIL",
    "Category",
    "Fault",
    "FaultInjector",
    "OAuthApp",
    "RequestRecord",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "SeededIds",
    "create_sandbox_app",
    "expected_bytes",
    "sandbox_state",
    "serve",
]
