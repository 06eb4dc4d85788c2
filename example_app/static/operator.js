// The live page: loads the latest decisions, then follows new ones over Server-Sent Events.
// Every value from a callback is user input: it goes into the page as text, never as HTML,
// cut to a width, with hidden characters written out (text.js).
"use strict";

import { createChart } from "./chart.js";
import { asciiLower, dateAndTime, spelled, utf8Length, valueElement } from "./text.js";

const body = document.body;
const urls = {
  decisions: body.dataset.decisionsUrl,
  events: body.dataset.eventsUrl,
  blocklist: body.dataset.blocklistUrl,
  chart: body.dataset.chartUrl,
  reported: body.dataset.reportedUrl,
  story: body.dataset.storyUrl,
};
const maxRows = Number(body.dataset.maxRows) || 200;
const accountMaxBytes = Number(body.dataset.accountMaxBytes) || 32;
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

// Characters shown in a table cell before "…" (the whole value is on hover and in details).
const WIDTH = { account: 24, text: 40, info: 48, client: 24, reason: 60 };
// Rows from one responder with one outcome, within a minute, read as one line from this many.
const GROUP_MIN = 3;
const GROUP_WINDOW_MS = 60000;
// Most rows kept once older pages were loaded.
const MAX_KEPT = 5000;
// Seconds between two reloads of the chart from the server (live decisions add in between).
const CHART_RELOAD_MS = 60000;
// A live stream the browser has given up on is started again after this long, doubled at each
// refusal up to the maximum, each wait drawn between half and one and a half of it (many pages
// refused at once do not all come back in the same second).
const STREAM_RETRY_MS = 4000;
const STREAM_RETRY_MAX_MS = 60000;

const $ = (id) => document.getElementById(id);
const rowsBody = $("decision-rows");
const empty = $("empty");
const status = $("live-status");
const loadError = $("load-error");
const accountFilter = $("filter-account");
const decisionFilter = $("filter-decision");
const olderButton = $("older");
const searchPartial = $("search-partial");
const blockForm = $("block-form");
const blockAccount = $("block-account");
const blockReason = $("block-reason");
const blockBytes = $("block-bytes");
const blockError = $("block-error");
const blocklist = $("blocklist");
const undo = $("undo");
const undoText = $("undo-text");
const undoButton = $("undo-button");
const dialog = $("block-dialog");
const dialogForm = $("block-dialog-form");
const dialogReason = $("block-dialog-reason");
const dialogError = $("block-dialog-error");

const ACTIONS = {
  Response_Action_AgreeAndAdd: "accept + add back",
  Response_Action_Agree: "accept",
  Response_Action_Reject: "decline",
  Add_Type_Both: "both ways",
  Add_Type_Single: "one way",
};
// What each after-callback's row says happened.
const AFTER = {
  added: "friends added",
  deleted: "friend deleted",
  blocklisted: "put on own blocklist",
  unblocklisted: "taken off own blocklist",
};
// How a stage of a pair's story reads.
const STAGES = {
  requested: "requested",
  "request blocked": "request blocked",
  accepted: "accepted",
  declined: "declined",
  "response blocked": "response blocked",
  added: "added",
  deleted: "deleted",
  blocklisted: "blocked by a user",
  unblocklisted: "unblocked by a user",
};
// Seconds between two reloads of the "blocked by users" panel.
const REPORTED_RELOAD_MS = 30000;

// The decisions shown, newest first, and what the page knows about them.
let items = [];
const known = new Set();
const expanded = new Set(); // ids of rows whose details, or whose group, are open
const fresh = new Set(); // ids that arrived live a moment ago
let nextBefore = null;
// The last page of a search stopped on the server's time budget before it was full.
let partial = false;
let paged = false;
let source = null;
let loading = 0;
let drawing = false;
let serverOffset = 0; // server clock minus this browser's
let dialogDecision = null;
let undoEntry = null;
const stories = new Map(); // decision id: the pair's story once loaded (or its error)

