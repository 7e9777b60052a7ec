// The agent console: queues, the queue in JET order with each ticket's banner, and the ticket.
// It polls the agent API, so a re-score moves rows without a reload.
import { $, ApiError, api, clock, dateTime, duration, fill, h, since, svg, words } from "./dom.js";

const REFRESH_MS = 2500;
const MOVE_SHOWN_MS = 8000;
const TOKEN_KEY = "jetdesk.console.token";
const QUEUE_KEY = "jetdesk.console.queue";
const LABELS = {
  time_pressure: "Time", disruption: "Disruption", mood: "Mood",
  effort: "Effort", value: "Value", care_needs: "Care",
};

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  queues: [],
  queue: sessionStorage.getItem(QUEUE_KEY),
  mine: false,            // the list shows the agent's own tickets instead of the queue
  rows: [],
  positions: new Map(),   // ticket id -> index at the previous refresh
  moves: new Map(),       // ticket id -> {by, until}
  ticketId: null,
  seen: {},               // last JSON rendered per region: unchanged data is not re-rendered
  timer: null,
  busy: false,
  again: false,           // an action asked for a refresh while one was running
};
let tips = 0;

// ---- sign-in ---------------------------------------------------------------

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

async function signIn(token) {
  $("#signin-error").textContent = "";
  try {
    await api("queues", { token });
  } catch (error) {
    $("#signin-error").textContent = error.status === 401 || error.status === 403
      ? "That token was refused." : `Could not reach JetDesk: ${error.message}`;
    return;
  }
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
}

function signOut() {
  clearTimeout(state.timer);
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.ticketId = null;
  state.seen = {};
  showSignIn();
}

async function showSignIn() {
  $("#desk").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  $("#signin").hidden = false;
  try {
    const agents = await api("local/agents");
    fill($("#agent-picker"), agents.items.map((agent) => h("li", {},
      h("button", { type: "button", dataset: { agent: agent.id }, onclick: () => pick(agent.id) },
        h("strong", {}, agent.name), ` ${agent.role} · ${agent.queues.join(", ")}`))));
    $("#local-agents").hidden = false;
  } catch {
    $("#local-agents").hidden = true;   // not the local stage: tokens come from the identity provider
  }
  $("#token-input").focus();
}

async function pick(agentId) {
  try {
    const { token } = await api(`local/agents/${encodeURIComponent(agentId)}/token`, { method: "POST" });
    await signIn(token);
  } catch (error) {
    $("#signin-error").textContent = error.message;
  }
}

function start() {
  const claims = claimsOf(state.token);
  state.me = claims["cognito:username"] || claims.sub;   // Cognito ID tokens name the agent there
  $("#signin").hidden = true;
  $("#desk").hidden = false;
  $("#sign-out").hidden = false;
  $("#who").textContent = `Signed in as ${state.me}${claims.role === "supervisor" ? " (supervisor)" : ""}`;
  refresh();
}

// ---- refresh loop ----------------------------------------------------------

async function refresh() {
  if (!state.token) return;
  if (state.busy) {
    state.again = true;
    return;
  }
  clearTimeout(state.timer);
  state.busy = true;
  try {
    await loadQueues();
    await Promise.all([loadRows(), state.ticketId ? loadTicket() : null]);
    $("#status").textContent = "";
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      state.busy = false;
      signOut();
      $("#signin-error").textContent = "Your session ended; sign in again.";
      return;
    }
    $("#status").textContent = `Refresh failed: ${error.message}`;
  } finally {
    state.busy = false;
  }
  const soon = state.again ? 0 : REFRESH_MS;
  state.again = false;
  state.timer = setTimeout(refresh, soon);
}

function changed(region, data) {
  const json = JSON.stringify(data);
  if (state.seen[region] === json) return false;
  state.seen[region] = json;
  return true;
}

// ---- queues ----------------------------------------------------------------

