// roomnote review page: live list (server-sent events) and the note actions (fetch).
// No inline script anywhere (Content-Security-Policy: script-src 'self'); text is set with
// textContent, never parsed as HTML, except the server-rendered (escaped) note body.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

function say(text, kind) {
  const el = document.getElementById("action-status");
  if (!el) return;
  el.textContent = text;
  el.className = "action-status" + (kind ? " " + kind : "");
}

async function post(url, body) {
  const r = await fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  let data = {};
  try { data = await r.json(); } catch (e) { data = {state: "error", message: "Unexpected answer (" + r.status + ")"}; }
  if (!r.ok && !data.state) data.state = "error";
  return data;
}

// ---- the list --------------------------------------------------------------------------

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

function badge(text, cls) {
  const b = document.createElement("span");
  b.className = "badge " + cls;
  b.textContent = text;
  return b;
}

function rowFor(r) {
  const tr = document.createElement("tr");
  tr.dataset.noteId = r.note_id;
  tr.dataset.started = r.started_at;
  const first = document.createElement("td");
  const a = document.createElement("a");
  a.href = "/notes/" + r.note_id;
  const d = document.createElement("span"); d.className = "date"; d.textContent = r.date;
  const t = document.createElement("span"); t.className = "time"; t.textContent = r.time;
  a.append(d, " ", t);
  first.className = "session";
  first.append(a);
  if (r.risk) first.append(" ", badge("Risk flagged", "risk"));
  if (r.label || r.theme) {
    const about = document.createElement("span");
    about.className = "about";
    if (r.label) { const l = document.createElement("span"); l.className = "label-text"; l.textContent = r.label; about.append(l); }
    if (r.theme) { const th = document.createElement("span"); th.className = "theme"; th.textContent = r.theme; about.append(th); }
    first.append(about);
  }
  const ver = cell("v" + r.version);
  if (r.edited) ver.append(" ", badge("your edit", "edited"));
  const st = document.createElement("td");
  st.append(badge(r.status_text, "status-" + r.status));
  const cells = [cell(r.duration), cell(r.office), cell(r.device), cell(r.format_title), ver, st];
  ["Length", "Office", "Device", "Format", "Version", "Status"].forEach((n, i) => { cells[i].dataset.col = n; });
  tr.append(first, ...cells);
  return tr;
}

function upsertRow(r) {
  const body = document.getElementById("note-rows");
  if (!body) return;
  const tr = rowFor(r);
  const old = body.querySelector('tr[data-note-id="' + r.note_id + '"]');
  if (old) { old.replaceWith(tr); return; }
  tr.classList.add("arrived");
  const later = Array.from(body.rows).find(x => x.dataset.started < r.started_at);
  body.insertBefore(tr, later || null);
  document.getElementById("empty").hidden = true;
}

// ---- one note --------------------------------------------------------------------------

function noteBody() { return document.getElementById("note-body"); }

async function refreshNote(message) {
  const box = noteBody();
  const r = await fetch("/notes/" + box.dataset.noteId + "/body", {credentials: "same-origin"});
  if (!r.ok) return;
  const html = await r.text();
  const focusId = document.activeElement && document.activeElement.id;
  // read after the fetch: a refresh that finished meanwhile may have said something newer
  const status = document.getElementById("action-status");
  const kept = status ? {text: status.textContent, kind: status.className.replace("action-status", "").trim()} : null;
  box.innerHTML = html;  // server-rendered, autoescaped
  if (!message && kept && kept.text) message = kept;  // a refresh for another reason keeps what was said
  const art = document.getElementById("note");
  box.dataset.version = art.dataset.version;
  box.dataset.latest = art.dataset.latest;
  box.dataset.status = art.dataset.status;
  if (focusId && document.getElementById(focusId)) document.getElementById(focusId).focus();
  if (message) say(message.text, message.kind);
}

