// siprecd web page: recordings search and player, live calls.
// All data goes into the DOM as text (textContent / text nodes), never as HTML.
"use strict";

const TOKEN_KEY = "siprecd.token";
const WAVE_POINTS = 600;
const WAVE_COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a"];
const CALLS_REFRESH_MS = 2000;

const $ = (id) => document.getElementById(id);

// el("td", {className: "num"}, "text", childNode...): strings become text nodes.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// ---- token -----------------------------------------------------------------

function initToken() {
  const url = new URL(window.location.href);
  const fromURL = url.searchParams.get("token");
  if (fromURL !== null) {
    localStorage.setItem(TOKEN_KEY, fromURL);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  $("token").value = token();
}

function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

// ---- API -------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token()) headers.set("Authorization", "Bearer " + token());
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) throw await problemError(response);
  return response;
}

async function getJSON(path) {
  return (await api(path)).json();
}

async function problemError(response) {
  let problem = null;
  try { problem = await response.json(); } catch (_) { /* not JSON */ }
  const message = (problem && (problem.detail || problem.title)) ||
    `${response.status} ${response.statusText}`.trim();
  const error = new Error(message);
  error.status = response.status;
  error.problem = problem;
  return error;
}

function showError(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// ---- formatting --------------------------------------------------------------

const pad = (n) => String(n).padStart(2, "0");

function formatTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

function aorUser(aor) {
  const match = /^(?:sips?:|tel:)?([^@;]+)/i.exec(aor || "");
  return match ? match[1] : (aor || "");
}

function participantLabel(p) {
  const user = aorUser(p.aor);
  const who = p.name ? `${p.name} (${user})` : user;
  return p.role ? `${who} – ${p.role}` : who;
}

const participantsText = (list) => (list || []).map(participantLabel).join(", ") || "–";

// ---- tabs --------------------------------------------------------------------

function selectTab(name) {
  for (const button of document.querySelectorAll(".tabs button")) {
    const selected = button.dataset.tab === name;
    button.setAttribute("aria-selected", String(selected));
    $("tab-" + button.dataset.tab).hidden = !selected;
  }
  if (name === "calls") loadCalls();
}

const callsTabVisible = () => !$("tab-calls").hidden;

// ---- recordings ----------------------------------------------------------------

let nextCursor = null;

function searchParams() {
  const form = new FormData($("search"));
  const params = new URLSearchParams({ limit: "50" });
  const participant = String(form.get("participant") || "").trim();
  if (participant) params.set("participant", participant);
  for (const key of ["from", "to"]) {
    const value = form.get(key);
    if (value) params.set(key, new Date(value).toISOString());
  }
  if (form.get("state")) params.set("state", form.get("state"));
  return params;
}

async function loadRecordings(append = false) {
  const params = searchParams();
  if (append && nextCursor) params.set("cursor", nextCursor);
  const body = $("recordings").tBodies[0];
  try {
    const page = await getJSON("/api/v1/recordings?" + params);
    if (!append) body.replaceChildren();
    body.querySelector("tr.empty")?.remove();
    for (const item of page.items) body.append(recordingRow(item));
    if (!body.rows.length) {
      body.append(el("tr", { className: "empty" }, el("td", { colSpan: 6 }, "No recordings match.")));
    }
    nextCursor = page.nextCursor || null;
    $("more").hidden = !nextCursor;
    document.body.dataset.state = "loaded";
  } catch (error) {
    document.body.dataset.state = "error";
    showError(error);
  }
}

function recordingRow(r) {
  const row = el("tr", { className: "recording", tabIndex: 0, dataset: { recordingId: r.id } },
    el("td", { title: r.startedAt }, formatTime(r.startedAt)),
    el("td", { className: "num" }, formatDuration(r.durationSeconds)),
    el("td", {}, participantsText(r.participants)),
    el("td", {}, r.source),
    el("td", { className: "state-" + r.state }, r.state),
    el("td", { className: "num" }, formatBytes(r.file ? r.file.bytes : null)));
  row.addEventListener("click", () => openPlayer(r.id));
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") openPlayer(r.id); });
  return row;
}

// ---- player ------------------------------------------------------------------

let playerSeq = 0;
let audioURL = null;
let waves = { seconds: 0, channels: [] };

function closePlayer() {
  playerSeq += 1;
  const audio = $("audio");
  audio.pause();
  audio.removeAttribute("src");
  if (audioURL) URL.revokeObjectURL(audioURL);
  audioURL = null;
  waves = { seconds: 0, channels: [] };
  $("waveforms").replaceChildren();
  $("detail").replaceChildren();
  const link = $("download");
  link.removeAttribute("href");
  link.setAttribute("aria-disabled", "true");
  $("player").hidden = true;
  delete document.body.dataset.player;
  for (const row of document.querySelectorAll("tr.recording.selected")) row.classList.remove("selected");
}

async function openPlayer(id) {
  closePlayer();
  clearError();
  const seq = playerSeq;
  const current = () => seq === playerSeq;
  $("player").hidden = false;
  $("player-title").textContent = id;
  for (const row of document.querySelectorAll("tr.recording")) {
    row.classList.toggle("selected", row.dataset.recordingId === id);
  }
  const base = "/api/v1/recordings/" + encodeURIComponent(id);

  const detail = getJSON(base).then((d) => { if (current()) renderDetail(d); });
  const audio = api(base + "/audio").then(async (response) => {
    const blob = await response.blob();
    if (!current()) return;
    audioURL = URL.createObjectURL(blob);
    $("audio").src = audioURL;
    const link = $("download");
    link.href = audioURL;
    link.download = attachmentName(response.headers.get("Content-Disposition")) || id + ".wav";
    link.removeAttribute("aria-disabled");
  });
  const waveform = getJSON(`${base}/waveform?points=${WAVE_POINTS}`)
    .then((w) => { if (current()) drawWaveforms(w); return true; });

  const results = await Promise.allSettled([detail, audio, waveform]);
  if (!current()) return;
  const failed = results.find((r) => r.status === "rejected");
  if (failed) showError(failed.reason);
  document.body.dataset.player = results[2].status === "fulfilled" ? "ready" : "error";
}

function attachmentName(header) {
  const match = /filename="?([^";]+)"?/i.exec(header || "");
  return match ? match[1] : null;
}

