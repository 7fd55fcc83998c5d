"""What ``kindred run`` does when the settings alone make starting impossible (a bad value,
no platform to serve, no model to answer): exit 2 — or, with ``KINDRED_ON_BAD_CONFIG=wait``
(the Docker image sets it), say so once and wait for a stop signal.

Why wait: a container's restart policy cannot tell "fix the .env" from "the network was
down"; exiting would restart it in a loop that buries the one useful line in the logs, and
a policy with a retry limit would also give up on a transient outage at boot. Waiting
keeps ``restart: unless-stopped`` for real failures, leaves the message at the end of
``docker compose logs bot``, and the failing ``/healthz`` healthcheck marks the container
unhealthy. Problems found by talking to something (an unreachable server) still exit.
"""

from __future__ import annotations

import os
import signal
import sys

VARIABLE = "KINDRED_ON_BAD_CONFIG"
WAITING = (
    "kindred: waiting instead of exiting (KINDRED_ON_BAD_CONFIG=wait), so the container does "
    "not restart in a loop: fix the settings (.env), then `docker compose up -d`"
)


def settings_problem(status: int) -> int:
    """``status`` (2), or 0 after a stop signal when the operator asked to wait."""
    if os.environ.get(VARIABLE, "").strip().lower() != "wait":
        return status
    stops = {signal.SIGTERM, signal.SIGINT}
    # Blocked before saying so: a stop sent as soon as the line appears waits for sigwait.
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    print(WAITING, file=sys.stderr, flush=True)
    signal.sigwait(stops)
    return 0
