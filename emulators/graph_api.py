"""A WhatsApp Cloud API (Graph API) emulator: the calls webcare's WhatsApp channel makes, and webhook updates.

Speaks the real wire format: `POST /v<version>/<phone_number_id>/messages` with a JSON body and a
Bearer token, answering `{"messaging_product", "contacts", "messages": [{"id": "wamid…"}]}` or a
Graph API error `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`. It checks
what WhatsApp checks: the token (190), at most 3 reply buttons with titles of at most 20
characters, list rows of at most 24, and the customer-service window — a free-form message more
than 24 hours (of `now`) after the customer's last message is refused with 131047. `fail` scripts
errors (429 / 130429, 5xx). The update builders (`message_update`, `status_update`) return a body
and the `X-Hub-Signature-256` header Meta would send, signed with the app secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from emulators.server import Emulator, Reply, Request

TOKEN = "EAAG-test-token"
PHONE_NUMBER_ID = "1098765432"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
WINDOW_SECONDS = 24 * 3600


def graph_error(code: int, message: str, status: int = 400, subcode: int | None = None) -> tuple[int, dict]:
    """An HTTP status and the Graph API's error body."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return status, {"error": error}


def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """The headers Meta sends with a webhook POST."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def _update(value: dict[str, Any]) -> bytes:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "31201234567", "phone_number_id": PHONE_NUMBER_ID}} | value
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}]}).encode()


class GraphAPIEmulator(Emulator):
    """`with GraphAPIEmulator() as wa:` then point the channel's `base_url` at `wa.url`."""

    def __init__(self, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID) -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.sent: list[dict[str, Any]] = []  # accepted message bodies, with "id"
        self.read: list[str] = []  # wamids marked as read
        self.last_from: dict[str, float] = {}  # wa_id -> when the customer last wrote (emulator time)
        self.offset = 0.0  # added to the wall clock: move WhatsApp's time forward
        self._ids = itertools.count(1)

    def now(self) -> float:
        return time.time() + self.offset

    # -- what customers do -------------------------------------------------------------------------

    def message_update(self, wa_id: str, message: dict[str, Any], name: str = "Anna") -> tuple[bytes, dict]:
        """A customer's message (`{"type": "text", "text": {"body": "…"}}`, …) as a signed webhook body."""
        self.last_from[wa_id] = self.now()
        message = {"from": wa_id, "id": f"wamid.in{next(self._ids)}", "timestamp": str(int(self.now()))} | message
        body = _update({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]})
        return body, sign(body)

    def text_update(self, wa_id: str, text: str, name: str = "Anna") -> tuple[bytes, dict]:
        return self.message_update(wa_id, {"type": "text", "text": {"body": text}}, name)

    def status_update(self, wamid: str, status: str, wa_id: str, errors: list[dict] | None = None) -> tuple[bytes, dict]:
        """Meta's report on a message we sent: sent, delivered, read or failed."""
        entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(self.now())),
                                 "recipient_id": wa_id}
        if errors:
            entry["errors"] = errors
        body = _update({"statuses": [entry]})
        return body, sign(body)

    # -- scripted faults ---------------------------------------------------------------------------

    def fail(self, status: int, code: int, times: int = 1) -> None:
        """The next `times` sends get this Graph API error (429/130429, 500/1, …)."""
        status, body = graph_error(code, f"Injected error {code}", status)
        self.fail_next(status, times=times, path="/messages", body=body)

    def texts(self, wa_id: str) -> list[str]:
        """Bodies of what was sent to a customer: text, interactive body or the template's parameter."""
        shown = []
        for m in self.sent:
            if m.get("to") != wa_id:
                continue
            if m["type"] == "text":
                shown.append(m["text"]["body"])
            elif m["type"] == "interactive":
                shown.append(m["interactive"]["body"]["text"])
            elif m["type"] == "template":
                shown.append(m["template"]["components"][0]["parameters"][0]["text"])
        return shown

    # -- the Graph API -----------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(*graph_error(190, "Invalid OAuth access token.", 401))
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or not parts[0].startswith("v") or parts[2] != "messages" or request.method != "POST":
            return Reply(*graph_error(100, f"Unknown path components: {request.path}", 404))
        if parts[1] != self.phone_number_id:
            return Reply(*graph_error(100, "Unsupported post request: unknown phone number id"))
        body = request.json()
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return Reply(*graph_error(100, "The parameter messaging_product is required."))
        if body.get("status") == "read":
            self.read.append(body["message_id"])
            return Reply(200, {"success": True})
        problem = self._check(body)
        if problem is not None:
            return Reply(*problem)
        wamid = f"wamid.out{next(self._ids)}"
        self.sent.append(body | {"id": wamid})
        return Reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                           "messages": [{"id": wamid}]})

    def _check(self, body: dict[str, Any]) -> tuple[int, dict] | None:
        """What the Cloud API refuses: a closed window, too many buttons, too long titles."""
        kind, to = body.get("type"), body.get("to")
        if kind != "template" and self.now() - self.last_from.get(to, -1e12) > WINDOW_SECONDS:
            return graph_error(131047, "Re-engagement message", 400)
        if kind == "interactive":
            interactive = body["interactive"]
            if interactive["type"] == "button":
                buttons = interactive["action"]["buttons"]
                if len(buttons) > 3 or any(len(b["reply"]["title"]) > 20 for b in buttons):
                    return graph_error(131009, "Parameter value is not valid: buttons")
            elif interactive["type"] == "list":
                rows = [r for s in interactive["action"]["sections"] for r in s["rows"]]
                if len(rows) > 10 or any(len(r["title"]) > 24 for r in rows):
                    return graph_error(131009, "Parameter value is not valid: rows")
        if kind == "text" and len(body["text"]["body"]) > 4096:
            return graph_error(100, "Param text['body'] must be at most 4096 characters long.")
        return None
