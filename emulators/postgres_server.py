"""A private PostgreSQL server for the tests: `initdb` in a temporary directory, on a free port.

The tests never touch the machine's own server: they create, stop, restart and delete their own.
As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SERVER_OPTIONS = {  # a throwaway server: durability is not worth the time it costs
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: $WEBCARE_TEST_PG_BINDIR, the PATH, or Debian's newest version."""
    if os.environ.get("WEBCARE_TEST_PG_BINDIR"):
        return Path(os.environ["WEBCARE_TEST_PG_BINDIR"])
    if found := shutil.which("initdb"):
        return Path(found).parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(debian[-1]).parent if debian else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateServer:
    """One PostgreSQL cluster owned by the test session; `url` names its empty database `test`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="webcare-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_owner, str(self.bindir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-800:] if tool == "pg_ctl" else ""
            raise RuntimeError(f"{tool} {args[0]} failed: {(done.stderr or done.stdout).strip()[-800:]}\n{log}")

    def create(self) -> PrivateServer:
        """initdb, start, and create the database `test`."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{k} = {v}\n" for k, v in {**SERVER_OPTIONS, "port": self.port,
                                                             "unix_socket_directories": f"'{self.root}'"}.items()))
        self.start()
        import psycopg

        with psycopg.connect(self.url.replace("/test", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")
        return self

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "120",
                  *args)

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Stop (ending every connection) and start again on the same port."""
        self._pg_ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        """Stop the server (if running) and delete its files."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_private_server() -> PrivateServer:
    """A running private server, or RuntimeError saying why there cannot be one here."""
    bindir = find_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        raise RuntimeError("PostgreSQL's initdb/pg_ctl not found: apt-get install postgresql "
                           "(or set WEBCARE_TEST_PG_BINDIR, or WEBCARE_TEST_POSTGRES to a server's URL)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        raise RuntimeError("running as root needs runuser to start PostgreSQL as the postgres user")
    server = PrivateServer(bindir)
    try:
        return server.create()
    except BaseException:
        server.destroy()
        raise
