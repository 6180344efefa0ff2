"""Finding things for staff: full-text search and filtered, paginated lists of conversations and tickets.

SQLite searches FTS5 indexes (migration 4 keeps them current with triggers); PostgreSQL searches
tsvector columns, where a message is stemmed in its own language (Dutch or English) and a query
matches in either. Words are matched by prefix on SQLite and by stem on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
STATUSES = ("open", "waiting", "mine", "closed", "all")
_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_WORDS = 8
_PG_VECTORS = {  # as in migration 4's expression indexes
    "messages": "webcare_search({a}.text, webcare_language({a}.analysis))",
    "customers": "webcare_search({a}.display_name, NULL)",
    "tickets": "webcare_search(COALESCE({a}.reason, '') || ' ' || COALESCE({a}.summary, ''), NULL)",
    "mentions": "webcare_search({a}.text || ' ' || COALESCE({a}.author, '') || ' ' || COALESCE({a}.author_name, ''), "
                "{a}.language)",
}


@dataclass
class Filters:
    """What narrows a list or search: every field is optional."""

    status: str = "all"  # open (not closed) | waiting | mine | closed | all
    channel: str | None = None
    language: str | None = None
    assignee: str | None = None  # owner or assignee (a username or team:<name>)
    label: str | None = None  # a tag's name
    priority: str | None = None
    since: float | None = None
    until: float | None = None
    user: str | None = None  # who asks: the meaning of "mine"
    teams: list[str] = field(default_factory=list)  # the asking user's teams


def words(query: str) -> list[str]:
    """The words of a search query (punctuation and operators are not syntax for staff)."""
    return _WORD.findall(query.lower())[:_MAX_WORDS]


class Search:
    """Mixin of Store: search and lists for the console."""

    backend: Any
    _all: Callable[..., list[Row]]
    _insert: Callable[..., int]
    _update: Callable[..., None]
    clock: Callable[[], float]

    def _match(self, table: str, query: str, alias: str) -> tuple[str, list[Any]]:
        """A condition on `alias` (a row of `table`) that its text matches every word of `query`."""
        terms = words(query)
        if not terms:
            return "1 = 0", []
        if self.backend.dialect == "postgresql":
            text, prefixes = " ".join(terms), " & ".join(f"{t}:*" for t in terms)
            vector = _PG_VECTORS[table].format(a=alias)  # the expression its index was built on
            return ((f"{vector} @@ (plainto_tsquery('dutch', ?) || plainto_tsquery('english', ?) "
                    "|| to_tsquery('simple', ?))"), [text, text, prefixes])
        fts = " ".join(f'"{t}"*' for t in terms)
        return f"{alias}.id IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)", [fts]

    def _conversation_filters(self, f: Filters, alias: str = "c") -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if f.status == "open":
            where.append(f"{alias}.state <> 'closed'")
        elif f.status == "waiting":
            where.append(f"{alias}.state = 'waiting'")
        elif f.status == "closed":
            where.append(f"{alias}.state = 'closed'")
        elif f.status == "mine":
            mine = [f.user or "", *(f"team:{t}" for t in f.teams)]
            where.append(f"{alias}.state <> 'closed' AND ({alias}.owner = ? OR {alias}.assignee IN "
                         f"({', '.join('?' for _ in mine)}))")
            params += [f.user or "", *mine]
        for column, value in (("channel", f.channel), ("language", f.language)):
            if value:
                where.append(f"{alias}.{column} = ?")
                params.append(value)
        if f.assignee:
            where.append(f"({alias}.owner = ? OR {alias}.assignee = ?)")
            params += [f.assignee, f.assignee]
        if f.label:
            where.append(f"{alias}.id IN (SELECT ct.conversation_id FROM conversation_tags ct "
                         "JOIN tags g ON g.id = ct.tag_id WHERE g.name = ?)")
            params.append(f.label)
        if f.priority:
            where.append(f"{alias}.id IN (SELECT conversation_id FROM tickets WHERE priority = ? "
                         "AND conversation_id IS NOT NULL)")
            params.append(f.priority)
        if f.since is not None:
            where.append(f"{alias}.updated_at >= ?")
            params.append(f.since)
        if f.until is not None:
            where.append(f"{alias}.created_at < ?")
            params.append(f.until)
        return where, params

    def list_conversations(self, filters: Filters, limit: int = 25, offset: int = 0,
                           query: str = "") -> list[Row]:
        """Conversations with their customer and ticket, newest activity first; `query` searches their
        messages, their customer's name and their ticket."""
        where, params = self._conversation_filters(filters)
        if query.strip():
            in_messages, p1 = self._match("messages", query, "m")
            by_name, p2 = self._match("customers", query, "cu2")
            by_ticket, p3 = self._match("tickets", query, "t2")
            where.append(
                f"(c.id IN (SELECT m.conversation_id FROM messages m WHERE {in_messages}) "
                f"OR c.customer_id IN (SELECT cu2.id FROM customers cu2 WHERE {by_name}) "
                f"OR c.id IN (SELECT t2.conversation_id FROM tickets t2 WHERE {by_ticket} "
                "AND t2.conversation_id IS NOT NULL))"
            )
            params += p1 + p2 + p3
        page = (  # the page's ids first, so the columns below are fetched for its rows only
            f"SELECT c.id FROM conversations c WHERE {' AND '.join(where) or '1 = 1'} "
            "ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?"
        )
        sql = (
            "SELECT c.*, cu.display_name, t.id AS ticket_id, t.priority, t.status AS ticket_status, t.reason, "
            "t.csat, (SELECT text FROM messages lm WHERE lm.conversation_id = c.id AND lm.direction = 'in' "
            "ORDER BY lm.id DESC LIMIT 1) AS last_text "
            "FROM conversations c JOIN customers cu ON cu.id = c.customer_id "
            "LEFT JOIN tickets t ON t.conversation_id = c.id AND t.kind = 'escalation' "
            f"WHERE c.id IN ({page}) ORDER BY c.updated_at DESC, c.id DESC"
        )
        return self._all(sql, [*params, limit, offset])

    def search_messages(self, query: str, filters: Filters, limit: int = 25, offset: int = 0) -> list[Row]:
        """Messages whose text matches every word, newest first, with their conversation's customer."""
        match, params = self._match("messages", query, "m")
        where, more = self._conversation_filters(filters)
        return self._all(
            "SELECT m.id, m.conversation_id, m.direction, m.author, m.text, m.created_at, c.channel, c.state, "
            "c.customer_id, cu.display_name FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            f"JOIN customers cu ON cu.id = c.customer_id WHERE {' AND '.join([match, *where])} "
            "ORDER BY m.id DESC LIMIT ? OFFSET ?",
            [*params, *more, limit, offset],
        )

    def search_customers(self, query: str, limit: int = 25) -> list[Row]:
        """Customers by name, or by an identity's or a claim's value (exact), most recent first."""
        match, params = self._match("customers", query, "cu")
        value = query.strip()
        return self._all(
            "SELECT cu.* FROM customers cu WHERE cu.erased_at IS NULL AND "
            f"({match} OR cu.id IN (SELECT customer_id FROM identities WHERE external_id = ?) "
            "OR cu.id IN (SELECT c.customer_id FROM claims cl JOIN conversations c ON c.id = cl.conversation_id "
            "WHERE cl.value = ?)) ORDER BY cu.id DESC LIMIT ?",
            [*params, value, value, limit],
        )

    def search_tickets(self, query: str, limit: int = 25) -> list[Row]:
        match, params = self._match("tickets", query, "t")
        return self._all(f"SELECT t.* FROM tickets t WHERE {match} ORDER BY t.id DESC LIMIT ?",
                         [*params, limit])

    def search_mentions(self, query: str, label: str | None = None, limit: int = 25) -> list[Row]:
        match, params = self._match("mentions", query, "mn")
        where = [match]
        if label:
            where.append("mn.id IN (SELECT mt.mention_id FROM mention_tags mt JOIN tags g ON g.id = mt.tag_id "
                         "WHERE g.name = ?)")
            params.append(label)
        return self._all(
            f"SELECT mn.* FROM mentions mn WHERE {' AND '.join(where)} ORDER BY mn.id DESC LIMIT ?",
            [*params, limit],
        )

    def list_tickets(self, status: str | None = None, priority: str | None = None, limit: int = 25,
                     offset: int = 0, user: str | None = None) -> list[Row]:
        """Tickets (escalations and mentions) with their customer's name, newest first; status `mine` is
        `user`'s unresolved tickets."""
        where: list[str] = []
        params: list[Any] = []
        if status == "mine":
            where.append("t.status IN ('open', 'assigned') AND t.assignee = ?")
            params.append(user)
        elif status == "open":
            where.append("t.status IN ('open', 'assigned')")
        elif status:
            where.append("t.status = ?")
            params.append(status)
        if priority:
            where.append("t.priority = ?")
            params.append(priority)
        return self._all(
            "SELECT t.*, cu.display_name FROM tickets t LEFT JOIN customers cu ON cu.id = t.customer_id "
            f"WHERE {' AND '.join(where) or '1 = 1'} ORDER BY t.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    def list_customers(self, limit: int = 25, offset: int = 0) -> list[Row]:
        return self._all(
            "SELECT * FROM customers WHERE erased_at IS NULL ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset]
        )

    def channels(self) -> list[str]:
        """The channels conversations came in on (what a channel filter offers)."""
        return [r["channel"] for r in self._all("SELECT DISTINCT channel FROM conversations ORDER BY channel")]

    def customer_mentions(self, customer_id: int, limit: int = 50) -> list[Row]:
        return self._all("SELECT * FROM mentions WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
                         [customer_id, limit])

    def update_customer(self, customer_id: int, display_name: str | None, language: str | None) -> None:
        """Staff correct a customer's name and language."""
        self._update("customers", customer_id, {"display_name": display_name, "language": language})

    def save_view(self, username: str, name: str, query: dict[str, Any]) -> int:
        """Keep a user's search and filters under a name (saving a name again replaces it)."""
        self.backend.execute("DELETE FROM saved_views WHERE username = ? AND name = ?", [username, name])
        return self._insert("saved_views", {"username": username, "name": name,
                                            "query": json.dumps(query, ensure_ascii=False),
                                            "created_at": self.clock()})

    def saved_views(self, username: str) -> list[Row]:
        rows = self._all("SELECT * FROM saved_views WHERE username = ? ORDER BY name", [username])
        for row in rows:
            row["query"] = json.loads(row["query"])
        return rows

    def delete_view(self, username: str, view_id: int) -> None:
        self.backend.execute("DELETE FROM saved_views WHERE username = ? AND id = ?", [username, view_id])