function busy(on) {
  document.querySelectorAll("#note-body button, #note-body textarea").forEach(el => {
    if (on) { el.dataset.wasDisabled = el.disabled ? "1" : ""; el.disabled = true; }
    else { el.disabled = el.dataset.wasDisabled === "1"; }
  });
  const box = noteBody();
  if (box) box.setAttribute("aria-busy", on ? "true" : "false");
}

async function act(url, body, waiting) {
  busy(true);
  say(waiting, "pending");
  let res;
  try { res = await post(url, body); }
  catch (e) { res = {state: "error", message: "The review page did not answer; is it still running?"}; }
  busy(false);
  return res;
}

const KIND = {revised: "ok", verified: "ok", saved: "ok", refused: "refused", pending: "pending",
              no_answer: "warn", no_receipt: "warn", no_key: "warn", failed: "bad", error: "bad"};

async function onFormat(btn) {
  const id = noteBody().dataset.noteId;
  const res = await act("/notes/" + id + "/format", {format: btn.dataset.format},
                        "Asking the box to rewrite the note as " + btn.textContent.trim() + "…");
  if (res.state === "revised") await refreshNote({text: res.message, kind: "ok"});
  else say(res.message, KIND[res.state]);
}

async function onRevise(form) {
  const id = noteBody().dataset.noteId;
  const text = form.querySelector("textarea").value.trim();
  if (!text) { say("Write what the box should change first.", "warn"); form.querySelector("textarea").focus(); return; }
  const res = await act("/notes/" + id + "/revise", {instruction: text}, "Sent to the box; waiting for the new version…");
  if (res.state === "revised") await refreshNote({text: res.message + " Changes are highlighted.", kind: "ok"});
  else say(res.message, KIND[res.state]);
}

async function onFinalize() {
  const id = noteBody().dataset.noteId;
  if (!window.confirm("Finalise this note? The box destroys the session's transcript; no more revisions are possible.")) return;
  // the request returns at once; the box's answer and its receipt come on the live stream
  const res = await act("/notes/" + id + "/finalize", {}, "Finalising: sending to the box…");
  say(res.message, KIND[res.state]);
  if (res.state === "pending") {
    finalisingHere = id;  // the finalize events will say how it went
    const btn = document.getElementById("finalize");
    if (btn) btn.disabled = true;
  }
}

let finalisingHere = null;

function onFinalizeProgress(d) {
  const box = noteBody();
  if (!box || box.dataset.noteId !== d.note_id) return;
  if (d.state !== "pending") finalisingHere = null;
  if (d.state === "verified") {
    refreshNote({text: "Finalised. The box destroyed the session's transcript; its signed receipt is below.", kind: "ok"});
  } else if (d.state === "failed" || d.state === "no_key") {
    refreshNote({text: "Finalised, but see the warning about the deletion receipt below.", kind: KIND[d.state]});
  } else {
    say(d.message, KIND[d.state]);
    const btn = document.getElementById("finalize");
    if (btn && d.state !== "pending") btn.disabled = false;  // the therapist may try again
  }
}

async function onLabel(form) {
  const id = noteBody().dataset.noteId;
  const res = await post("/notes/" + id + "/label", {label: form.querySelector("input").value});
  say(res.message, KIND[res.state]);
  if (res.state === "saved") form.querySelector("input").value = res.label;
}

function onEvidence(btn) {
  if (btn.classList.contains("more")) {  // "+N more": show the remaining evidence controls
    btn.parentElement.querySelectorAll(".ev.extra").forEach(el => { el.hidden = false; });
    btn.hidden = true;
    const next = btn.parentElement.querySelector(".ev.extra");
    if (next) next.focus();
    return;
  }
  const panel = document.getElementById(btn.getAttribute("aria-controls"));
  if (!panel) return;
  const open = btn.getAttribute("aria-expanded") !== "true";
  btn.setAttribute("aria-expanded", open ? "true" : "false");
  panel.hidden = !open;
}

