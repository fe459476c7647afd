// The station's web page. Everything shown comes from the HTTP API and is put into the page
// as text (textContent, never innerHTML): a card id or a vendor string from the wire is never
// markup. Live updates come as server-sent events (GET <base>/events).
"use strict";

const PLOT_SECONDS = 300;
const MAX_ROWS = 2000;
const FLEET_PAGE = 20;

const $ = (id) => document.getElementById(id);

// An element with text children (strings) and element children; attributes as properties.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const state = {
  base: "/api",
  source: null,
  connectors: new Map(), // id -> {node, samples: [[t, powerW, limitW]]}
  actions: new Map(), // uniqueId of a CALL -> its action (to name the answers)
  actionNames: new Set(),
  config: [],
  fleetOffset: 0,
};

function notice(text, ok) {
  const box = $("notice");
  box.textContent = text;
  box.className = ok ? "ok" : "bad";
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(state.base + path, init);
  } catch (err) {
    notice(`The station does not answer: ${err.message}`);
    throw err;
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    notice(data.error || `${method} ${path}: HTTP ${response.status}`);
    throw new Error(data.error);
  }
  return data;
}

// ---- the station's facts ------------------------------------------------------------------
function kw(watts) { return watts == null ? "–" : `${(watts / 1000).toFixed(1)} kW`; }
function kwh(wh) { return wh == null ? "–" : `${(wh / 1000).toFixed(3)} kWh`; }

function showStatus(s) {
  const facts = $("facts");
  if (!s.powered) {
    facts.replaceChildren(el("span", { className: "badge off" }, "no power"));
    for (const c of state.connectors.values()) c.node.classList.add("dim");
    return;
  }
  $("station-id").textContent = s.id;
  document.title = `${s.id} · ocpp-station`;
  const cp = s.chargePoint || {};
  facts.replaceChildren(
    el("span", { className: "badge " + (s.connected ? "on" : "off") },
      s.connected ? "connected" : "offline"),
    el("span", {}, `registration ${s.registration ?? "–"}`),
    el("span", {}, `${s.queuedMessages} queued`),
    el("span", {}, `security profile ${s.securityProfile ?? 0}`),
    el("span", { className: "muted vendor" }, `${cp.vendor ?? ""} ${cp.model ?? ""}`),
    el("span", { className: "muted" }, `firmware ${cp.firmware ?? "–"}`),
  );
  const now = Date.now() / 1000;
  for (const c of s.connectors) {
    if (c.id === 0) {
      facts.append(el("span", {}, `station ${c.status}`));
      continue;
    }
    showConnector(c, now);
  }
}

function connectorCard(id) {
  let entry = state.connectors.get(id);
  if (entry) return entry;
  const node = $("connector-template").content.firstElementChild.cloneNode(true);
  node.dataset.connector = id;
  node.querySelector(".name").textContent = `Connector ${id}`;
  for (const button of node.querySelectorAll("button[data-act]")) {
    button.addEventListener("click", () => connectorAction(id, button.dataset.act, node));
  }
  $("connectors").append(node);
  entry = { node, samples: [] };
  state.connectors.set(id, entry);
  return entry;
}

function showConnector(c, now) {
  const entry = connectorCard(c.id);
  const node = entry.node;
  node.classList.remove("dim");
  const put = (cls, text) => { node.querySelector(cls).textContent = text; };
  const status = node.querySelector(".status");
  status.textContent = c.status;
  status.className = `status badge s-${c.status}`;
  put(".error", c.errorCode && c.errorCode !== "NoError" ? c.errorCode : "");
  put(".power", kw(c.powerW));
  put(".energy", kwh(c.energyWh));
  put(".limit", c.limitW == null ? "none" : kw(c.limitW));
  put(".soc", c.socPercent == null ? "no EV" : `${c.socPercent.toFixed(1)} %`);
  put(".tx", c.transactionId ?? "–");
  put(".idtag", c.idTag ?? "–");
  const r = c.reservation;
  put(".reservation", r ? `#${r.reservationId} for ${r.idTag} until ${r.expiryDate}` : "–");
  entry.samples.push([now, c.powerW ?? 0, c.limitW ?? null]);
  while (entry.samples.length && entry.samples[0][0] < now - PLOT_SECONDS) entry.samples.shift();
  plot(node.querySelector("canvas"), entry.samples, now);
}

