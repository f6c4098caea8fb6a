// The console's own script: shared helpers for the pages (no library, nothing fetched from elsewhere).
// Every value from the API is put in the page with textContent, never as HTML. Polls wait for the
// previous answer before the next one (they never pile up) and pause while the tab is hidden.
"use strict";

const Console = (() => {
  const POLL_MS = 2000;

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  // A call to the documented API; an error answer becomes an Error carrying its problem+json detail.
  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const detail = data && (data.detail || data.title) ? data.detail || data.title : text || response.statusText;
      const error = new Error(`${response.status}: ${detail}`);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return { status: response.status, data };
  }

  function poll(step, every = POLL_MS) {
    let stopped = false;
    async function loop() {
      if (stopped) return;
      if (!document.hidden) {
        try {
          await step();
        } catch (error) {
          note(`Live update failed: ${error.message}`);
        }
      }
      setTimeout(loop, every);
    }
    setTimeout(loop, every);
    return () => {
      stopped = true;
    };
  }

  function note(message) {
    const target = document.getElementById("updated");
    if (target) target.textContent = message;
  }

  function el(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) tr.appendChild(cell);
    return tr;
  }

  function replaceRows(tbody, rows, emptyText, columns) {
    const fresh = document.createDocumentFragment();
    for (const tr of rows) fresh.appendChild(tr);
    if (!rows.length) {
      const td = el("td", emptyText, { colspan: String(columns) });
      fresh.appendChild(row([td]));
    }
    tbody.replaceChildren(fresh);
  }

  function label(status) {
    return String(status || "").replace(/_/g, " ");
  }

  function pill(status) {
    return el("span", label(status), { class: `pill ${status || ""}` });
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "none pending";
    if (seconds < 120) return `${Math.round(seconds)} s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  function clock() {
    return new Date().toISOString().slice(11, 19);
  }


  // --- overview -------------------------------------------------------------------------------------

  function renderStats(root, stats) {
    const set = (id, value) => {
      const node = document.getElementById(id);
      if (node) node.textContent = String(value ?? "");
    };
    // A count per kind: the sum, then each kind's share.
    const perKind = (id, counts) => {
      const node = document.getElementById(id);
      if (!node) return;
      const pairs = Object.entries(counts || {});
      node.replaceChildren(document.createTextNode(String(pairs.reduce((sum, [, n]) => sum + n, 0))));
      if (pairs.length) {
        node.appendChild(document.createTextNode(" "));
        node.appendChild(el("span", `(${pairs.map(([kind, n]) => `${kind} ${n}`).join(", ")})`, { class: "muted by-kind" }));
      }
    };
    const queue = stats.queue || {};
    const hour = stats.last_hour || {};
    perKind("queue-depth", queue.depth);
    set("queue-oldest", age(queue.oldest_pending_age_seconds));
    perKind("hour-completed", hour.completed);
    perKind("hour-failed", hour.failed);
    set("hour-throughput", hour.throughput_per_minute);
    const table = document.getElementById("by-kind");
    const statuses = [...table.tHead.querySelectorAll("th")].slice(1).map((th) => th.textContent.replace(/ /g, "_"));
    const kindRows = Object.entries(stats.by_kind || {}).map(([kind, counts]) => {
      const cells = [el("th", kind, { scope: "row" })];
      for (const status of statuses) {
        const td = el("td", null, { "data-status": status });
        const link = el("a", (counts && counts[status]) || 0, {
          href: `/console/jobs?kind=${encodeURIComponent(kind)}&status=${encodeURIComponent(status)}`,
        });
        td.appendChild(link);
        cells.push(td);
      }
      return row(cells);
    });
    replaceRows(table.tBodies[0], kindRows, "No jobs yet.", statuses.length + 1);
    const kinds = Object.keys(stats.by_kind || {});
    const running = (stats.running_per_replica || []).map((replica) =>
      row([el("th", replica.worker_id, { scope: "row", class: "mono" }), ...kinds.map((kind) => el("td", replica[kind] || 0))]),
    );
    replaceRows(document.getElementById("running").tBodies[0], running, "Nothing is running.", kinds.length + 1);
  }

  function renderHealth(report, status) {
    const overall = document.getElementById("health-overall");
    const failing = (report && report.failing) || [];
    overall.textContent =
      report && report.status === "ok"
        ? "Every required check passes."
        : `Unavailable (HTTP ${status}): ${failing.length ? failing.join(", ") : "no answer"}`;
    overall.className = report && report.status === "ok" ? "ok-text" : "error";
    const checks = Object.entries((report && report.checks) || {}).map(([name, check]) =>
      row([
        el("th", name, { scope: "row" }),
        el("td", check.status),
        el("td", check.latency_ms === null || check.latency_ms === undefined ? "" : `${check.latency_ms} ms`),
        el("td", check.error || ""),
      ]),
    );
    replaceRows(document.getElementById("health").tBodies[0], checks, "No checks.", 4);
  }

  async function fetchHealth(url) {
    // 503 still carries the report: read it instead of treating it as an error.
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    let report = null;
    try {
      report = await response.json();
    } catch (_) {
      report = null;
    }
    renderHealth(report, response.status);
  }

  function overview(root) {
    const statsUrl = root.dataset.statsUrl;
    const healthUrl = root.dataset.healthUrl;
    const refresh = async () => {
      const { data } = await api("GET", statsUrl);
      renderStats(root, data);
      note(`Updated at ${clock()} UTC`);
    };
    fetchHealth(healthUrl).catch((error) => note(`Health check failed: ${error.message}`));
    poll(refresh);
    poll(() => fetchHealth(healthUrl), 10000); // /health runs its checks afresh: a slower beat
  }

  // --- jobs -----------------------------------------------------------------------------------------

  function jobRow(job) {
    const id = String(job.id || "");
    const kind = job.kind || "";
    const first = el("td");
    first.appendChild(
      el("a", id.slice(0, 8), {
        href: `/console/jobs/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`,
        class: "mono",
      }),
    );
    const name = job.name;
    if (name) {
      first.appendChild(document.createTextNode(" "));
      first.appendChild(el("span", name, { class: "muted" }));
    }
    const status = el("td", null, { class: "status", "data-field": "status" });
    status.appendChild(pill(job.status));
    const percent = `${Math.round(job.progress_percent || 0)}% `;
    const created = job.created_at ? when(job.created_at) : "";
    const tr = row([
      first,
      el("td", kind),
      el("td", job.repo_guid || ""),
      status,
      el("td", `${percent}${job.progress_step || ""}`, { "data-field": "progress" }),
      el("td", job.priority || ""),
      el("td", created, { class: "mono" }),
      el("td", job.error || "", { class: "error-text", "data-field": "error" }),
    ]);
    tr.dataset.id = id;
    return tr;
  }

  function jobs(root) {
    const url = root.dataset.apiUrl;
    if (!url) return; // the filter has a problem: the page says which, and nothing is polled
    const tbody = root.querySelector("tbody");
    poll(async () => {
      const { data } = await api("GET", url);
      const list = (data && data.jobs) || [];
      replaceRows(tbody, list.map(jobRow), "No job matches this filter.", 8);
      note(`Updated at ${clock()} UTC`);
    });
  }

  function bulkRetry(root) {
    const filter = JSON.parse(document.getElementById("retry-filter").textContent || "{}");
    const dryRun = document.getElementById("bulk-dry-run");
    const confirmRow = document.getElementById("bulk-confirm-row");
    const confirm = document.getElementById("bulk-confirm");
    const abandon = document.getElementById("bulk-abandon");
    const result = document.getElementById("bulk-result");
    const show = (text, isError) => {
      result.textContent = text;
      result.className = isError ? "error" : "";
    };
    dryRun.addEventListener("click", async () => {
      dryRun.disabled = true;
      try {
        const { data } = await api("POST", "/jobs/retry", { ...filter, dry_run: true });
        if (data.matched > 0) {
          show(`Dry run: ${data.matched} job${data.matched === 1 ? "" : "s"} would be retried.`);
          confirmRow.hidden = false;
          confirm.focus();
        } else {
          show("Dry run: no job to retry.");
        }
      } catch (error) {
        show(error.message, true);
      } finally {
        dryRun.disabled = false;
      }
    });
    abandon.addEventListener("click", () => {
      confirmRow.hidden = true;
      show("Nothing was retried.");
      dryRun.focus();
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const { data } = await api("POST", "/jobs/retry", { ...filter, dry_run: false });
        const rest = data.matched > data.retried ? ` ${data.matched - data.retried} more matched: run it again for the rest.` : "";
        show(`Retried ${data.retried} job${data.retried === 1 ? "" : "s"}.${rest}`);
        confirmRow.hidden = true;
      } catch (error) {
        show(error.message, true);
      } finally {
        confirm.disabled = false;
      }
    });
  }

  // --- one job --------------------------------------------------------------------------------------

  // The page again, fetched and swapped in: attempts, manifest and buttons follow the new status.
  async function reloadJob(afterAction = false) {
    const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`${response.status}: the page could not be refreshed`);
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("job");
    const root = document.getElementById("job");
    if (!fresh || !root) return;
    const old = document.getElementById("action-result");
    const hadFocus = afterAction || root.contains(document.activeElement);
    root.replaceWith(fresh);
    const result = document.getElementById("action-result");
    result.textContent = old.textContent;
    result.className = old.className;
    bindJob(fresh);
    // The button pressed may be gone with the old content: keep the keyboard where the news is.
    if (hadFocus) result.focus();
  }

  function bindJob(root) {
    const result = document.getElementById("action-result");
    const show = (text, isError) => {
      result.textContent = text;
      result.className = isError ? "error" : "";
    };
    for (const button of root.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", async () => {
        const action = button.dataset.action;
        button.disabled = true;
        try {
          if (action === "priority") {
            const priority = document.getElementById("new-priority").value;
            await api("PATCH", button.dataset.url, { priority });
            show(`Priority changed to ${priority}.`);
          } else {
            await api("POST", button.dataset.url);
            show(action === "cancel" ? "Cancel requested." : "Retry requested: the job is queued again.");
          }
          await reloadJob(true);
        } catch (error) {
          show(error.message, true);
          button.disabled = false;
        }
      });
    }
  }

  function job(initial) {
    bindJob(initial);
    let quietUntil = 0;
    poll(async () => {
      const root = document.getElementById("job");
      // A finished job seldom changes (a retry from elsewhere): look every 10 s instead of every 2 s.
      if (root.dataset.finished === "true" && Date.now() < quietUntil) return;
      quietUntil = Date.now() + 10000;
      const { data } = await api("GET", root.dataset.statusUrl);
      const progress = data.progress || {};
      const status = document.getElementById("job-status");
      const text = document.getElementById("job-progress");
      const bar = document.getElementById("job-progress-bar");
      if (progress.percent !== undefined) {
        bar.value = progress.percent;
        text.textContent = `${Math.round(progress.percent)}% ${progress.step || ""}`;
      }
      if (data.status !== root.dataset.status) {
        status.textContent = label(data.status);
        await reloadJob();
      }
    });
  }

  // --- replicas -------------------------------------------------------------------------------------

  function when(value) {
    return value ? String(value).replace("T", " ").slice(0, 19) : "—";
  }

  function replicas(root) {
    const tbody = root.querySelector("tbody");
    const slot = (use) => `${(use && use.used) || 0} of ${(use && use.limit) || 0}`;
    poll(async () => {
      const { data } = await api("GET", root.dataset.apiUrl);
      const rows = ((data && data.replicas) || []).map((replica) => {
        const state = el("td", null, { "data-field": "state" });
        state.appendChild(
          el("span", replica.stale ? "stale" : "live", { class: `pill ${replica.stale ? "failed" : "completed"}` }),
        );
        const slots = replica.slots || {};
        const tr = row([
          el("td", replica.id, { class: "mono" }),
          el("td", replica.host || ""),
          el("td", replica.pid ?? ""),
          el("td", replica.version || ""),
          el("td", slot(slots.export)),
          el("td", slot(slots.import)),
          el("td", when(replica.started_at)),
          el("td", when(replica.last_seen)),
          state,
        ]);
        tr.dataset.id = replica.id;
        if (replica.stale) tr.className = "stale";
        return tr;
      });
      replaceRows(tbody, rows, "No replica has written a heartbeat yet.", 9);
      note(`Updated at ${clock()} UTC`);
    });
  }

  const pages = { overview, jobs, "bulk-retry": bulkRetry, job, replicas };

  function start() {
    for (const root of document.querySelectorAll("[data-console]")) {
      const init = pages[root.dataset.console];
      if (init) init(root);
    }
  }

  return { api, poll, start };
})();

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", Console.start);
else Console.start();
