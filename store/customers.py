"""Customers, the identities their channels verified, the claims they typed, merge and split."""

from __future__ import annotations

from webcare.core.errors import NotFound, StoreError
from webcare.store.base import Base, Row

CLAIM_KINDS = ("email", "order_number", "phone")  # typed by a customer: claims, never identities


class Customers(Base):
    """Who is who: an identity (channel, external id) belongs to one customer; claims link nobody."""

    def identify(self, channel: str, external_id: str, display_name: str | None = None) -> Row:
        """The customer behind (channel, external id), created on first contact."""
        with self.transaction():
            found = self.customer_by_identity(channel, external_id)
            if found:
                return found
            now = self.clock()
            customer_id = self._insert("customers", {"display_name": display_name, "created_at": now})
            if not self.backend.query(
                "INSERT INTO identities (customer_id, channel, external_id, display_name, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, external_id) DO NOTHING RETURNING id",
                [customer_id, channel, external_id, display_name, now],
            ):  # another process created this customer meanwhile: use theirs
                self.backend.execute("DELETE FROM customers WHERE id = ?", [customer_id])
                return self.customer_by_identity(channel, external_id)  # type: ignore[return-value]
            self.log_event("customer_created", customer_id=customer_id, data={"channel": channel})
            return self.customer(customer_id)

    def customer(self, customer_id: int) -> Row:
        return self._get("customers", customer_id)

    def customer_by_identity(self, channel: str, external_id: str) -> Row | None:
        return self._one(
            "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id "
            "WHERE i.channel = ? AND i.external_id = ?",
            [channel, external_id],
        )

    def identities(self, customer_id: int) -> list[Row]:
        return self._all("SELECT * FROM identities WHERE customer_id = ? ORDER BY id", [customer_id])

    def attach_identity(self, customer_id: int, channel: str, external_id: str) -> None:
        """Give a customer another identity that its channel verified (a Telegram user, an X account).

        Never links two customers: an identity another customer holds is refused (staff merge
        by hand), and what a customer types about themselves is a claim (`add_claim`), not an identity.
        """
        if channel in CLAIM_KINDS:
            raise StoreError(f"a typed {channel} is a claim on a conversation (add_claim), not an identity")
        with self.transaction():
            if self.backend.query(
                "INSERT INTO identities (customer_id, channel, external_id, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id",
                [customer_id, channel, external_id, self.clock()],
            ):
                return
            holder = self.customer_by_identity(channel, external_id)
            if holder is not None and holder["id"] != customer_id:
                raise StoreError(f"{channel} identity belongs to customer #{holder['id']}; merge by hand if one person")

    # -- claims: what customers type about themselves ------------------------------------------

    def add_claim(self, conversation_id: int, kind: str, value: str) -> Row:
        """Record an order number, e-mail or phone a customer typed, unverified, on their conversation."""
        if kind not in CLAIM_KINDS:
            raise StoreError(f"unknown claim kind {kind!r}; use one of {', '.join(CLAIM_KINDS)}")
        with self.transaction():
            if self.backend.execute(
                "INSERT INTO claims (conversation_id, kind, value, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation_id, kind, value) DO NOTHING",
                [conversation_id, kind, value, self.clock()],
            ):
                self.refresh_story(conversation_id)
            return self._claim(conversation_id, kind, value)  # type: ignore[return-value]

    def _claim(self, conversation_id: int, kind: str, value: str) -> Row | None:
        return self._one(
            "SELECT * FROM claims WHERE conversation_id = ? AND kind = ? AND value = ?", [conversation_id, kind, value]
        )

    def claims(self, conversation_id: int | None = None, customer_id: int | None = None) -> list[Row]:
        """The claims made in one conversation, or in all of one customer's conversations, oldest first."""
        if conversation_id is not None:
            return self._all("SELECT * FROM claims WHERE conversation_id = ? ORDER BY id", [conversation_id])
        return self._all(
            "SELECT * FROM claims WHERE conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?) "
            "ORDER BY id",
            [customer_id],
        )

    def verify_claim(self, conversation_id: int, kind: str, value: str, proof: str) -> Row:
        """Mark a claim proven (by `proof`: e.g. 'postcode' or a staff user), adding it when new."""
        with self.transaction():
            claim = self.add_claim(conversation_id, kind, value)
            if claim["verified_at"] is None:
                self.backend.execute(
                    "UPDATE claims SET verified_at = ?, verified_by = ? WHERE id = ?", [self.clock(), proof, claim["id"]]
                )
                self.log_event("claim_verified", conversation_id=conversation_id, actor=proof, data={"kind": kind})
                self.refresh_story(conversation_id)
            return self._claim(conversation_id, kind, value)  # type: ignore[return-value]

    def claim_matches(self, conversation_id: int) -> list[Row]:
        """Other customers' conversations that claimed what this one claims: link suggestions for staff."""
        return self._all(
            "SELECT mine.kind, mine.value, other.conversation_id, c.customer_id, other.verified_at "
            "FROM claims mine JOIN claims other ON other.kind = mine.kind AND other.value = mine.value "
            "JOIN conversations c ON c.id = other.conversation_id "
            "WHERE mine.conversation_id = ? AND c.customer_id <> "
            "(SELECT customer_id FROM conversations WHERE id = ?) ORDER BY other.id",
            [conversation_id, conversation_id],
        )

    def customers_claiming(self, kind: str, value: str) -> list[Row]:
        """The customers whose conversations claimed this value (for staff looking someone up)."""
        return self._all(
            "SELECT * FROM customers WHERE id IN (SELECT c.customer_id FROM claims cl JOIN conversations c "
            "ON c.id = cl.conversation_id WHERE cl.kind = ? AND cl.value = ?) ORDER BY id",
            [kind, value],
        )

    # -- staff join and separate customers -----------------------------------------------------

    def merge_customers(self, keep_id: int, merge_id: int, actor: str | None = None) -> None:
        """Move everything of `merge_id` onto `keep_id` and delete `merge_id`, in one transaction."""
        if keep_id == merge_id:
            return
        with self.transaction():
            self.customer(keep_id)
            self.customer(merge_id)
            for table in ("identities", "conversations", "tickets", "mentions", "events"):
                self.backend.execute(
                    f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?", [keep_id, merge_id]
                )
            self.backend.execute("DELETE FROM customers WHERE id = ?", [merge_id])
            self.log_event("customers_merged", customer_id=keep_id, actor=actor, data={"merged": merge_id})
            self.refresh_stories(keep_id)

    def split_identity(self, identity_id: int, actor: str | None = None) -> int:
        """Detach one identity into a new customer of its own; return the new customer's id."""
        with self.transaction():
            identity = self._one("SELECT * FROM identities WHERE id = ?", [identity_id])
            if identity is None:
                raise NotFound(f"identity {identity_id} does not exist")
            new_id = self._insert(
                "customers", {"display_name": identity["display_name"], "created_at": self.clock()}
            )
            self.backend.execute("UPDATE identities SET customer_id = ? WHERE id = ?", [new_id, identity_id])
            self.backend.execute(
                "UPDATE conversations SET customer_id = ? WHERE customer_id = ? AND channel = ? AND chat_id = ?",
                [new_id, identity["customer_id"], identity["channel"], identity["external_id"]],
            )
            self.log_event("identity_split", customer_id=new_id, actor=actor, data={"identity": identity_id})
            self.refresh_stories(identity["customer_id"])
            self.refresh_stories(new_id)
            return new_id
