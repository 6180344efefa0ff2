// The customer web chat: posts messages as JSON, receives everything through server-sent events.
// Every text is put in the page with textContent, never as HTML.
"use strict";
(function () {
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const dutch = (navigator.language || "").toLowerCase().startsWith("nl");
  const words = dutch
    ? { you: "Jij", bot: "Assistent", staff: "Medewerker", send: "Versturen", placeholder: "Typ je bericht…", offline: "verbinding verbroken, opnieuw…", title: "Klantenservice" }
    : { you: "You", bot: "Assistant", staff: "Staff", send: "Send", placeholder: "Type your message…", offline: "reconnecting…", title: "Customer care" };
  document.getElementById("send").textContent = words.send;
  input.placeholder = words.placeholder;
  document.querySelector("header strong").textContent = words.title;
  let last = 0;
  let counter = 0;

  function show(message) {
    if (message.id <= last) return;
    last = message.id;
    const item = document.createElement("li");
    item.className = message.from;
    item.dataset.id = message.id;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = message.from === "customer" ? words.you
      : message.from === "agent" ? (message.name || words.staff) + " · " + words.staff : words.bot;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = message.text;
    item.append(who, bubble);
    if (message.buttons && message.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of message.buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", () => {
          for (const other of row.querySelectorAll("button")) other.disabled = true;  // a choice is made once
          post(b.payload, "button");
        });
        row.append(button);
      }
      item.append(row);
    }
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }

  async function post(text, kind) {
    counter += 1;
    const body = JSON.stringify({ text: text, kind: kind, id: Date.now() + "-" + counter });
    // A busy store (503) or a dropped connection: send again with the same id, handled once.
    for (let attempt = 1; ; attempt++) {
      let response = null;
      try {
        response = await fetch("/chat/api/messages", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: body,
        });
      } catch (error) { response = null; }
      if (response && response.ok) return;
      // 401: the server did not know this chat session and has just issued a new one: follow the new
      // session's stream and send again.
      const renewed = response !== null && response.status === 401 && attempt === 1;
      if (renewed) listen();
      const retry = response === null || response.status === 503 || renewed;
      if (attempt >= 5 || !retry) {
        status.textContent = response ? (await response.json()).detail || response.statusText : words.offline;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    post(text, "text");
  });

  let source = null;
  function listen() {
    if (source) source.close();
    source = new EventSource("/chat/api/stream?after=" + last);
    source.onmessage = (event) => { status.textContent = ""; show(JSON.parse(event.data)); };
    source.onopen = () => { status.textContent = ""; };
    source.onerror = () => {
      status.textContent = words.offline;
      // A refused session (401) closes the stream for good; the refusal brought a new session: listen again.
      const closed = source;
      if (closed.readyState === EventSource.CLOSED) setTimeout(() => { if (source === closed) listen(); }, 1000);
    };
  }
  listen();
})();
