"""A private Dovecot IMAP server for the tests: its own config, mail and socket folders, on a free port.

Debian's `dovecot-imapd` provides the binary; the machine's own Dovecot (if any) is never touched.
Plain-text login over 127.0.0.1 only, one user from a password file, Maildir storage. As root its
processes run as the package's `dovecot` and `dovenull` users (Dovecot refuses to run them as root).
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "shop", "mailbox-secret"


@dataclass
class PrivateDovecot:
    root: Path
    port: int
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dovecot() -> PrivateDovecot:
    """Start a private server; raises RuntimeError (with the reason) when it cannot."""
    if not os.path.exists(DOVECOT):
        raise RuntimeError(f"{DOVECOT} is missing: apt-get install dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="webcare-dovecot-"))
    os.chmod(root, 0o755)
    port = _free_port()
    if os.getuid() == 0:  # Dovecot's processes refuse root: its package's users run them
        user, login_user = "dovecot", "dovenull"
        mail = pwd.getpwnam("dovecot")
        uid, gid = mail.pw_uid, mail.pw_gid
        os.chown(root, uid, gid)
    else:
        user = login_user = getpass.getuser()
        uid, gid = os.getuid(), os.getgid()
    group = grp.getgrgid(gid).gr_name
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""")
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {process.stderr.read().decode()[-500:] if process.stderr else ''}"
                               f" {log[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return PrivateDovecot(root, port, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("dovecot did not listen within 10 s")
