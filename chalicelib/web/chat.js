// The customer's web chat: start a session, write, see replies arrive (the page polls),
// and rate the current stage of the journey.
import { $, ApiError, api, clientId, clock, fill, h } from "./dom.js";

const POLL_MS = 2000;
const SESSION_KEY = "jetdesk.chat.session";

const state = {
  session: JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"),
  next: null,
  shown: [],      // messages from the server, oldest first
  pending: [],    // sent, not yet seen in the conversation: {clientId, text, failed}
  timer: null,
};

function expired(session) {
  return !session || new Date(session.expires_at).getTime() <= Date.now();
}

async function startChat(event) {
  event.preventDefault();
  $("#start-error").textContent = "";
  const name = $("#name").value.trim();
  const email = $("#email").value.trim();
  try {
    const session = await api("channels/chat/sessions", { method: "POST", body: { name, ...(email ? { email } : {}) } });
    state.session = { ...session, name };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
    open();
  } catch (error) {
    $("#start-error").textContent = error.status === 429
      ? "Too many chats from here just now; try again in a minute." : error.message;
  }
}

function open() {
  $("#start").hidden = true;
  $("#conversation").hidden = false;
  $("#leave").hidden = false;
  $("#conv-title").textContent = `Hello ${state.session.name || ""}`.trim();
  render();
  poll();
  $("#text").focus();
}

function leave() {
  clearTimeout(state.timer);
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(state, { session: null, next: null, shown: [], pending: [] });
  $("#conversation").hidden = true;
  $("#leave").hidden = true;
  $("#start").hidden = false;
  $("#name").focus();
}

async function poll() {
  clearTimeout(state.timer);
  if (!state.session) return;
  try {
    const path = "channels/chat/messages" + (state.next ? `?after=${encodeURIComponent(state.next)}` : "");
    const { items, next } = await api(path, { token: state.session.token });
    const fresh = items.filter((m) => !state.shown.some((s) => s.id === m.id));   // the newest come again
    if (fresh.length) {
      state.shown.push(...fresh);
      for (const item of fresh.filter((m) => m.from === "you")) {
        const at = state.pending.findIndex((p) => p.text === item.text);
        if (at !== -1) state.pending.splice(at, 1);
      }
      render();
    }
    state.next = next;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      leave();
      $("#start-error").textContent = "This chat has ended. Start a new one.";
      return;
    }
  }
  state.timer = setTimeout(poll, POLL_MS);
}

function bubble(m) {
  return h("li", { class: `msg ${m.from === "you" ? "inbound" : "outbound"}`, dataset: { from: m.from } },
    h("p", { class: "msg-meta" }, m.from === "you" ? "You" : "Support", " · ",
      h("time", { datetime: m.created_at }, clock(m.created_at))),
    h("p", { class: "msg-text" }, m.text));
}

function render() {
  fill($("#messages"),
    state.shown.map(bubble),
    state.pending.map((p) => h("li", { class: "msg inbound pending", dataset: { from: "you" } },
      h("p", { class: "msg-meta" }, p.failed ? "You · not sent" : "You · sending…"),
      h("p", { class: "msg-text" }, p.text))));
  const last = $("#messages").lastElementChild;
  if (last) last.scrollIntoView({ block: "nearest" });
  $("#typing-note").textContent = state.shown.some((m) => m.from === "support") || state.shown.length === 0
    ? "" : "Thanks. An agent will answer here.";
}

async function send(event) {
  event.preventDefault();
  const text = $("#text").value.trim();
  if (!text) return;
  $("#send-error").textContent = "";
  const item = { clientId: clientId(), text, failed: false };
  state.pending.push(item);
  $("#text").value = "";
  render();
  try {
    // the client id makes a resend of the same message a no-op on the server
    await api("channels/chat/messages", { method: "POST", token: state.session.token,
      body: { text, client_id: item.clientId } });
  } catch (error) {
    item.failed = true;
    $("#send-error").textContent = error.status === 429 ? "You are writing fast; wait a moment." : error.message;
    render();
  }
  poll();
}

async function rate(event) {
  event.preventDefault();
  const rating = document.querySelector("input[name=rating]:checked");
  if (!rating) return;
  const comment = $("#comment").value.trim();
  $("#rate-msg").textContent = "";
  try {
    await api("channels/chat/feedback", { method: "POST", token: state.session.token, body: {
      stage: $("#stage").value, rating: Number(rating.value), client_id: clientId(),
      ...(comment ? { comment } : {}),
    } });
    $("#rate-msg").textContent = "Thank you: your rating reached our team.";
    $("#comment").value = "";
  } catch (error) {
    $("#rate-msg").textContent = `Your rating did not go through: ${error.message}`;
  }
}

$("#start").addEventListener("submit", startChat);
$("#send").addEventListener("submit", send);
$("#rate").addEventListener("submit", rate);
$("#leave").addEventListener("click", leave);
$("#text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("#send").requestSubmit();
  }
});

if (expired(state.session)) {
  sessionStorage.removeItem(SESSION_KEY);
  state.session = null;
  $("#start").hidden = false;
} else {
  open();
}