const chart = createChart($("chart"), $("chart-legend"));

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, className, onClick) {
  const node = element("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

function cell(label, className) {
  const td = element("td", className);
  td.dataset.label = label;
  return td;
}

async function request(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    ...options,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const fields = data.fields ? Object.values(data.fields).flat().join("; ") : "";
    const error = new Error(fields || data.error || response.status + " " + response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

// -- filters ---------------------------------------------------------------------------------

function query() {
  return { q: accountFilter.value, decision: decisionFilter.value };
}

function matchesFilters(decision) {
  const wanted = asciiLower(accountFilter.value);
  if (
    wanted &&
    !asciiLower(decision.from_account).includes(wanted) &&
    !asciiLower(decision.to_account).includes(wanted)
  ) {
    return false;
  }
  const kind = decisionFilter.value;
  return kind === "all" || (kind === "blocked") === decision.blocked;
}

// -- rows ------------------------------------------------------------------------------------

function accountCell(label, account) {
  const td = cell(label, "account");
  const filter = element("button", "link account-button");
  filter.type = "button";
  filter.title = "Show only accounts containing this one";
  filter.append(valueElement(account || "–", WIDTH.account));
  filter.addEventListener("click", () => {
    accountFilter.value = account;
    reload();
  });
  td.append(filter);
  return td;
}

function whenCell(decision) {
  const td = cell("When", "time");
  const [date, time] = dateAndTime(decision.received_at_ms);
  td.append(element("span", "date", date), element("span", "clock", time));
  td.title =
    "received " + new Date(decision.received_at_ms).toISOString() +
    (decision.event_time_ms ? "\nevent " + new Date(decision.event_time_ms).toISOString() : "");
  return td;
}

function verdictCell(decision) {
  const td = cell("Decision", "verdict");
  if (decision.step === "after") {
    // Tencent asks for no decision on an after-callback: it is only seen.
    td.append(element("span", "badge badge-observed", "observed"));
    return td;
  }
  td.append(
    element(
      "span",
      "badge " + (decision.blocked ? "badge-blocked" : "badge-allowed"),
      decision.blocked ? "blocked " + decision.result_code : "allowed",
    ),
  );
  if (decision.policy) td.append(element("span", "policy", decision.policy));
  if (decision.result_info) td.append(valueElement(decision.result_info, WIDTH.info, "info"));
  return td;
}

function textCell(decision) {
  const td = cell("Wording / remark / group", "text");
  if (decision.wording) td.append(valueElement(decision.wording, WIDTH.text, "wording"));
  if (decision.remark) td.append(valueElement(decision.remark, WIDTH.text, "remark"));
  if (decision.tag_name) td.append(valueElement(decision.tag_name, WIDTH.text, "tag"));
  return td;
}

function renderRow(decision, inGroup) {
  const row = element("tr", "decision " + (decision.blocked ? "blocked" : "allowed"));
  row.classList.add("step-" + decision.step);
  row.dataset.command = decision.command;
  if (inGroup) row.classList.add("member");
  if (fresh.has(decision.id)) {
    row.classList.add("new");
    row.addEventListener("animationend", () => fresh.delete(decision.id), { once: true });
  }
  row.dataset.id = decision.id;
  row.dataset.from = decision.from_account;
  row.dataset.to = decision.to_account;

  const client = cell("Client", "client");
  const clientText = [decision.platform, decision.client_ip].filter(Boolean).join(" · ");
  if (clientText) client.append(valueElement(clientText, WIDTH.client));
  const tools = cell("", "tools");
  const open = expanded.has(decision.id);
  const details = button(open ? "Hide" : "Details", "link details-button", () => {
    if (expanded.has(decision.id)) expanded.delete(decision.id);
    else {
      expanded.add(decision.id);
      stories.delete(decision.id); // a story read again: it may have gone on
    }
    draw();
  });
  details.setAttribute("aria-expanded", String(open));
  tools.append(details, button("Block…", "small block-button", () => openBlockDialog(decision)));

  const action = cell("Action", "action");
  action.append(element("span", "step step-" + decision.step, decision.step));
  const what = decision.step === "after" ? AFTER[decision.kind] || decision.command : "";
  if (what) action.append(element("span", "what", what));
  else action.append(valueElement(ACTIONS[decision.action] || decision.action, WIDTH.text));
  row.append(
    whenCell(decision),
    accountCell("From", decision.from_account),
    accountCell("To", decision.to_account),
    action,
    verdictCell(decision),
    textCell(decision),
    client,
    tools,
  );
  return open ? [row, renderDetails(decision)] : [row];
}

// Every field of a decision in full: long values wrap and scroll inside their own box.
function renderDetails(decision) {
  const row = element("tr", "details");
  row.dataset.detailsFor = decision.id;
  const td = element("td");
  td.colSpan = 8;
  const list = element("dl", "details-list");
  const [date, time] = dateAndTime(decision.received_at_ms);
  const fields = [
    [decision.step === "response" ? "Responder (From_Account)" : "From_Account", decision.from_account],
    [decision.step === "response" ? "Requester (To_Account)" : "To_Account", decision.to_account],
    ["Requester_Account", decision.requester_account],
    ["Command", decision.command],
    ["Action", decision.action],
    // A space only between a code and its text: an edge space is marked as a character.
    ["Result", [String(decision.result_code), decision.result_info].filter(Boolean).join(" ")],
    ["Policy", decision.policy || "–"],
    ["Wording", decision.wording],
    ["Remark", decision.remark],
    ["Friend group", decision.tag_name],
    ["Platform", decision.platform],
    ["Client IP", decision.client_ip],
    ["Received", date + " " + time + " (" + new Date(decision.received_at_ms).toISOString() + ")"],
    // An after-callback need not carry an EventTime (0 then).
    ["Event time", decision.event_time_ms ? new Date(decision.event_time_ms).toISOString() : "–"],
    ["Decision id", String(decision.id)],
  ];
  for (const [name, value] of fields) {
    const full = valueElement(value ?? "", Infinity, "full");
    const dd = element("dd");
    dd.append(full);
    list.append(element("dt", "", name), dd);
  }
  td.append(list, renderStory(decision));
  row.append(td);
  return row;
}

// The pair's story (requested -> responded -> added / deleted / blocked), loaded when its
// details open: every row between the two accounts, in either direction.
function renderStory(decision) {
  const box = element("div", "story");
  box.append(element("h3", "", "Story of this pair"));
  const story = stories.get(decision.id);
  if (story === undefined) {
    box.append(element("p", "hint", "loading…"));
    loadStory(decision);
  } else if (story instanceof Error) {
    box.append(element("p", "error", "Could not load the story: " + story.message));
  } else if (story === null) {
    box.append(element("p", "hint", "An account over 32 bytes: no story to ask for."));
  } else {
    const line = element("ol", "stages");
    story.rows.forEach((row, index) => {
      const stage = element("li", "stage stage-" + row.step + (row.blocked ? " blocked" : ""));
      const [date, time] = dateAndTime(row.received_at_ms);
      stage.append(element("span", "stage-name", STAGES[story.stages[index]] || story.stages[index]));
      stage.append(element("span", "stage-by", "by "), valueElement(row.from_account, WIDTH.account, "who"));
      stage.append(element("span", "stage-at", date + " " + time));
      if (row.blocked && row.policy) stage.append(element("span", "policy", row.policy));
      line.append(stage);
    });
    box.append(line);
  }
  return box;
}

async function loadStory(decision) {
  const pair = [decision.from_account, decision.to_account];
  if (pair.some((account) => utf8Length(account) > accountMaxBytes || !account)) {
    stories.set(decision.id, null);
  } else {
    try {
      const params = new URLSearchParams({ a: pair[0], b: pair[1] });
      stories.set(decision.id, await request(urls.story + "?" + params));
    } catch (error) {
      stories.set(decision.id, error);
    }
  }
  if (expanded.has(decision.id)) draw();
}

// Runs of rows from one responder with one outcome within a minute (a farm accepting 25
// requests reads as one line that opens).
function groups(list) {
  const out = [];
  for (const decision of list) {
    const key = decision.from_account + "\u0000" + decision.kind + "\u0000" + decision.result_code;
    const last = out[out.length - 1];
    if (
      last &&
      last.key === key &&
      last.members[0].received_at_ms - decision.received_at_ms < GROUP_WINDOW_MS
    ) {
      last.members.push(decision);
    } else {
      out.push({ key, members: [decision] });
    }
  }
  return out;
}

// "blocked 38002 (velocity) × 5 within 3 s", in phrases that each stay on one line.
function burst(outcome, count, seconds) {
  const line = element("span", "burst");
  const phrases = [outcome, "× " + count, "within " + seconds + " s"];
  for (const phrase of phrases) {
    line.append(document.createTextNode(" "), element("span", "phrase", phrase));
  }
  return line;
}

function renderGroup(group) {
  const newest = group.members[0];
  const oldest = group.members[group.members.length - 1];
  const open = group.members.some((member) => expanded.has("g" + member.id));
  const row = element("tr", "group " + (newest.blocked ? "blocked" : "allowed"));
  row.dataset.from = newest.from_account;
  row.dataset.count = String(group.members.length);
  if (group.members.some((member) => fresh.has(member.id))) row.classList.add("new");

  const when = whenCell(newest);
  const summary = cell("Burst", "summary");
  summary.colSpan = 6;
  const toggle = button(open ? "▾" : "▸", "link group-toggle", () => {
    if (open) group.members.forEach((member) => expanded.delete("g" + member.id));
    else expanded.add("g" + newest.id);
    draw();
  });
  toggle.setAttribute("aria-expanded", String(open));
  toggle.title = open ? "Fold these rows" : "Show these rows";
  const seconds = Math.max(1, Math.round((newest.received_at_ms - oldest.received_at_ms) / 1000));
  const outcome = newest.blocked
    ? "blocked " + newest.result_code + (newest.policy ? " (" + newest.policy + ")" : "")
    : newest.kind;
  summary.append(
    toggle,
    valueElement(newest.from_account, WIDTH.account, "who"),
    burst(outcome, group.members.length, seconds),
  );
  const tools = cell("", "tools");
  tools.append(button("Block…", "small block-button", () => openBlockDialog(newest, "from")));
  row.append(when, summary, tools);
  const rows = [row];
  if (open) {
    for (const member of group.members) rows.push(...renderRow(member, true));
  }
  return rows;
}

function draw() {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    const rows = [];
    for (const group of groups(items)) {
      if (group.members.length >= GROUP_MIN) rows.push(...renderGroup(group));
      else for (const decision of group.members) rows.push(...renderRow(decision, false));
    }
    rowsBody.replaceChildren(...rows);
    empty.hidden = items.length > 0 || partial;
    searchPartial.hidden = !partial;
    olderButton.hidden = nextBefore === null;
  });
}

function addLive(decision) {
  chart.add(decision);
  if (!matchesFilters(decision) || known.has(decision.id)) return;
  known.add(decision.id);
  fresh.add(decision.id);
  items.unshift(decision);
  const limit = paged ? MAX_KEPT : maxRows;
  if (items.length > limit) {
    while (items.length > limit) known.delete(items.pop().id);
    // What was dropped is one "Show older" away.
    nextBefore = items[items.length - 1].id;
  }
  draw();
}

// -- loading ---------------------------------------------------------------------------------

function showLoadError(error) {
  loadError.textContent = error ? "Could not load: " + error.message : "";
  loadError.hidden = !error;
}

// Returns the error that stopped it, if any (it is also shown).
async function reload() {
  const ticket = ++loading;
  try {
    const data = await request(urls.decisions + "?" + new URLSearchParams(query()));
    if (ticket !== loading) return; // a newer filter won
    items = data.decisions;
    known.clear();
    items.forEach((decision) => known.add(decision.id));
    nextBefore = data.next_before;
    partial = Boolean(data.partial);
    paged = false;
    showLoadError(null);
    draw();
    if (!source) follow(data.last_id);
  } catch (error) {
    if (ticket === loading) showLoadError(error);
    return error;
  }
  return null;
}

async function loadOlder() {
  if (nextBefore === null) return;
  const ticket = loading;
  olderButton.disabled = true;
  try {
    const params = new URLSearchParams({ ...query(), before: String(nextBefore) });
    const data = await request(urls.decisions + "?" + params);
    if (ticket !== loading) return;
    for (const decision of data.decisions) {
      if (!known.has(decision.id)) {
        known.add(decision.id);
        items.push(decision);
      }
    }
    nextBefore = data.next_before;
    partial = Boolean(data.partial);
    paged = true;
    showLoadError(null);
    draw();
  } catch (error) {
    showLoadError(error);
  } finally {
    olderButton.disabled = false;
  }
}

async function loadChart() {
  try {
    const data = await request(urls.chart);
    serverOffset = data.now_ms - Date.now();
    chart.load(data.minutes, data.now_ms);
  } catch (error) {
    // The chart keeps its live counts; the next reload tries again.
  }
}

function setStatus(kind, text) {
  status.className = "status status-" + kind;
  status.textContent = text;
}

let streamRetryMs = STREAM_RETRY_MS;

function follow(lastId) {
  const opened = new EventSource(urls.events + "?after=" + encodeURIComponent(lastId));
  source = opened;
  opened.addEventListener("open", () => {
    streamRetryMs = STREAM_RETRY_MS;
    setStatus("live", "live");
  });
  opened.addEventListener("error", () => {
    setStatus("reconnecting", "reconnecting…");
    // After a dropped connection the browser reconnects by itself (with Last-Event-ID). An
    // answer that is not a stream (503 from the server's cap on streams, a proxy's 502) makes
    // it give up for good: start again after a while.
    if (opened.readyState === EventSource.CLOSED && source === opened) {
      source = null;
      restartStream();
    }
  });
  opened.addEventListener("decision", (event) => addLive(JSON.parse(event.data)));
  opened.addEventListener("stats", (event) => {
    const stats = JSON.parse(event.data);
    for (const name of ["accepted", "declined", "requested", "blocked"]) {
      $("count-" + name).textContent = stats[name];
    }
  });
}

function restartStream() {
  const wait = streamRetryMs * (0.5 + Math.random());
  streamRetryMs = Math.min(streamRetryMs * 2, STREAM_RETRY_MAX_MS);
  setTimeout(async () => {
    if (source) return; // a reload (a new filter) followed meanwhile
    let error;
    if (paged) {
      // Keep the operator's place (older pages, their search): ask whether the server is
      // there and the password still good, then follow on from the newest row shown.
      error = await request(urls.stats).then(() => null, (failed) => failed);
      if (!error && !source) follow(items.length ? items[0].id : "");
    } else {
      // A fresh list, which follows from its newest decision.
      error = await reload();
    }
    if (error && (error.status === 401 || error.status === 403)) {
      // Signed out (a new password, say): every try would count as a wrong password.
      setStatus("reconnecting", "signed out: reload the page");
      return;
    }
    if (!source) restartStream(); // failed, or refused again: the next try waits longer
  }, wait);
}

// -- blocklist -------------------------------------------------------------------------------

// An account typed or picked with a reason gets that reason even if it was listed already
// (replace); the API alone keeps the old one unless told.
async function block(account, reason) {
  const body = JSON.stringify({ account, reason, replace: true });
  await request(urls.blocklist, { method: "POST", body });
  await loadBlocklist();
  loadReported();
}

// -- blocked by users ------------------------------------------------------------------------

const reportedList = $("reported");
const reportedError = $("reported-error");

function renderReported(data) {
  $("reported-rule").textContent =
    "Accounts that " + data.threshold + " or more users put on their own blocklist in the last " +
    Math.round(data.window_s / 60) + " min.";
  reportedList.replaceChildren(
    ...data.accounts.map((entry) => {
      const item = element("li");
      item.dataset.account = entry.account;
      const who = element("div", "entry");
      who.append(valueElement(entry.account, WIDTH.account, "who"));
      who.append(element("span", "users", "blocklisted by " + entry.users + " users"));
      item.append(who);
      const bytes = utf8Length(entry.account);
      if (entry.blocked) {
        item.append(element("span", "badge badge-blocked", "blocked"));
      } else if (bytes > accountMaxBytes) {
        item.append(element("span", "hint", bytes + " bytes: cannot be blocked"));
      } else {
        const reason = "blocklisted by " + entry.users + " users";
        item.append(
          button("Block", "small block-button", async (event) => {
            event.target.disabled = true;
            reportedError.hidden = true;
            try {
              await block(entry.account, reason);
            } catch (error) {
              reportedError.textContent = "Could not block " + spelled(entry.account) + ": " + error.message;
              reportedError.hidden = false;
              event.target.disabled = false;
            }
          }),
        );
      }
      return item;
    }),
  );
  $("reported-empty").hidden = data.accounts.length > 0;
}

async function loadReported() {
  try {
    renderReported(await request(urls.reported));
  } catch (error) {
    reportedError.textContent = "Could not load: " + error.message;
    reportedError.hidden = false;
  }
}

function showUndo(entry) {
  undoEntry = entry;
  undoText.replaceChildren(
    document.createTextNode("Unblocked "),
    valueElement(entry.account, WIDTH.account, "who"),
    document.createTextNode(". "),
  );
  undo.hidden = false;
}

function renderBlocklist(entries) {
  blocklist.replaceChildren(
    ...entries.map((entry) => {
      const item = element("li");
      item.dataset.account = entry.account;
      const who = element("div", "entry");
      who.append(valueElement(entry.account, WIDTH.account, "who"));
      if (entry.reason) who.append(valueElement(entry.reason, WIDTH.reason, "why"));
      else who.append(element("span", "why none", "no reason given"));
      const [date, time] = dateAndTime(entry.added_at_ms);
      const added = element("span", "added", "added " + date + " " + time);
      added.title = new Date(entry.added_at_ms).toISOString();
      who.append(added);
      const remove = button("Unblock", "link unblock", async () => {
        try {
          await request(urls.blocklist, {
            method: "DELETE",
            body: JSON.stringify({ account: entry.account }),
          });
          showUndo(entry);
        } catch (error) {
          blockError.textContent = "Could not unblock " + spelled(entry.account) + ": " + error.message;
          blockError.hidden = false;
        }
        await loadBlocklist();
      });
      item.append(who, remove);
      return item;
    }),
  );
}

async function loadBlocklist() {
  const data = await request(urls.blocklist);
  renderBlocklist(data.blocklist);
}

function showBytes() {
  const bytes = utf8Length(blockAccount.value);
  blockBytes.textContent = blockAccount.value ? bytes + " / " + accountMaxBytes + " bytes" : "";
  blockBytes.classList.toggle("over", bytes > accountMaxBytes);
}

// Offers only what can be blocked: an account over Tencent's 32 bytes (a hostile callback's)
// is shown, marked, and cannot be chosen.
// The accounts of a row by what they are at its step: a request's sender is its From_Account,
// a response's requester its To_Account.
const ROLES = {
  request: { from: "Sender", to: "Recipient" },
  response: { from: "Responder", to: "Requester" },
  after: { from: "From_Account", to: "To_Account" },
};

function openBlockDialog(decision, who) {
  dialogDecision = decision;
  const roles = ROLES[decision.step] || ROLES.response;
  $("block-dialog-from-role").textContent = roles.from;
  $("block-dialog-to-role").textContent = roles.to;
  // The likely spammer first: a request's sender, a response's requester.
  if (who === undefined) who = decision.step === "request" ? "from" : "to";
  const accounts = { to: decision.to_account, from: decision.from_account };
  const blockable = [];
  for (const side of ["to", "from"]) {
    $("block-dialog-" + side).replaceChildren(valueElement(accounts[side], WIDTH.account));
    const choice = $("block-dialog-choice-" + side);
    const radio = choice.querySelector("input");
    const note = choice.querySelector(".too-long-note");
    const bytes = utf8Length(accounts[side]);
    const tooLong = bytes > accountMaxBytes || bytes === 0;
    radio.disabled = tooLong;
    choice.classList.toggle("too-long", tooLong);
    note.hidden = !tooLong;
    note.textContent = tooLong
      ? bytes + " bytes: an account is at most " + accountMaxBytes + ", it cannot be blocked"
      : "";
    if (!tooLong) blockable.push(side);
  }
  const chosen = blockable.includes(who) ? who : blockable[0];
  for (const side of ["to", "from"]) {
    $("block-dialog-choice-" + side).querySelector("input").checked = side === chosen;
  }
  $("block-dialog-confirm").disabled = chosen === undefined;
  dialogReason.value = "";
  dialogError.hidden = true;
  dialog.showModal();
  dialogReason.focus();
}

dialogForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const decision = dialogDecision;
  const account = dialogForm.elements.who.value === "from" ? decision.from_account : decision.to_account;
  try {
    await block(account, dialogReason.value.trim());
    dialog.close();
  } catch (error) {
    dialogError.textContent = error.message;
    dialogError.hidden = false;
  }
});
$("block-dialog-cancel").addEventListener("click", () => dialog.close());

blockForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  blockError.hidden = true;
  try {
    // The account as typed, spaces and all: it is refused when too long, never cut.
    await block(blockAccount.value, blockReason.value.trim());
    blockForm.reset();
    showBytes();
  } catch (error) {
    blockError.textContent = error.message;
    blockError.hidden = false;
  }
});
blockAccount.addEventListener("input", showBytes);

// The header's jump (narrow screens): to the blocklist form, ready to type.
$("jump-blocklist").addEventListener("click", (event) => {
  event.preventDefault();
  $("blocklist-panel").scrollIntoView({ block: "start" });
  blockAccount.focus({ preventScroll: true });
});

undoButton.addEventListener("click", async () => {
  if (!undoEntry) return;
  try {
    await block(undoEntry.account, undoEntry.reason);
    undo.hidden = true;
    undoEntry = null;
  } catch (error) {
    blockError.textContent = error.message;
    blockError.hidden = false;
  }
});

// -- start -----------------------------------------------------------------------------------

let typing = null;
accountFilter.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(reload, 250);
});
decisionFilter.addEventListener("change", reload);
$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  reload();
});
olderButton.addEventListener("click", loadOlder);

reload();
loadBlocklist();
loadReported();
setInterval(loadReported, REPORTED_RELOAD_MS);
loadChart();
setInterval(loadChart, CHART_RELOAD_MS);
setInterval(() => chart.tick(Date.now() + serverOffset), 5000);
