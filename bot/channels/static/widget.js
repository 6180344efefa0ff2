// Embeddable web chat: <script src="https://your-webcare/chat/assets/widget.js" defer></script>
"use strict";
(function () {
  const origin = new URL(document.currentScript.src).origin;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "💬";
  button.setAttribute("aria-label", "Chat");
  Object.assign(button.style, { position: "fixed", right: "20px", bottom: "20px", width: "56px", height: "56px",
    borderRadius: "28px", border: "0", background: "#1f4e79", color: "#fff", fontSize: "24px", cursor: "pointer", zIndex: 2147483646 });
  let frame = null;
  button.addEventListener("click", () => {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/chat";
      frame.title = "Chat";
      Object.assign(frame.style, { position: "fixed", right: "20px", bottom: "88px", width: "360px", height: "520px",
        border: "1px solid #ccd", borderRadius: "12px", background: "#fff", zIndex: 2147483647 });
      document.body.append(frame);
    } else {
      frame.hidden = !frame.hidden;
    }
  });
  document.body.append(button);
})();
