"""Staff users and their sessions (stored by the hash of their token, so they can be ended)."""

from __future__ import annotations

from typing import Any

from webcare.core.errors import NotFound, StoreError
from webcare.store.base import Base, Row


class Users(Base):
    """Staff accounts; a new password, disabling or removing a user ends their sessions."""

    def add_user(self, username: str, password_hash: str, role: str, display_name: str | None = None) -> int:
        if self.user(username) is not None:
            raise StoreError(f"user {username!r} already exists")
        return self._insert(
            "users",
            {
                "username": username,
                "password_hash": password_hash,
                "role": role,
                "display_name": display_name or username,
                "created_at": self.clock(),
            },
        )

    def user(self, username: str) -> Row | None:
        return self._one("SELECT * FROM users WHERE username = ?", [username])

    def users(self) -> list[Row]:
        return self._all("SELECT id, username, role, display_name, disabled, created_at FROM users ORDER BY id")

    def update_user(self, username: str, keep_sessions: bool = False, **fields: Any) -> None:
        """Change a staff user's password_hash, role, display_name or disabled flag.

        A new password or disabling the account ends the user's sessions, unless `keep_sessions`
        (a rehash of the same password at sign-in).
        """
        sets = ", ".join(f"{c} = ?" for c in fields)
        with self.transaction():
            if self.backend.execute(f"UPDATE users SET {sets} WHERE username = ?", [*fields.values(), username]) == 0:
                raise NotFound(f"user {username!r} does not exist")
            if not keep_sessions and ({"password_hash", "disabled"} & fields.keys()):
                self.end_sessions(username)

    def remove_user(self, username: str) -> None:
        """Remove a staff user and end their sessions (a new user of the same name starts with none)."""
        with self.transaction():
            self.end_sessions(username)
            if self.backend.execute("DELETE FROM users WHERE username = ?", [username]) == 0:
                raise NotFound(f"user {username!r} does not exist")

    def start_session(self, username: str, token_hash: str, max_age: float) -> None:
        """Record a signed-in session of a user; sessions older than `max_age` seconds are forgotten."""
        user = self.user(username)
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        now = self.clock()
        with self.transaction():
            self.backend.execute("DELETE FROM staff_sessions WHERE created_at < ?", [now - max_age])
            self._insert("staff_sessions", {"token_hash": token_hash, "user_id": user["id"], "created_at": now})

    def session_user(self, token_hash: str, max_age: float) -> Row | None:
        """The user of a live session (not ended, younger than `max_age` seconds), else None."""
        return self._one(
            "SELECT u.* FROM staff_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = ? AND s.created_at >= ?",
            [token_hash, self.clock() - max_age],
        )

    def end_session(self, token_hash: str) -> None:
        self.backend.execute("DELETE FROM staff_sessions WHERE token_hash = ?", [token_hash])

    def end_sessions(self, username: str) -> int:
        """End every session of a user (signed out everywhere); return how many ended."""
        return self.backend.execute(
            "DELETE FROM staff_sessions WHERE user_id IN (SELECT id FROM users WHERE username = ?)", [username]
        )