async function loadQueues() {
  const { items } = await api("queues", { token: state.token });
  state.queues = items;
  if (!items.some((q) => q.name === state.queue)) state.queue = items[0]?.name || null;
  $("#my-tickets").setAttribute("aria-current", state.mine ? "true" : "false");
  if (!changed("queues", [items, state.queue, state.mine])) return;
  fill($("#queues"), items.map((q) => h("li", {},
    h("button", {
      type: "button", class: "queue", dataset: { key: `queue:${q.name}`, queue: q.name },
      "aria-current": q.name === state.queue && !state.mine ? "true" : null, onclick: () => chooseQueue(q.name),
    },
    h("span", { class: "q-name" }, q.name),
    h("span", { class: "q-depth", title: "tickets waiting" }, `${q.depth}${q.depth_capped ? "+" : ""} waiting`),
    h("span", { class: "q-wait", title: "oldest wait" }, `oldest ${duration(q.oldest_wait_seconds)}`),
    h("span", { class: "q-top", title: "top JET score" }, q.top_score == null ? "top –" : `top ${q.top_score}`)))));
  fill($("#transfer-queue"), h("option", { value: "" }, "a queue…"),
    items.map((q) => h("option", { value: q.name }, q.name)));
}

function chooseQueue(name) {
  state.queue = name;
  state.mine = false;
  sessionStorage.setItem(QUEUE_KEY, name);
  state.positions = new Map();
  state.moves = new Map();
  state.seen.rows = state.seen.queues = undefined;
  refresh();
}

// ---- the queue in JET order ------------------------------------------------

function chooseMine() {
  state.mine = true;
  state.positions = new Map();
  state.moves = new Map();
  state.seen.rows = state.seen.queues = undefined;
  refresh();
}

// The tickets the agent holds, answered or not, newest first (GET /agents/me/tickets).
async function loadMine() {
  const { items } = await api("agents/me/tickets", { token: state.token });
  if (!state.mine) return;
  state.rows = items;
  $("#list-title").textContent = "My tickets";
  $("#rows-empty").textContent = "You hold no tickets.";
  $("#rows-empty").hidden = items.length > 0;
  if (!changed("rows", [items, "mine", state.ticketId])) return;
  fill($("#rows"), items.map((t, i) => row(t, i)));
}

async function loadRows() {
  if (state.mine) {
    await loadMine();
    return;
  }
  $("#rows-empty").textContent = "Nothing waits in this queue.";
  if (!state.queue) {
    fill($("#rows"));
    return;
  }
  const queue = state.queue;
  const { items } = await api(`queues/${encodeURIComponent(queue)}/tickets`, { token: state.token });
  if (queue !== state.queue) return;
  const now = Date.now();
  items.forEach((t, i) => {
    const before = state.positions.get(t.id);
    if (before !== undefined && before !== i) state.moves.set(t.id, { by: before - i, until: now + MOVE_SHOWN_MS });
  });
  state.positions = new Map(items.map((t, i) => [t.id, i]));
  for (const [id, move] of state.moves) if (move.until < now || !state.positions.has(id)) state.moves.delete(id);
  state.rows = items;
  $("#list-title").textContent = `Queue: ${queue}`;
  $("#rows-empty").hidden = items.length > 0;
  if (!changed("rows", [items, [...state.moves], state.ticketId])) return;
  fill($("#rows"), items.map((t, i) => row(t, i)));
}

function row(t, index) {
  const move = state.moves.get(t.id);
  return h("li", {
    class: `row tier-${t.jet?.tier || "none"}${move ? (move.by > 0 ? " moved-up" : " moved-down") : ""}`,
    dataset: { id: t.id, ref: t.ref }, "aria-current": t.id === state.ticketId ? "true" : null,
  },
  h("span", { class: "rank" }, `${index + 1}`),
  h("button", { type: "button", class: "open", dataset: { key: `row:${t.id}` }, onclick: () => openTicket(t.id) },
    h("span", { class: "ref" }, t.ref),
    h("span", { class: "subject" }, t.subject || words(t.intent) || "(no subject)"),
    h("span", { class: "meta" }, state.mine
      ? `${t.channel} · ${t.language || "?"} · ${t.status === "pending" ? "waiting on the customer" : "yours to answer"}`
      : `${t.channel} · ${t.language || "?"} · waiting ${since(t.created_at)}`)),
  move ? h("span", { class: "move", "aria-label": `moved ${move.by > 0 ? "up" : "down"} ${Math.abs(move.by)}` },
    `${move.by > 0 ? "▲" : "▼"}${Math.abs(move.by)}`) : null,
  banner(t.jet, { compact: true, key: t.id }));
}

// ---- the JET banner ----------------------------------------------------------