// Power (kW) over the last minutes; the limit in force dashed.
function plot(canvas, samples, now) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 34, bottom = 16;
  g.clearRect(0, 0, w, h);
  let top = 10;
  for (const [, p, l] of samples) top = Math.max(top, p / 1000, (l ?? 0) / 1000);
  top = Math.ceil(top / 10) * 10;
  const x = (t) => left + (w - left - 4) * (1 - (now - t) / PLOT_SECONDS);
  const y = (kwValue) => (h - bottom) - (h - bottom - 6) * (kwValue / top);
  g.strokeStyle = "#ccd"; g.fillStyle = "#667"; g.font = "10px sans-serif"; g.lineWidth = 1;
  for (const v of [0, top / 2, top]) {
    g.beginPath(); g.moveTo(left, y(v)); g.lineTo(w - 4, y(v)); g.stroke();
    g.fillText(`${v}`, 2, y(v) + 3);
  }
  g.fillText("kW", 2, h - 3);
  g.fillText(`last ${PLOT_SECONDS / 60} min`, w - 70, h - 3);
  const line = (index, color, dash) => {
    g.strokeStyle = color; g.lineWidth = 2; g.setLineDash(dash); g.beginPath();
    let started = false;
    for (const sample of samples) {
      if (sample[index] == null) { started = false; continue; }
      const px = x(sample[0]), py = y(sample[index] / 1000);
      if (started) g.lineTo(px, py); else g.moveTo(px, py);
      started = true;
    }
    g.stroke(); g.setLineDash([]);
  };
  line(2, "#c60", [4, 3]);
  line(1, "#07a", []);
}

// The minutes before the page opened (one station's API keeps them; a fleet's does not).
function showHistory(samples) {
  const earlier = new Map();
  for (const sample of samples) {
    for (const [id, [power, limit]] of Object.entries(sample.connectors)) {
      if (!earlier.has(id)) earlier.set(id, []);
      earlier.get(id).push([sample.time, power, limit]);
    }
  }
  const now = Date.now() / 1000;
  for (const [id, older] of earlier) {
    const entry = connectorCard(Number(id));
    const first = entry.samples.length ? entry.samples[0][0] : Infinity;
    entry.samples = older.filter((s) => s[0] < first).concat(entry.samples);
    plot(entry.node.querySelector("canvas"), entry.samples, now);
  }
}

async function connectorAction(id, act, node) {
  const p = `/connectors/${id}`;
  const routes = {
    plug: ["POST", `${p}/plug`], unplug: ["POST", `${p}/unplug`],
    suspend: ["POST", `${p}/ev/suspend`], resume: ["POST", `${p}/ev/resume`],
    stop: ["POST", `${p}/stop`], clear: ["DELETE", `${p}/fault`],
  };
  if (act === "card") return presentCard(id);
  if (act === "fault") {
    const code = node.querySelector(".fault-code").value;
    return call("POST", `${p}/fault`, { errorCode: code }).catch(() => {});
  }
  const [method, path] = routes[act];
  await call(method, path).catch(() => {});
}

const CARD_WORDS = {
  started: "started a session", stopped: "stopped the session", rejected: "was rejected",
  waitingForCable: "is accepted: plug in the cable", ended: "ended the waiting usage",
  refused: "was refused", ignored: "was ignored", noConnector: "has no connector to start on",
  pending: "is still being checked",
};

async function presentCard(connectorId) {
  const idTag = $("card").value;
  const body = connectorId === undefined ? { idTag } : { idTag, connectorId };
  $("card-result").textContent = "…";
  try {
    const answer = await call("POST", "/rfid", body);
    const card = answer.card || {};
    let text = `${idTag} ${CARD_WORDS[card.outcome] || card.outcome || "presented"}`;
    if (card.status) text += ` (${card.status})`;
    if (card.connectorId) text += ` on connector ${card.connectorId}`;
    if (card.reason) text += `: ${card.reason}`;
    $("card-result").textContent = text;
  } catch {
    $("card-result").textContent = "";
  }
}