async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    say(what + " copied: paste it into the EHR.", "ok");
  } catch (e) {
    say("The browser did not allow copying; use the text under \"Your version\" instead.", "warn");
  }
}

async function onEdit(form) {
  const id = noteBody().dataset.noteId;
  const res = await post("/notes/" + id + "/edit",
                         {text: form.querySelector("textarea").value, based_on_version: Number(form.dataset.basedOn)});
  say(res.message, KIND[res.state]);
  if (res.state === "saved") document.getElementById("edit-saved").textContent = "Saved " + res.saved_at;
}

document.addEventListener("click", ev => {
  const el = ev.target.closest("button");
  if (!el || el.disabled) return;
  if (el.classList.contains("ev")) onEvidence(el);
  else if (el.dataset.action === "format") onFormat(el);
  else if (el.id === "finalize") onFinalize();
  else if (el.id === "copy-ehr") copyText(document.getElementById("ehr-text").textContent, "The note's plain text");
  else if (el.id === "copy-edit") copyText(document.getElementById("edit-text").value, "Your version");
  else if (el.id === "logout") post("/logout").then(() => { window.location = "/login"; });
});

document.addEventListener("submit", ev => {
  if (ev.target.id === "revise-form") { ev.preventDefault(); onRevise(ev.target); }
  else if (ev.target.id === "edit-form") { ev.preventDefault(); onEdit(ev.target); }
  else if (ev.target.id === "label-form") { ev.preventDefault(); onLabel(ev.target); }
});

// ---- live updates ----------------------------------------------------------------------

function startEvents() {
  const live = document.getElementById("live");
  const es = new EventSource("/events");
  // "Live" means this workstation is connected to the broker, not only that the page answers
  es.onerror = () => { live.textContent = "Review page not answering…"; live.className = "live off"; };
  es.addEventListener("live", ev => {
    const s = JSON.parse(ev.data);
    live.textContent = s.broker ? "Live" : "Broker not reachable";
    live.className = "live " + (s.broker ? "on" : "off");
    const boxes = s.boxes.map(b => b.device + " " + b.state + " (" + b.at + ")");
    live.title = s.broker ? "Connected to the practice broker" : "Not connected to the practice broker: notes and answers wait there";
    if (boxes.length) live.title += ". Last heartbeat: " + boxes.join(", ");
    const line = document.getElementById("boxes");
    if (line) line.textContent = boxes.length ? "Boxes, last heard: " + boxes.join(" · ") : "";
  });
  es.addEventListener("finalize", ev => onFinalizeProgress(JSON.parse(ev.data)));
  es.addEventListener("note", ev => {
    const r = JSON.parse(ev.data);
    upsertRow(r);
    const box = noteBody();
    if (box && box.dataset.noteId === r.note_id && box.getAttribute("aria-busy") !== "true") {
      const newer = r.version > Number(box.dataset.latest);
      const shownLatest = box.dataset.version === box.dataset.latest;
      if ((newer && shownLatest) || r.status !== box.dataset.status) {
        let msg = null;
        if (newer) msg = {text: "Version " + r.version + " arrived from the box.", kind: "ok"};
        else if (finalisingHere === r.note_id && ["finalised", "unverified"].includes(r.status)) {
          // the receipt of this page's own finalise: say how it went even if the finalize event is late
          finalisingHere = null;
          msg = r.status === "finalised"
            ? {text: "Finalised. The box destroyed the session's transcript; its signed receipt is below.", kind: "ok"}
            : {text: "Finalised, but see the warning about the deletion receipt below.", kind: "warn"};
        } else if (finalisingHere !== r.note_id && ["finalised", "discarded", "expired", "unverified"].includes(r.status)) {
          // a receipt that came later than the page waited, or from another workstation
          msg = {text: "The box's receipt arrived: " + r.status_text + ".", kind: r.status === "unverified" ? "warn" : "ok"};
        }
        refreshNote(msg);
      }
    }
  });
}

startEvents();
