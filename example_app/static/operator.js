// The live page: loads the latest decisions, then follows new ones over Server-Sent Events.
// Every value from a callback is user input: it goes into the page as text, never as HTML.
"use strict";

(() => {
  const body = document.body;
  const urls = {
    decisions: body.dataset.decisionsUrl,
    events: body.dataset.eventsUrl,
    blocklist: body.dataset.blocklistUrl,
  };
  const maxRows = Number(body.dataset.maxRows) || 200;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

  const rows = document.getElementById("decision-rows");
  const empty = document.getElementById("empty");
  const status = document.getElementById("live-status");
  const accountFilter = document.getElementById("filter-account");
  const decisionFilter = document.getElementById("filter-decision");
  const blockForm = document.getElementById("block-form");
  const blockAccount = document.getElementById("block-account");
  const blockReason = document.getElementById("block-reason");
  const blockError = document.getElementById("block-error");
  const blocklist = document.getElementById("blocklist");

  const ACTIONS = {
    Response_Action_AgreeAndAdd: "accept + add back",
    Response_Action_Agree: "accept",
    Response_Action_Reject: "decline",
  };

  let source = null;
  let loading = 0;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function accountButton(account) {
    const button = element("button", "link", account || "–");
    button.type = "button";
    button.title = "Show only this account";
    button.addEventListener("click", () => {
      accountFilter.value = account;
      loadDecisions();
    });
    return button;
  }

  function matchesFilters(decision) {
    const account = accountFilter.value.trim();
    if (account && decision.from_account !== account && decision.to_account !== account) {
      return false;
    }
    const wanted = decisionFilter.value;
    return wanted === "all" || (wanted === "blocked") === decision.blocked;
  }

  function renderRow(decision, isNew) {
    const row = element("tr", "decision " + (decision.blocked ? "blocked" : "allowed"));
    if (isNew) row.classList.add("new");
    row.dataset.id = decision.id;
    row.dataset.from = decision.from_account;
    row.dataset.to = decision.to_account;

    const when = new Date(decision.received_at_ms);
    const time = element("td", "time", when.toLocaleTimeString());
    time.title = when.toISOString() + " (event " + new Date(decision.event_time_ms).toISOString() + ")";
    row.append(time);

    const from = element("td", "account from");
    from.append(accountButton(decision.from_account));
    const to = element("td", "account to");
    to.append(accountButton(decision.to_account));
    row.append(from, to, element("td", "action", ACTIONS[decision.action] || decision.action));

    const verdict = element("td", "verdict");
    const badge = element(
      "span",
      "badge " + (decision.blocked ? "badge-blocked" : "badge-allowed"),
      decision.blocked ? "blocked " + decision.result_code : "allowed",
    );
    verdict.append(badge);
    if (decision.result_info) verdict.append(element("span", "info", decision.result_info));
    row.append(verdict);

    row.append(element("td", decision.policy ? "policy" : "policy none", decision.policy || "–"));

    const text = element("td", "text");
    if (decision.remark) text.append(element("span", "remark", decision.remark));
    if (decision.tag_name) {
      if (decision.remark) text.append(element("br"));
      text.append(element("span", "tag", decision.tag_name));
    }
    row.append(text);

    const client = [decision.platform, decision.client_ip].filter(Boolean).join(" · ");
    row.append(element("td", "client", client));
    return row;
  }

  function showEmpty() {
    empty.hidden = rows.children.length > 0;
  }

  function addLive(decision) {
    if (!matchesFilters(decision)) return;
    if (rows.querySelector('tr[data-id="' + decision.id + '"]')) return;
    rows.prepend(renderRow(decision, true));
    while (rows.children.length > maxRows) rows.lastElementChild.remove();
    showEmpty();
  }

  async function request(url, options) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      ...options,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const fields = data.fields ? Object.values(data.fields).flat().join("; ") : "";
      throw new Error(fields || data.error || response.statusText);
    }
    return data;
  }

  async function loadDecisions() {
    const ticket = ++loading;
    const query = new URLSearchParams({
      q: accountFilter.value.trim(),
      decision: decisionFilter.value,
    });
    const data = await request(urls.decisions + "?" + query, { method: "GET" });
    if (ticket !== loading) return; // a newer filter won
    rows.replaceChildren(...data.decisions.map((decision) => renderRow(decision, false)));
    showEmpty();
    if (!source) follow(data.last_id);
  }

  function setStatus(kind, text) {
    status.className = "status status-" + kind;
    status.textContent = text;
  }

  function follow(lastId) {
    source = new EventSource(urls.events + "?after=" + encodeURIComponent(lastId));
    source.addEventListener("open", () => setStatus("live", "live"));
    source.addEventListener("error", () => setStatus("reconnecting", "reconnecting…"));
    source.addEventListener("decision", (event) => addLive(JSON.parse(event.data)));
    source.addEventListener("stats", (event) => {
      const stats = JSON.parse(event.data);
      for (const name of ["accepted", "declined", "blocked"]) {
        document.getElementById("count-" + name).textContent = stats[name];
      }
    });
  }

  function renderBlocklist(entries) {
    blocklist.replaceChildren(
      ...entries.map((entry) => {
        const item = element("li");
        item.dataset.account = entry.account;
        const who = element("div");
        who.append(element("span", "who", entry.account));
        who.append(element("span", "why", entry.reason || "no reason given"));
        const remove = element("button", "link", "Unblock");
        remove.type = "button";
        remove.addEventListener("click", async () => {
          await request(urls.blocklist, {
            method: "DELETE",
            body: JSON.stringify({ account: entry.account }),
          });
          await loadBlocklist();
        });
        item.append(who, remove);
        return item;
      }),
    );
  }

  async function loadBlocklist() {
    const data = await request(urls.blocklist, { method: "GET" });
    renderBlocklist(data.blocklist);
  }

  blockForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    blockError.hidden = true;
    try {
      await request(urls.blocklist, {
        method: "POST",
        body: JSON.stringify({ account: blockAccount.value.trim(), reason: blockReason.value.trim() }),
      });
      blockForm.reset();
      await loadBlocklist();
    } catch (error) {
      blockError.textContent = error.message;
      blockError.hidden = false;
    }
  });

  let typing = null;
  accountFilter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(loadDecisions, 250);
  });
  decisionFilter.addEventListener("change", loadDecisions);
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    loadDecisions();
  });

  loadDecisions();
  loadBlocklist();
})();