function banner(jet, { compact = false, key = "ticket" } = {}) {
  if (!jet || jet.score === undefined) return h("div", { class: "banner" }, "not scored yet");
  return h("div", { class: `banner${compact ? " compact" : ""}`, dataset: { score: jet.score, tier: jet.tier } },
    h("span", { class: `score tier-${jet.tier}`, title: `JET score ${jet.score} of 100` },
      h("span", { class: "score-value" }, `${jet.score}`), h("span", { class: "tier" }, jet.tier)),
    compact ? null : h("span", { class: "jet-parts" },
      `J ${fmt(jet.journey)} · E ${fmt(jet.experience)} · T ${fmt(jet.ticket)} · P ${fmt(jet.priority)}`),
    h("ul", { class: "chips", "aria-label": "JET indicators" }, (jet.indicators || []).map((i) => chip(i, key))));
}

function chip(indicator, key) {
  const id = `tip-${++tips}`;
  return h("li", {},
    h("span", {
      class: `chip level-${indicator.level}`, tabindex: "0", "aria-describedby": id,
      dataset: { key: `chip:${key}:${indicator.key}`, indicator: indicator.key, level: indicator.level },
    },
    h("span", { class: "chip-label" }, LABELS[indicator.key] || words(indicator.key)),
    h("span", { class: "chip-value" }, fmt(indicator.value)),
    h("span", { class: "tip", role: "tooltip", id }, `${words(indicator.key)}: ${indicator.reason}`)));
}

const fmt = (x) => (typeof x === "number" ? x.toFixed(2) : "–");

// ---- one ticket --------------------------------------------------------------

function openTicket(id) {
  state.ticketId = id;
  state.seen.ticket = state.seen.customer = undefined;
  $("#t-error").textContent = "";
  $("#ticket-empty").hidden = true;
  $("#ticket").hidden = false;
  refresh();
}

async function loadTicket() {
  const id = state.ticketId;
  const ticket = await api(`tickets/${encodeURIComponent(id)}`, { token: state.token });
  if (id !== state.ticketId) return;
  if (changed("ticket", ticket)) {
    renderTicket(ticket);
    await loadCanned(id);
  }
  const customer = await api(`customers/${encodeURIComponent(ticket.customer_id)}`, { token: state.token })
    .catch(() => null);
  if (id === state.ticketId && changed("customer", customer)) renderOtherTickets(customer, ticket);
}

function renderTicket(t) {
  const mine = t.assignee === state.me && t.status === "assigned";
  fill($("#t-head"),
    h("h2", { class: "t-title" }, h("span", { class: "ref" }, t.ref), " ", t.subject || words(t.intent) || ""),
    h("p", { class: "meta" },
      `${t.status} · ${t.channel} · queue ${t.queue} · ${t.assignee ? `assigned to ${t.assignee}` : "unassigned"}`,
      ` · language ${t.language || "?"} · opened ${dateTime(t.created_at)}`,
      t.sla_due_at && !t.first_response_at ? ` · first reply due ${clock(t.sla_due_at)}` : null,
      t.lease ? ` · to accept by ${clock(t.lease.expires_at)}` : null,
      t.jet?.breached ? " · SLA breached" : null));
  fill($("#t-banner"), banner(t.jet));
  fill($("#t-recs"), (t.jet?.recommendations || []).map((r) => h("li", {}, r)));
  $("#accept").disabled = !mine;
  $("#release").disabled = !t.assignee;
  $("#resolve").disabled = t.status === "resolved";
  fill($("#t-messages"), (t.messages || []).map(message));
  const last = $("#t-messages").lastElementChild;
  if (last) last.scrollIntoView({ block: "nearest" });
  renderCustomer(t.customer || {});
  renderHistory(t.history || []);
  fill($("#t-events"), (t.events || []).map((e) => h("li", {},
    h("time", { datetime: e.at }, clock(e.at)), ` ${e.actor} ${words(e.action)}`, e.via ? ` (${e.via})` : "")));
}

function message(m) {
  const who = m.direction === "inbound" ? "Customer" : m.author === "system" ? "JetDesk" : m.author || "agent";
  return h("li", { class: `msg ${m.direction}`, dataset: { id: m.id } },
    h("p", { class: "msg-meta" },
      h("span", { class: "msg-who" }, who), ` · ${m.channel} · `, h("time", { datetime: m.created_at }, clock(m.created_at)),
      m.direction === "outbound" ? ` · ${m.delivery_status}` : null,
      m.failure_reason ? ` (${m.failure_reason})` : null),
    h("p", { class: "msg-text" }, m.text || ""),
    (m.media || []).map((x) => h("p", { class: "msg-media" }, `media: ${x.content_type || x.url}`)));
}

