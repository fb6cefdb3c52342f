// Switchboard's chat widget loader. A website embeds it with
//   <script src="https://SWITCHBOARD/chat/widget.js" data-widget="ID" async></script>
// It adds a "Chat with us" button that opens the chat in a frame served by
// Switchboard (which only the widget's allowed sites may frame).
(() => {
  const me = document.currentScript;
  if (!me || !me.dataset.widget) return;
  const base = new URL(me.src).origin;
  const label = me.dataset.label || "Chat with us";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.className = "switchboard-chat-button";
  Object.assign(button.style, {
    position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000", padding: "12px 18px",
    border: "0", borderRadius: "24px", background: "#1f4e8c", color: "#fff", font: "600 15px system-ui, sans-serif",
    cursor: "pointer", boxShadow: "0 2px 8px rgba(0,0,0,.25)",
  });
  const frame = document.createElement("iframe");
  frame.title = label;
  frame.className = "switchboard-chat-frame";
  Object.assign(frame.style, {
    position: "fixed", right: "20px", bottom: "76px", zIndex: "2147483000", width: "min(370px, calc(100vw - 40px))",
    height: "min(560px, calc(100vh - 100px))", border: "1px solid #c5ccd8", borderRadius: "10px", background: "#fff",
    boxShadow: "0 4px 16px rgba(0,0,0,.2)", display: "none",
  });
  let loaded = false;
  function show(open) {
    if (open && !loaded) { frame.src = `${base}/chat/w/${encodeURIComponent(me.dataset.widget)}`; loaded = true; }
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", String(open));
  }
  button.addEventListener("click", () => show(frame.style.display === "none"));
  window.addEventListener("message", (e) => {
    if (e.origin === base && e.data === "switchboard-chat:close") show(false);
  });
  document.body.append(frame, button);
})();
