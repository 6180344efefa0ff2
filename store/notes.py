"""Staff-only context on a case: internal notes, labels (admin-managed, with a colour), assignment, notifications.

Nothing here is ever sent to a customer: notes live in their own table, never in `messages`, so the
outbox cannot deliver them. Labels are stored as `tags` (the `labels` table holds NLU training labels).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from webcare.core.errors import NotFound, StoreError

Row = dict[str, Any]
MAX_NOTE = 4000
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class Notes:
    """Mixin of Store: notes, labels, assignment and staff notifications."""

    backend: Any
    _all: Callable[..., list[Row]]
    _one: Callable[..., Row | None]
    _insert: Callable[..., int]
    clock: Callable[[], float]
    conversation: Callable[..., Row]
    mention: Callable[..., Row]
    user: Callable[..., Row | None]
    log_event: Callable[..., Any]
    update_conversation: Callable[..., None]
    transaction: Callable[[], Any]

    # -- notes --

    def add_note(self, conversation_id: int, author: str, text: str) -> int:
        """An internal note on a conversation, for staff only."""
        text = text.strip()
        if not text or len(text) > MAX_NOTE:
            raise StoreError(f"a note needs 1 to {MAX_NOTE} characters")
        self.conversation(conversation_id)
        note_id = self._insert("notes", {"conversation_id": conversation_id, "author": author, "text": text,
                                         "created_at": self.clock()})
        self.log_event("note_added", conversation_id=conversation_id, actor=author)
        return note_id

    def notes(self, conversation_id: int | None = None, customer_id: int | None = None) -> list[Row]:
        """Notes of one conversation, or of all a customer's conversations, oldest first."""
        if customer_id is not None:
            return self._all("SELECT n.* FROM notes n JOIN conversations c ON c.id = n.conversation_id "
                             "WHERE c.customer_id = ? ORDER BY n.id", [customer_id])
        return self._all("SELECT * FROM notes WHERE conversation_id = ? ORDER BY id", [conversation_id])

    # -- labels --

    def add_tag(self, name: str, colour: str) -> int:
        """A label staff may put on conversations and mentions (admins keep the list)."""
        name = " ".join(name.split())
        if not name or len(name) > 40:
            raise StoreError("a label needs a name of 1 to 40 characters")
        if not _COLOUR.match(colour):
            raise StoreError("a label's colour is #rrggbb")
        if self._one("SELECT id FROM tags WHERE name = ?", [name]):
            raise StoreError(f"the label {name!r} exists already")
        return self._insert("tags", {"name": name, "colour": colour.lower(), "created_at": self.clock()})

    def tags(self) -> list[Row]:
        return self._all("SELECT * FROM tags ORDER BY name")

    def delete_tag(self, tag_id: int) -> None:
        with self.transaction():
            for table in ("conversation_tags", "mention_tags"):
                self.backend.execute(f"DELETE FROM {table} WHERE tag_id = ?", [tag_id])
            if self.backend.execute("DELETE FROM tags WHERE id = ?", [tag_id]) == 0:
                raise NotFound(f"label {tag_id} does not exist")

    def _tag_id(self, name: str) -> int:
        row = self._one("SELECT id FROM tags WHERE name = ?", [name])
        if row is None:
            raise StoreError(f"there is no label {name!r}; an admin adds labels")
        return int(row["id"])

    def tag_conversation(self, conversation_id: int, name: str, on: bool = True, actor: str | None = None) -> None:
        """Put a label on a conversation (`on`), or take it off."""
        self._tag("conversation_tags", "conversation_id", conversation_id, name, on)
        self.log_event("labelled" if on else "unlabelled", conversation_id=conversation_id, actor=actor,
                       data={"label": name})

    def tag_mention(self, mention_id: int, name: str, on: bool = True) -> None:
        self.mention(mention_id)
        self._tag("mention_tags", "mention_id", mention_id, name, on)

    def _tag(self, table: str, column: str, row_id: int, name: str, on: bool) -> None:
        tag_id = self._tag_id(name)
        if on:
            self.backend.execute(f"INSERT INTO {table} ({column}, tag_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                 [row_id, tag_id])
        else:
            self.backend.execute(f"DELETE FROM {table} WHERE {column} = ? AND tag_id = ?", [row_id, tag_id])

    def conversation_tags(self, conversation_ids: list[int]) -> dict[int, list[Row]]:
        """The labels of each of these conversations."""
        return self._tags_of("conversation_tags", "conversation_id", conversation_ids)

    def mention_tags(self, mention_ids: list[int]) -> dict[int, list[Row]]:
        return self._tags_of("mention_tags", "mention_id", mention_ids)

    def _tags_of(self, table: str, column: str, ids: list[int]) -> dict[int, list[Row]]:
        found: dict[int, list[Row]] = {i: [] for i in ids}
        if ids:
            rows = self._all(f"SELECT x.{column} AS owner_id, g.* FROM {table} x JOIN tags g ON g.id = x.tag_id "
                             f"WHERE x.{column} IN ({', '.join('?' for _ in ids)}) ORDER BY g.name", ids)
            for row in rows:
                found[int(row.pop("owner_id"))].append(row)
        return found

    def tag_counts(self) -> list[Row]:
        """Per label: how many conversations and mentions carry it (the dashboard's breakdown)."""
        return self._all(
            "SELECT g.id, g.name, g.colour, (SELECT COUNT(*) FROM conversation_tags ct WHERE ct.tag_id = g.id) AS conversations, "
            "(SELECT COUNT(*) FROM mention_tags mt WHERE mt.tag_id = g.id) AS mentions FROM tags g ORDER BY g.name"
        )

    # -- assignment --

    def assign(self, conversation_id: int, assignee: str, actor: str) -> list[str]:
        """Assign a conversation to a colleague (a username) or a team (`team:<name>`); return who was told.

        Each person assigned gets a console notification; the conversation shows under their "mine".
        """
        if assignee.startswith("team:"):
            people = [r["username"] for r in self._all(
                "SELECT username FROM users WHERE team = ? AND disabled = 0", [assignee.removeprefix("team:")])]
            if not people:
                raise StoreError(f"no one is in the team {assignee.removeprefix('team:')!r}")
        else:
            user = self.user(assignee)
            if user is None or user["disabled"]:
                raise StoreError(f"there is no colleague {assignee!r}")
            people = [assignee]
        with self.transaction():
            conversation = self.conversation(conversation_id)
            if conversation["state"] == "closed":
                raise StoreError(f"conversation {conversation_id} is closed")
            self.update_conversation(conversation_id, assignee=assignee)
            for person in people:
                if person != actor:
                    self._insert("notifications", {
                        "username": person, "kind": "assigned", "actor": actor,
                        "conversation_id": conversation_id, "created_at": self.clock()})
            self.log_event("assigned", conversation_id=conversation_id, actor=actor, data={"assignee": assignee})
        return [p for p in people if p != actor]

    def teams(self) -> list[str]:
        return [r["team"] for r in self._all("SELECT DISTINCT team FROM users WHERE team IS NOT NULL ORDER BY team")]

    def assignee_counts(self) -> list[Row]:
        """Open conversations per owner or assignee (the dashboard's breakdown)."""
        return self._all(
            "SELECT COALESCE(owner, assignee) AS who, COUNT(*) AS n FROM conversations "
            "WHERE state <> 'closed' AND COALESCE(owner, assignee) IS NOT NULL GROUP BY COALESCE(owner, assignee) "
            "ORDER BY n DESC, who"
        )

    # -- notifications --

    def notifications(self, username: str, unread_only: bool = True, limit: int = 20) -> list[Row]:
        where = "username = ?" + (" AND read_at IS NULL" if unread_only else "")
        return self._all(f"SELECT * FROM notifications WHERE {where} ORDER BY id DESC LIMIT ?", [username, limit])

    def read_notifications(self, username: str) -> int:
        return self.backend.execute("UPDATE notifications SET read_at = ? WHERE username = ? AND read_at IS NULL",
                                    [self.clock(), username])