// ---- canned responses, next to the reply box ------------------------------------

async function loadCanned(id) {
  const { items } = await api(`tickets/${encodeURIComponent(id)}/canned-responses`, { token: state.token });
  if (id !== state.ticketId || !changed("canned", [id, items])) return;
  $("#canned-empty").hidden = items.length > 0;
  fill($("#t-canned"), items.map((c) => h("li", { class: "canned-item", dataset: { canned: c.id, match: c.match } },
    h("p", { class: "canned-title" }, h("strong", {}, c.title), ` · ${c.language} · ${words(c.intent)}`),
    h("p", { class: "canned-text" }, c.text),
    c.missing.length ? h("p", { class: "note" }, `Fill in: ${c.missing.join(", ")}`) : null,
    h("p", { class: "canned-actions" },
      h("button", { type: "button", dataset: { key: `canned-edit:${c.id}` }, onclick: () => editCanned(c) },
        "Edit in reply"),
      " ",
      h("button", {
        type: "button", dataset: { key: `canned-send:${c.id}` }, disabled: c.missing.length > 0,
        onclick: () => act(ticketPath("replies"), { canned_response_id: c.id }),
      }, "Send as is")))));
}

function editCanned(c) {
  const box = $("#reply");
  box.value = c.text;     // a form value is text: nothing in it is parsed as markup
  box.focus();
}