// ---- the OCPP messages ----------------------------------------------------------------------
const KINDS = { 2: "CALL", 3: "RESULT", 4: "ERROR" };

function addFrame(m) {
  const frame = m.frame;
  const kind = KINDS[frame[0]] || "?";
  const uniqueId = String(frame[1]);
  let action = "";
  if (frame[0] === 2) {
    action = String(frame[2]);
    state.actions.set(`${m.direction}:${uniqueId}`, action);
  } else {
    const asker = m.direction === "in" ? "out" : "in";
    action = state.actions.get(`${asker}:${uniqueId}`) || "";
  }
  if (action && !state.actionNames.has(action)) {
    state.actionNames.add(action);
    const select = $("msg-action");
    const names = [...state.actionNames].sort();
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "all"),
      ...names.map((n) => el("option", { value: n }, n)));
    select.value = chosen;
  }
  const text = JSON.stringify(frame);
  const time = new Date(m.time * 1000).toISOString().slice(11, 23);
  const summary = el("summary", {},
    el("span", { className: "time" }, time),
    el("span", { className: "arrow" }, m.direction === "in" ? "⟵ in" : "out ⟶"),
    el("span", { className: `kind k-${kind}` }, kind),
    el("span", { className: "action" }, action),
    el("span", { className: "payload" }, text.length > 160 ? text.slice(0, 160) + "…" : text));
  const details = el("details", {}, summary, el("pre", {}, JSON.stringify(frame, null, 2)));
  const row = el("li", { className: m.direction }, details);
  row.dataset.direction = m.direction;
  row.dataset.action = action;
  row.dataset.text = text.toLowerCase();
  row.dataset.seq = m.seq;
  applyFilter(row);
  const list = $("messages");
  list.append(row);
  while (list.childElementCount > MAX_ROWS) list.firstElementChild.remove();
  if ($("msg-follow").checked) list.scrollTop = list.scrollHeight;
  $("msg-count").textContent = `${list.childElementCount} frames`;
}

function applyFilter(row) {
  const text = $("msg-filter").value.toLowerCase();
  const action = $("msg-action").value;
  const direction = $("msg-direction").value;
  row.hidden = (text && !row.dataset.text.includes(text)) ||
    (action && row.dataset.action !== action) ||
    (direction && row.dataset.direction !== direction);
}

function refilter() { for (const row of $("messages").children) applyFilter(row); }

// ---- the configuration ----------------------------------------------------------------------
function showConfig(entries) {
  state.config = entries;
  const body = $("config").tBodies[0];
  const find = $("cfg-filter").value.toLowerCase();
  const rows = [];
  for (const entry of entries) {
    if (find && !entry.key.toLowerCase().includes(find)) continue;
    const row = el("tr", {}, el("td", { className: "key" }, entry.key));
    row.dataset.key = entry.key;
    if (entry.readonly) {
      row.append(el("td", {}, entry.value ?? ""), el("td", { className: "muted" }, "read-only"));
    } else {
      const input = el("input", { value: entry.value ?? "", size: 36, name: entry.key });
      if (entry.value == null) input.placeholder = "(hidden)";
      const save = el("button", { type: "button" }, "save");
      const submit = () => changeKey(entry.key, input.value);
      save.addEventListener("click", submit);
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") submit(); });
      row.append(el("td", {}, input), el("td", {}, save));
    }
    rows.push(row);
  }
  body.replaceChildren(...rows);
}

async function changeKey(key, value) {
  try {
    const answer = await call("PUT", `/config/${encodeURIComponent(key)}`, { value });
    notice(`${answer.key} = ${answer.value ?? "(hidden)"}: ${answer.status}`, true);
    showConfig(await call("GET", "/config"));
  } catch { /* the notice says why */ }
}

// ---- live updates ---------------------------------------------------------------------------
function follow(base) {
  if (state.source) state.source.close();
  state.base = base;
  state.connectors.clear();
  state.actions.clear();
  $("connectors").replaceChildren();
  $("messages").replaceChildren();
  const source = new EventSource(`${base}/events`);
  source.addEventListener("status", (e) => showStatus(JSON.parse(e.data)));
  source.addEventListener("frame", (e) => addFrame(JSON.parse(e.data)));
  source.addEventListener("config", (e) => showConfig(JSON.parse(e.data)));
  source.addEventListener("history", (e) => showHistory(JSON.parse(e.data)));
  source.onerror = () => {
    $("facts").replaceChildren(el("span", { className: "badge off" }, "page not connected"));
  };
  state.source = source;
  $("station").hidden = false;
}

