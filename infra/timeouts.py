"""How long `pulumi up` waits for an object Kubernetes gives a deadline of its own.

pulumi-kubernetes awaits a Deployment until rolled out and a Job until Complete, for 10 minutes unless
``customTimeouts`` says otherwise. Each awaited object here gets a Pulumi timeout longer than its own
Kubernetes deadline (a Job's ``activeDeadlineSeconds``, a Deployment's ``progressDeadlineSeconds``), so the
update fails on Kubernetes' verdict and reason, and never gives up on an object still within its deadline.
"""

from __future__ import annotations

import pulumi


def wait_up_to(seconds: int) -> pulumi.CustomTimeouts:
    """Create and update timeouts of ``seconds`` (what the engine awaits); deletion keeps the default."""
    return pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s")
