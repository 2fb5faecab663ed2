"""Prefect flows: extract, features, train, evaluate, register, promote."""

import os

# The ephemeral API would try to send usage telemetry; this machine, like
# most production hosts, has no business talking to the outside world.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