// ---- the fleet ------------------------------------------------------------------------------
async function showFleet() {
  const [totals, page] = await Promise.all([
    fetch("/api/fleet").then((r) => r.json()),
    fetch(`/api/stations?offset=${state.fleetOffset}&limit=${FLEET_PAGE}`).then((r) => r.json()),
  ]);
  const t = totals;
  $("fleet-totals").replaceChildren(...Object.entries(t)
    .filter(([, v]) => typeof v !== "object")
    .map(([k, v]) => el("span", {}, `${k} ${v}`)));
  // A fleet in shards: each shard's range, node and health; one that does not answer, why.
  const shards = t.shards || [];
  $("fleet-shards").hidden = shards.length === 0;
  $("fleet-shards").replaceChildren(...shards.map((s, i) => {
    const range = `${s.first}–${s.first + s.count - 1}`;
    const node = s.node ? ` on node ${s.node.slice(0, 8)}` : "";
    const text = s.ok
      ? `shard ${i + 1}: ${range}${node}, ${s.connected} connected`
      : `shard ${i + 1}: ${range}${node} does not answer: ${s.error}`;
    return el("span", { className: `badge ${s.ok ? "on" : "off"}` }, text);
  }));
  const link = (s) => {
    if (s.shardDown) return "shard down";
    return s.powered ? (s.connected ? "connected" : "offline") : "no power";
  };
  const rows = page.stations.map((s) => {
    const row = el("tr", { className: "pick", title: s.error || "" },
      el("td", {}, s.id),
      el("td", {}, link(s)),
      el("td", {}, s.registration ?? "–"),
      el("td", {}, (s.connectors || []).join(", ")),
      el("td", {}, s.sessions ?? 0),
      el("td", {}, s.queuedMessages ?? 0));
    row.dataset.station = s.id;
    row.addEventListener("click", () => pickStation(s.id));
    return row;
  });
  $("fleet-stations").tBodies[0].replaceChildren(...rows);
  const last = page.offset + page.stations.length;
  $("fleet-range").textContent = `${page.offset + 1}–${last} of ${page.total}`;
  $("fleet-prev").disabled = page.offset === 0;
  $("fleet-next").disabled = page.next == null;
}

async function pickStation(identity) {
  const base = `/api/stations/${encodeURIComponent(identity)}`;
  const answer = await fetch(`${base}/status`);
  if (answer.status === 404) {
    notice((await answer.json()).error);
    return;
  }
  for (const row of $("fleet-stations").tBodies[0].rows) {
    row.classList.toggle("picked", row.dataset.station === identity);
  }
  follow(base);
}

function startFleet() {
  $("fleet").hidden = false;
  $("fleet-prev").addEventListener("click", () => {
    state.fleetOffset = Math.max(0, state.fleetOffset - FLEET_PAGE); showFleet();
  });
  $("fleet-next").addEventListener("click", () => {
    state.fleetOffset += FLEET_PAGE; showFleet();
  });
  $("fleet-find").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.value) pickStation(e.target.value);
  });
  const source = new EventSource("/api/fleet/events");
  source.addEventListener("fleet", () => showFleet().catch(() => {}));
  showFleet().catch((err) => notice(`The fleet does not answer: ${err.message}`));
}

// ---- start ----------------------------------------------------------------------------------
function start() {
  $("card-reader").addEventListener("click", () => presentCard(undefined));
  $("link-drop").addEventListener("click", () => call("POST", "/link/drop").catch(() => {}));
  $("power-cut").addEventListener("click", () => {
    const off = Number($("off-seconds").value);
    call("POST", "/power-cut", { offSeconds: off }).catch(() => {});
  });
  for (const id of ["msg-filter", "msg-action", "msg-direction"]) {
    $(id).addEventListener("input", refilter);
  }
  $("cfg-filter").addEventListener("input", () => showConfig(state.config));
  if (document.body.dataset.mode === "fleet") startFleet();
  else follow("/api");
}

start();
