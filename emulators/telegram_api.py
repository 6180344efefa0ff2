"""A Telegram Bot API emulator: the methods webcare's bot uses, updates injected by the tests.

Speaks the real wire format: `/bot<token>/<method>` with urlencoded, multipart, JSON or query
parameters (PTB sends urlencoded forms with `reply_markup`/`commands` as JSON strings), answers
`{"ok": true, "result": …}` or `{"ok": false, "error_code", "description", "parameters"}`.
`getUpdates` honours `offset`, `limit` and long polling (`timeout`); with a webhook set, updates are
POSTed to it with the secret token header instead, as Telegram does. Everything the bot sends is
recorded in `calls`; `served` keeps when each update was handed out (for latency benchmarks).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from emulators.server import Emulator, Reply, Request

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "webcare_test_bot"
_JSON_FIELDS = ("reply_markup", "commands", "allowed_updates", "entities", "reply_parameters", "scope")


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramEmulator(Emulator):
    """`with TelegramEmulator() as tg:` then point PTB at `tg.base_url` with token `tg.token`."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self.served: dict[int, float] = {}  # update_id -> when first handed to the bot
        self.webhook: dict[str, Any] = {}
        self.webhook_replies: list[int] = []  # HTTP status of each webhook delivery
        self.commands: dict[str, list[dict[str, str]]] = {}  # language_code ("" default) -> commands
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._chat_types: dict[int, str] = {}
        self.last_update_id = 0
        self._changed = threading.Condition()

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    # -- injecting what users do ---------------------------------------------------------------

    def inject(self, update: dict[str, Any]) -> int:
        """Queue a raw update (an `update_id` is added when missing); return its id."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        self.last_update_id = update["update_id"]
        if self.webhook.get("url"):
            threading.Thread(target=self._post_webhook, args=(update,), daemon=True).start()
        else:
            with self._changed:
                self.updates.append(update)
                self._changed.notify_all()
        return update["update_id"]

    def message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Anna",
        reply_to: dict[str, Any] | None = None,
        edited: bool = False,
        **payload: Any,
    ) -> dict[str, Any]:
        """A user's message (text, or any payload such as photo=[…], sticker={…}); injected, returned."""
        chat_id = chat_id if chat_id is not None else user_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat |= {"first_name": first_name} if chat_type == "private" else {"title": f"Group {chat_id}"}
        self._chat_types[chat_id] = chat_type
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "nl"},
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if edited:
            message["edit_date"] = int(time.time())
        message |= payload
        self.inject({"edited_message" if edited else "message": message})
        return message

    def press(self, user_id: int, message: dict[str, Any], data: str, first_name: str = "Anna") -> str:
        """A button press on a message the bot sent; returns the callback query id."""
        query_id = f"cq{next(self._update_ids)}"
        self.inject({"callback_query": {
            "id": query_id,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "chat_instance": "ci",
            "message": message,
            "data": data,
        }})
        return query_id

    def fail(self, method: str, error_code: int, retry_after: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` get a Bot API error (429 with `retry_after`, 5xx, …)."""
        body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": f"Injected error {error_code}"}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
            body["description"] = f"Too Many Requests: retry after {retry_after}"
        self.fail_next(error_code, times=times, path=f"/{method}", body=body)

    # -- what the bot did ----------------------------------------------------------------------

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict[str, Any]]:
        return [
            c.params for c in list(self.calls)
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [p["text"] for p in self.sent("sendMessage", chat_id)]

    def wait_for(self, method: str, count: int = 1, chat_id: int | None = None, timeout: float = 10.0) -> list[dict]:
        """Wait until the bot made at least `count` such calls; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.sent(method, chat_id)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} to {chat_id}: {len(found)} calls after {timeout}s, wanted {count}")
            time.sleep(0.01)

    def as_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """The Message the bot's sendMessage produced (for pressing its buttons or replying to it)."""
        return params["_result"]

    def _serve(self, handler: Any) -> None:
        # As Telegram's front ends do: without TCP_NODELAY the response's header and body writes meet
        # the client's delayed ACK and every answer arrives ~40 ms late on loopback.
        handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot hung up (it was stopped)
            super()._serve(handler)

    # -- the Bot API -----------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        prefix = f"/bot{self.token}/"
        if not request.path.startswith(prefix):
            return self._error(401 if request.path.startswith("/bot") else 404,
                               "Unauthorized" if request.path.startswith("/bot") else "Not Found")
        method = request.path.removeprefix(prefix)
        params = _params(request)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        call = Call(method, params)
        if method != "getUpdates":
            self.calls.append(call)
        try:
            result = handler(params)
        except KeyError as e:
            return self._error(400, f"Bad Request: {e.args[0]} is required")
        if isinstance(result, Reply):
            return result
        params["_result"] = result
        return Reply(200, {"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str) -> Reply:
        return Reply(code, {"ok": False, "error_code": code, "description": description})

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Webcare", "username": BOT_USERNAME}

    def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user() | {"can_join_groups": True, "can_read_all_group_messages": False,
                                   "supports_inline_queries": False}

    def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            while True:
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                batch = self.updates[:limit]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    break
                self._changed.wait(remaining)
        now = time.perf_counter()
        for update in batch:
            self.served.setdefault(update["update_id"], now)
        return batch

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        with self._changed:  # updates waiting for getUpdates go to the webhook now
            waiting, self.updates = self.updates, []
        for update in waiting:
            self.inject(update)
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            with self._changed:
                self.updates = []
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands[params.get("language_code", "")] = params["commands"]
        return True

    def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        params["action"]
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        params["callback_query_id"]
        return True

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        text = params["text"]
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if _utf16_len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        if params.get("parse_mode") and not _well_formed(text, params["parse_mode"]):
            return self._error(400, "Bad Request: can't parse entities")
        return self._message(params["chat_id"], text, params.get("reply_markup"))

    def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        return self._message(params["chat_id"], params["text"], params.get("reply_markup"), params["message_id"])

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._message(params["chat_id"], "", params.get("reply_markup"), params["message_id"])

    def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"file_id": params["file_id"], "file_unique_id": "u" + params["file_id"], "file_size": 3,
                "file_path": f"files/{params['file_id']}"}

    def _message(self, chat_id: Any, text: str, markup: Any, message_id: Any = None) -> dict[str, Any]:
        chat_id = int(chat_id)
        result: dict[str, Any] = {
            "message_id": int(message_id) if message_id is not None else next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": self._chat_types.get(chat_id, "private" if chat_id > 0 else "group")},
            "from": self._bot_user(),
            "text": text,
        }
        if markup:
            result["reply_markup"] = markup
        return result

    def _post_webhook(self, update: dict[str, Any]) -> None:
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        self.served.setdefault(update["update_id"], time.perf_counter())
        response = httpx.post(self.webhook["url"], json=update, headers=headers, timeout=10)
        self.webhook_replies.append(response.status_code)


def _params(request: Request) -> dict[str, Any]:
    """Parameters from the query, an urlencoded or JSON body; JSON-valued fields decoded."""
    params: dict[str, Any] = dict(request.query)
    kind = request.headers.get("content-type", "")
    if request.body and "json" in kind:
        params |= request.json()
    elif request.body and "multipart" in kind:
        params |= _multipart(request.body, kind)
    elif request.body:
        params |= {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
    for name in _JSON_FIELDS:
        if isinstance(params.get(name), str):
            params[name] = json.loads(params[name])
    if "chat_id" in params and str(params["chat_id"]).lstrip("-").isdigit():
        params["chat_id"] = int(params["chat_id"])
    return params


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    boundary = content_type.split("boundary=")[-1].strip('"').encode()
    fields: dict[str, str] = {}
    for part in body.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        if b'name="' in head:
            name = head.split(b'name="')[1].split(b'"')[0].decode()
            fields[name] = value.rstrip(b"\r\n").decode(errors="replace")
    return fields


def _well_formed(text: str, parse_mode: str) -> bool:
    """A rough check of what makes Telegram answer "can't parse entities"."""
    if parse_mode.upper() == "HTML":
        stripped = text
        for tag in ("b", "i", "u", "s", "code", "pre", "a"):
            stripped = stripped.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
        return "<" not in stripped and ">" not in stripped
    return text.count("*") % 2 == 0 and text.count("_") % 2 == 0
