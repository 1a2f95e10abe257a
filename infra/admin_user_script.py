"""The script the admin-user Job runs in the active colour's image: create or update the FAB admin user.

Passed to ``python -c`` as source text (see :func:`source`); it needs Airflow with the FAB provider. Settings
come from the environment, never the command line (which any process on the node can read):

``ADMIN_USERNAME``, ``ADMIN_EMAIL``, ``ADMIN_FIRST_NAME``, ``ADMIN_LAST_NAME``  the user
``ADMIN_PASSWORD``  from the ``adminPassword`` secret (a ``secretKeyRef``)

Idempotent: a missing user is created with the ``Admin`` role; an existing one gets the configured password
(so rotating the secret takes effect) and the ``Admin`` role if it lost it. Users live in the shared metadata
database, so the login is the same on every API server replica and in both colours.

Exit codes: 0 done, 1 failed (the reason on standard error).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ROLE = "Admin"


def source() -> str:
    """This file's text, for ``python -c`` in a Job's container."""
    return Path(__file__).read_text(encoding="utf-8")


def ensure_admin(env: Mapping[str, str]) -> str:
    """Create or update the admin user; return what was done."""
    try:
        from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    except ImportError as error:
        raise SystemExit(
            f"the image has no FAB auth manager (apache-airflow-providers-fab): {error}; "
            "install the provider in the image or set auth.manager"
        ) from None
    username = env["ADMIN_USERNAME"]
    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        role = security.find_role(ROLE)
        if role is None:
            raise SystemExit(f"FAB has no {ROLE!r} role; did `airflow db migrate` run with the FAB auth manager?")
        user = security.find_user(username=username)
        if user is None:
            created = security.add_user(
                username,
                env["ADMIN_FIRST_NAME"],
                env["ADMIN_LAST_NAME"],
                env["ADMIN_EMAIL"],
                role,
                env["ADMIN_PASSWORD"],
            )
            if not created:
                raise SystemExit(f"FAB refused to create the user {username!r} (is the email used by another user?)")
            return f"created admin user {username!r}"
        security.reset_password(user.id, env["ADMIN_PASSWORD"])
        if role not in user.roles:
            user.roles.append(role)
            security.update_user(user)
        return f"admin user {username!r} exists: password and {ROLE} role applied"


def main(env: Mapping[str, str] = os.environ) -> int:
    """Run and report."""
    try:
        print(ensure_admin(env), flush=True)
    except SystemExit as failure:
        print(f"admin user: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