function drawWaveforms(waveform) {
  const box = $("waveforms");
  box.replaceChildren();
  waves = { seconds: waveform.seconds || 0, channels: [] };
  waveform.channels.forEach((channel, index) => {
    const canvas = el("canvas", {
      className: "waveform", width: 1200, height: 180,
      dataset: { channel: String(index), role: channel.role || "" },
    });
    canvas.setAttribute("aria-label", `Waveform of channel ${index}`);
    canvas.addEventListener("click", (event) => seek(event, canvas));
    const caption = el("figcaption", {}, `Channel ${index}: ${channel.role || "unknown role"}`);
    box.append(el("figure", { className: "channel" }, caption, canvas));
    waves.channels.push({ canvas, peaks: channel.peaks || [], color: WAVE_COLORS[index % WAVE_COLORS.length] });
  });
  renderWaves();
}

function renderWaves() {
  const audio = $("audio");
  const seconds = waves.seconds || audio.duration || 0;
  const progress = seconds > 0 ? Math.min(1, audio.currentTime / seconds) : 0;
  for (const { canvas, peaks, color } of waves.channels) {
    const ctx = canvas.getContext("2d");
    const { width, height } = canvas;
    const mid = height / 2;
    ctx.fillStyle = "#f3f6fa";
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = "#c9d2dd";
    ctx.fillRect(0, Math.floor(mid), width, 1);
    ctx.fillStyle = color;
    const step = width / Math.max(1, peaks.length);
    peaks.forEach(([min, max], i) => {
      const top = mid - Math.max(min, max) * mid * 0.95;
      const bottom = mid - Math.min(min, max) * mid * 0.95;
      ctx.fillRect(i * step, top, Math.max(1, step - 0.5), Math.max(1, bottom - top));
    });
    const x = Math.round(progress * width);
    ctx.fillStyle = "#d32f2f";
    ctx.fillRect(Math.min(x, width - 2), 0, 2, height);
  }
}

function seek(event, canvas) {
  const audio = $("audio");
  const seconds = waves.seconds || audio.duration;
  if (!seconds || !audio.src) return;
  const rect = canvas.getBoundingClientRect();
  audio.currentTime = ((event.clientX - rect.left) / rect.width) * seconds;
  renderWaves();
}

function animate() {
  renderWaves();
  if (!$("audio").paused) requestAnimationFrame(animate);
}