function renderCustomer(c) {
  const profile = c.profile || {};
  const facts = [
    ["Name", c.name], ["Language", c.language], ["Contacts", (c.contacts || []).join(", ")],
    ["Loyalty", profile.loyalty_tier], ["Fare", words(profile.fare_class)],
    ["Special services", (profile.special_services || []).join(", ")],
    ["Ticket value", profile.ticket_value], ["Booking", profile.booking_ref],
    ["Ratings", (profile.ratings || []).map((r) => `${words(r.stage)} ${r.rating}/5`).join(", ")],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  fill($("#t-customer"), h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("div", { id: "t-other" }));
  const journey = c.journey || {};
  const segments = journey.segments || [];
  fill($("#t-journey"), segments.length === 0 ? h("p", { class: "note" }, "No journey known.") : [
    h("p", {}, `Booking ${journey.booking_ref || "?"}`),
    h("table", { class: "segments" },
      h("thead", {}, h("tr", {}, ["Flight", "Route", "Departs", "Status"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, segments.map((s) => h("tr", { class: `seg-${s.status}` },
        h("td", {}, s.flight), h("td", {}, `${s.origin || "?"} → ${s.destination || "?"}`),
        h("td", {}, dateTime(s.scheduled_departure)),
        h("td", {}, s.status, s.delay_minutes ? ` +${s.delay_minutes} min` : "",
          s.connection_at_risk ? " · connection at risk" : "",
          s.baggage_status ? ` · baggage ${s.baggage_status}` : ""))))),
  ]);
  state.seen.customer = undefined;   // the other-tickets list lives inside the customer block
}

function renderOtherTickets(customer, ticket) {
  const holder = $("#t-other");
  if (!holder) return;
  const others = (customer?.tickets || []).filter((t) => t.id !== ticket.id);
  fill(holder, others.length === 0 ? null : [h("h4", {}, "Other tickets"), h("ul", { class: "others" },
    others.map((t) => h("li", {}, h("button", {
      type: "button", class: "link", dataset: { key: `other:${t.id}` }, onclick: () => openTicket(t.id),
    }, `${t.ref} · ${t.status} · ${t.channel}`))))]);
}

function renderHistory(history) {
  const points = history.map((e) => e.score);
  const width = 220;
  const height = 44;
  const x = (i) => (points.length < 2 ? width / 2 : (i * (width - 8)) / (points.length - 1) + 4);
  const y = (s) => height - 4 - (s / 100) * (height - 8);
  fill($("#t-history"),
    points.length ? svg("svg", {
      class: "spark", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": `score over time: ${points.join(", ")}`,
    }, svg("polyline", { points: points.map((s, i) => `${x(i)},${y(s)}`).join(" ") }),
    points.map((s, i) => svg("circle", { cx: x(i), cy: y(s), r: 2.5 }))) : null,
    h("table", { class: "history" },
      h("thead", {}, h("tr", {}, ["At", "Cause", "Score", "Tier"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, history.slice().reverse().map((e) => h("tr", {},
        h("td", {}, clock(e.at)), h("td", {}, e.cause),
        h("td", {}, e.from == null ? `${e.score}` : `${e.from} → ${e.score}`), h("td", {}, e.tier))))));
}

// ---- actions -----------------------------------------------------------------

async function act(path, body) {
  $("#t-error").textContent = "";
  try {
    const answer = await api(path, { method: "POST", token: state.token, body });
    state.seen.ticket = undefined;
    await refresh();
    return answer;
  } catch (error) {
    $("#t-error").textContent = error.message;
    return null;
  }
}

async function claimNext() {
  if (!state.queue) return;
  $("#claim-msg").textContent = "";
  try {
    const ticket = await api(`queues/${encodeURIComponent(state.queue)}/claim`, { method: "POST", token: state.token });
    if (!ticket) {
      $("#claim-msg").textContent = `Nothing you can take in ${state.queue}.`;
      return;
    }
    $("#claim-msg").textContent = `Claimed ${ticket.ref}: reply or accept by ${clock(ticket.lease.expires_at)}.`;
    openTicket(ticket.id);
    $("#reply").focus();
  } catch (error) {
    $("#claim-msg").textContent = error.message;
  }
}

function ticketPath(action) {
  return `tickets/${encodeURIComponent(state.ticketId)}/${action}`;
}

async function sendReply(event) {
  event.preventDefault();
  const text = $("#reply").value.trim();
  if (!text || !state.ticketId) return;
  const button = $("#reply-form button");
  button.disabled = true;
  if (await act(ticketPath("replies"), { text })) $("#reply").value = "";
  button.disabled = false;
}

function transfer() {
  const queue = $("#transfer-queue").value;
  const agent = $("#transfer-agent").value.trim();
  if (!queue && !agent) {
    $("#t-error").textContent = "Choose a queue or type an agent id.";
    return;
  }
  act(ticketPath("transfer"), { ...(queue ? { queue } : {}), ...(agent ? { agent } : {}) });
}

function feedback(emotion) {
  const note = $("#feedback-note").value.trim();
  act(ticketPath("feedback"), { emotion, ...(note ? { note } : {}) }).then((t) => {
    if (t) $("#feedback-note").value = "";
  });
}

function step(by) {
  if (!state.rows.length) return;
  const at = state.rows.findIndex((t) => t.id === state.ticketId);
  const next = Math.max(0, Math.min(state.rows.length - 1, at === -1 ? 0 : at + by));
  const id = state.rows[next].id;
  openTicket(id);
  const button = document.querySelector(`#rows [data-id="${CSS.escape(id)}"] .open`);
  if (button) button.focus();
}

function shortcuts(event) {
  if (event.ctrlKey && event.key === "Enter" && event.target.id === "reply") {
    $("#reply-form").requestSubmit();
    return;
  }
  const typing = event.target.closest("input, textarea, select, [contenteditable]");
  if (typing || event.ctrlKey || event.metaKey || event.altKey || $("#desk").hidden) return;
  const keys = { c: claimNext, j: () => step(1), k: () => step(-1), r: () => $("#reply").focus() };
  if (keys[event.key]) {
    event.preventDefault();
    keys[event.key]();
  }
}

// ---- wiring -------------------------------------------------------------------

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("#token-input").value.trim().replace(/^Bearer\s+/i, ""));
});
$("#sign-out").addEventListener("click", signOut);
$("#claim").addEventListener("click", claimNext);
$("#my-tickets").addEventListener("click", chooseMine);
$("#reply-form").addEventListener("submit", sendReply);
$("#accept").addEventListener("click", () => act(ticketPath("accept")));
$("#release").addEventListener("click", () => act(ticketPath("release")));
$("#resolve").addEventListener("click", () => act(ticketPath("resolve")));
$("#transfer").addEventListener("click", transfer);
for (const button of document.querySelectorAll("[data-emotion]")) {
  button.addEventListener("click", () => feedback(button.dataset.emotion));
}
document.addEventListener("keydown", shortcuts);

if (state.token) start();
else showSignIn();
