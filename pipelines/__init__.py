"""Prefect flows: extract, features, train, evaluate, register, promote."""

import os

# The ephemeral API would try to send usage telemetry; this machine, like
# most production hosts, has no business talking to the outside world.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Its start-up is given 20 s by default; on a busy 2-core host (training in
# another process) that was measured to time out, failing the whole flow.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