function renderDetail(d) {
  const record = d.record || {};
  const file = d.file;
  const rows = [
    ["Started", formatTime(d.startedAt)],
    ["Ended", formatTime(d.endedAt)],
    ["Duration", formatDuration(d.durationSeconds)],
    ["Source", `${d.source} (${d.state})`],
    ["Tenant", d.tenant],
    ["Call-IDs", (d.callIds || []).join(", ") || "–"],
    ["File", file ? `${file.format}, ${file.channels} ch, ${formatBytes(file.bytes)}, ${file.location}` : "none yet"],
  ];
  const dl = el("dl");
  for (const [term, value] of rows) dl.append(el("dt", {}, term), el("dd", {}, String(value ?? "–")));

  const people = el("ul");
  for (const p of d.participants || []) people.append(el("li", { title: p.aor || "" }, participantLabel(p)));

  const streams = el("table", { className: "list streams" },
    el("thead", {}, el("tr", {}, ...["Stream", "Codec", "SRTP", "State", "Packets", "Lost", "Late", "Jitter ms"]
      .map((h, i) => el("th", { className: i >= 4 ? "num" : "" }, h)))));
  const body = el("tbody");
  for (const s of record.streams || []) {
    const q = s.quality || {};
    const num = (v) => el("td", { className: "num" }, v === undefined || v === null ? "–" : String(v));
    body.append(el("tr", {},
      el("td", {}, s.label || s.id || "–"),
      el("td", {}, s.codec || "–"),
      el("td", {}, s.srtp ? (s.srtpSuite || "yes") : "no"),
      el("td", {}, s.state || "–"),
      num(q.packets), num(q.lost), num(q.late),
      num(typeof q.jitterMs === "number" ? q.jitterMs.toFixed(1) : null)));
  }
  streams.append(body);
  $("detail").replaceChildren(dl, el("h3", {}, "Participants"), people, el("h3", {}, "Streams"), streams);
}

// ---- live calls ------------------------------------------------------------------

let callsLoading = false;

async function loadCalls() {
  if (callsLoading) return;
  callsLoading = true;
  try {
    const page = await getJSON("/api/v1/calls");
    const body = $("calls").tBodies[0];
    body.replaceChildren(...page.items.map(callRow));
    if (!page.items.length) {
      body.append(el("tr", { className: "empty" }, el("td", { colSpan: 6 }, "No calls are being recorded.")));
    }
  } catch (error) {
    showError(error);
  } finally {
    callsLoading = false;
  }
}

// "1: PCMU 1234 pkts, 0 lost"; the counters are left out while the server has none for a stream.
function streamText(s) {
  const counters = [];
  if (typeof s.packets === "number") counters.push(`${s.packets} pkts`);
  if (typeof s.lost === "number") counters.push(`${s.lost} lost`);
  const head = `${s.label || s.id || "?"}: ${s.codec || "?"}`;
  return counters.length ? `${head} ${counters.join(", ")}` : head;
}

function callRow(call) {
  const streams = (call.streams || []).map(streamText).join("; ");
  const action = (name, enabled) => {
    const button = el("button", { type: "button", className: name, disabled: !enabled },
      name[0].toUpperCase() + name.slice(1));
    button.addEventListener("click", () => callAction(call.recordingId, name));
    return button;
  };
  return el("tr", { className: "call", dataset: { recordingId: call.recordingId } },
    el("td", { title: call.startedAt }, formatTime(call.startedAt)),
    el("td", {}, participantsText(call.participants)),
    el("td", {}, call.source),
    el("td", {}, streams || "–"),
    el("td", { className: call.paused ? "status-paused" : "status-recording" }, call.paused ? "paused" : "recording"),
    el("td", { className: "actions" }, action("pause", !call.paused), action("resume", call.paused), action("stop", true)));
}

async function callAction(id, name) {
  clearError();
  try {
    await api(`/api/v1/calls/${encodeURIComponent(id)}/${name}`, { method: "POST" });
  } catch (error) {
    showError(error);
  }
  await loadCalls();
}

// ---- start ---------------------------------------------------------------------

function start() {
  initToken();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token").value.trim());
    clearError();
    loadRecordings();
    if (callsTabVisible()) loadCalls();
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    loadRecordings();
  });
  $("more").addEventListener("click", () => loadRecordings(true));
  $("error").addEventListener("click", clearError);
  $("player-close").addEventListener("click", closePlayer);
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  const audio = $("audio");
  audio.addEventListener("play", () => requestAnimationFrame(animate));
  for (const type of ["timeupdate", "seeked", "pause", "ended"]) audio.addEventListener(type, renderWaves);
  setInterval(() => { if (callsTabVisible() && !document.hidden) loadCalls(); }, CALLS_REFRESH_MS);

  if (!token()) {
    showError("Enter an API token above.");
    $("token").focus();
    return;
  }
  const wanted = new URL(window.location.href).searchParams.get("recording");
  loadRecordings().then(() => { if (wanted) openPlayer(wanted); });
}

start();
