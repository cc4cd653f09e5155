/* offload-hub dashboard: live updates over one WebSocket, no dependencies.
 *
 * Whatever customers and bots wrote is only ever put on the page with textContent (or
 * into form fields' values): this script never builds HTML from data. Rows come from
 * <template> copies the server rendered; slots are named by data-* attributes:
 * data-text (textContent), data-href / data-action / data-datetime (attributes),
 * data-show (hidden unless the value is truthy).
 */
(function () {
  "use strict";

  const body = document.body;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  if (!csrfMeta) return; // signed out: nothing live here
  const csrf = csrfMeta.content;
  const base = body.dataset.base;
  const page = body.dataset.page;
  const handlers = []; // called with every live event
  const resyncs = []; // called after the live channel comes back
  const SIGNED_OUT = 1008; // the live socket's close code (policy violation): sign in again

  const byId = (id) => document.getElementById(id);

  // -- talking to the hub ----------------------------------------------------------------

  class CallError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function call(url, options = {}) {
    const method = options.method || "POST";
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    } else if (options.form) {
      init.body = options.form;
    }
    const response = await fetch(url, init);
    if (response.status === 401) {
      location.assign(base + "login?next=" + encodeURIComponent(location.pathname));
      throw new CallError("You are signed out.", 401);
    }
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    if (!response.ok) {
      const message = (data.error && data.error.message) || "The hub answered " + response.status;
      throw new CallError(message, response.status);
    }
    return data;
  }

  // The live socket carries the agent's messages and typing when it is open (the form's
  // HTTP calls when it is not). Answers come back as "sent" / "refused" events by ref.
  let liveSocket = null;
  let nextRef = 0;
  const waitingRefs = new Map();

  function sendLive(frame) {
    if (!liveSocket || liveSocket.readyState !== WebSocket.OPEN) return null;
    const ref = "r" + ++nextRef;
    liveSocket.send(JSON.stringify({ ...frame, ref }));
    return new Promise((resolve, reject) => waitingRefs.set(ref, { resolve, reject }));
  }

  handlers.push((event) => {
    if (event.type !== "sent" && event.type !== "refused") return;
    const waiting = waitingRefs.get(event.ref);
    if (!waiting) return;
    waitingRefs.delete(event.ref);
    if (event.type === "sent") waiting.resolve(event);
    else waiting.reject(new CallError(event.error.message, event.error.status));
  });

  function liveClosed() {
    liveSocket = null;
    for (const waiting of waitingRefs.values()) {
      waiting.reject(new CallError("The connection to the hub was lost.", 0));
    }
    waitingRefs.clear();
  }

  // -- filling rows from templates ---------------------------------------------------------

  function lookup(row, path) {
    return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), row);
  }

  function localUrl(value) {
    const url = String(value || "");
    return url.startsWith("/") && !url.startsWith("//") ? url : "#";
  }

  function fill(node, row) {
    for (const el of [node, ...node.querySelectorAll("*")]) {
      const slots = el.dataset;
      if (slots.text) el.textContent = String(lookup(row, slots.text) ?? "");
      if (slots.href) el.setAttribute("href", localUrl(lookup(row, slots.href)));
      if (slots.action) el.setAttribute("action", localUrl(lookup(row, slots.action)));
      if (slots.datetime) el.setAttribute("datetime", String(lookup(row, slots.datetime) || ""));
      if (slots.show) el.hidden = !lookup(row, slots.show);
    }
    if (row.id) node.dataset.id = row.id;
    localTimes(node);
    return node;
  }

  function fromTemplate(name, row) {
    const template = document.querySelector('template[data-template="' + name + '"]');
    return fill(template.content.firstElementChild.cloneNode(true), row);
  }

  /* Redraw a table body from rows, keeping the nodes of rows already there. */
  function renderRows(name, rows, fresh) {
    const tbody = document.querySelector('[data-rows="' + name + '"]');
    if (!tbody) return;
    const existing = new Map();
    for (const node of tbody.children) existing.set(node.dataset.id, node);
    rows.forEach((row, index) => {
      let node = existing.get(row.id);
      existing.delete(row.id);
      node = node ? fill(node, row) : fromTemplate(name, row);
      node.classList.toggle("offered", Boolean(row.offered_to_me));
      if (fresh && fresh.has(row.id)) node.classList.add("is-new");
      if (tbody.children[index] !== node) tbody.insertBefore(node, tbody.children[index] || null);
    });
    for (const node of existing.values()) node.remove();
    const empty = document.querySelector('[data-empty="' + name + '"]');
    if (empty) empty.hidden = rows.length > 0;
  }

  // -- times -----------------------------------------------------------------------------------

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " s";
    let minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    return Math.floor(hours / 24) + " d";
  }

  function fileSize(size) {
    if (size < 1024) return size + " B";
    if (size < 1024 * 1024) return Math.round(size / 1024) + " KB";
    return (size / 1024 / 1024).toFixed(1) + " MB";
  }

  function localTimes(root) {
    for (const el of root.querySelectorAll("time[data-local]")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) {
        el.textContent = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      }
    }
    for (const el of root.querySelectorAll("time[data-local-date]")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) {
        el.textContent = new Date(at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
      }
    }
  }

  function tickTimes() {
    const now = Date.now();
    for (const el of document.querySelectorAll("time[data-ticking]")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) el.textContent = duration((now - at) / 1000);
    }
  }

  localTimes(document);
  setInterval(tickTimes, 15000);

  // -- where focus goes when a page opens ------------------------------------------------------

  /* To what the page marks (data-focus: the message box of a chat the agent holds, an
     error after a form), else to the page's heading; a link to a place on the page keeps
     its place. Screen readers then start where the page does, not at the top bar. */
  function placeFocus() {
    if (location.hash) return;
    const target = document.querySelector("main [data-focus]") || document.querySelector("main h1");
    if (!target) return;
    if (target.tabIndex < 0 && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus();
  }
  placeFocus();

  // -- notices ---------------------------------------------------------------------------------

  /* Notices are lines in a polite live region (no sound; screen readers announce each line
     once, as it is added). A notice about an offer to me stays while the offer is pending;
     the others go after 15 s. The same words again add nothing. */
  const notice = byId("notice");
  const NOTICE_SECONDS = 15;

  function noticeLines() {
    return notice ? [...notice.children] : [];
  }

  function notify(text, { error = false, offer = null, about = null } = {}) {
    if (!notice) return;
    // A line about the same conversation says the news in its place (its offer, say).
    const key = about || offer;
    let line = noticeLines().find(
      (node) => node.textContent === text || (key && node.dataset.about === key)
    );
    if (line && line.textContent === text && !error) {
      if (offer) keepWhileOffered(line, offer);
      return;
    }
    const added = !line;
    if (added) {
      line = document.createElement("p");
      line.className = "notice";
    }
    line.textContent = text;
    line.classList.toggle("is-error", error);
    if (key) line.dataset.about = key;
    line.classList.remove("flash");
    if (!added) void line.offsetWidth; // restart the highlight
    line.classList.add("flash");
    clearTimeout(line.timer);
    if (offer) keepWhileOffered(line, offer);
    else line.timer = setTimeout(() => line.remove(), NOTICE_SECONDS * 1000);
    if (added) notice.appendChild(line); // whole: announced as one
  }

  function keepWhileOffered(line, offer) {
    clearTimeout(line.timer);
    line.dataset.about = offer;
    line.dataset.offer = offer;
  }

  /* The offers pending now (from the inbox state): the notice of one no longer pending goes. */
  function offersNow(ids) {
    for (const line of noticeLines()) {
      if (line.dataset.offer && !ids.has(line.dataset.offer)) line.remove();
    }
  }

  // What the server said after the action that led here: put in once the page is there,
  // so that screen readers announce it (text present when a page loads is not announced).
  if (notice && notice.dataset.said) {
    const said = notice.dataset.said;
    setTimeout(() => notify(said), 100);
  }

  // -- the live channel -----------------------------------------------------------------------

  const liveState = byId("live-state");
  let attempts = 0;
  let connectedBefore = false;

  function setLive(text, open) {
    if (liveState) liveState.textContent = text;
    body.dataset.live = open ? "open" : "closed";
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // An admin watching someone else's chat hears its messages live too.
    const watch =
      page === "conversation" && body.dataset.watch === "true"
        ? "?watch=" + encodeURIComponent(body.dataset.conversation)
        : "";
    const socket = new WebSocket(scheme + location.host + base + "live" + watch);
    socket.addEventListener("open", () => {
      liveSocket = socket;
      attempts = 0;
      setLive("Connected", true);
      if (connectedBefore) resyncs.forEach((resync) => resync());
      connectedBefore = true;
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      for (const handler of handlers) {
        try {
          handler(event);
        } catch (error) {
          console.error(error);
        }
      }
    });
    socket.addEventListener("close", (closing) => {
      liveClosed();
      if (closing.code === SIGNED_OUT) {
        location.assign(base + "login");
        return;
      }
      setLive("Reconnecting…", false);
      attempts += 1;
      if (attempts > 2) call(base + "inbox/state", { method: "GET" }).catch(() => {}); // signed out?
      const delay = Math.min(30000, 500 * 2 ** attempts) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }

  // -- status (Online / Away / Offline) -------------------------------------------------------

  const status = byId("status");
  if (status) {
    let current = status.value;
    status.addEventListener("change", async () => {
      try {
        const answer = await call(base + "status", { json: { presence: status.value } });
        // Say what the hub answered: a presence event may have moved the menu meanwhile.
        current = answer.presence;
        status.value = current;
        notify("You are " + status.selectedOptions[0].textContent.trim().toLowerCase() + ".");
      } catch (error) {
        status.value = current;
        notify(error.message, { error: true });
      }
    });
    handlers.push((event) => {
      if (event.type === "presence" || event.type === "hello") {
        status.value = event.presence;
        current = event.presence;
      }
    });
  }

  // -- the inbox (and the badge every page shows) ---------------------------------------------

  const badge = byId("inbox-badge");
  const baseTitle = document.title;
  let knownWaiting = null;
  let inboxBusy = false;
  let inboxAgain = false;
  let inboxTimer = null;
  let offered = null; // a conversation just offered to me, told by the next refresh
  let announced = null; // the last new conversation a notice told about: {id, text}
  const OFFERED = " (offered to you)";

  if (page === "inbox") {
    knownWaiting = new Set(
      [...document.querySelectorAll('[data-rows="waiting"] > [data-id]')].map((n) => n.dataset.id)
    );
  }

  function showCounts(counts) {
    const pending = counts.waiting + counts.unread;
    if (badge) {
      badge.textContent = String(pending);
      badge.hidden = pending === 0;
      badge.title = counts.waiting + " waiting, " + counts.unread + " unread";
    }
    document.title = (pending ? "(" + pending + ") " : "") + baseTitle;
    for (const el of document.querySelectorAll("[data-count]")) {
      const value = counts[el.dataset.count];
      if (value !== undefined) el.textContent = String(value);
    }
  }

  async function refreshInbox() {
    if (inboxBusy) {
      inboxAgain = true;
      return;
    }
    inboxBusy = true;
    try {
      const state = await call(base + "inbox/state", { method: "GET" });
      const fresh = new Set();
      if (knownWaiting) {
        for (const row of state.waiting) if (!knownWaiting.has(row.id)) fresh.add(row.id);
      }
      knownWaiting = new Set(state.waiting.map((row) => row.id));
      showCounts(state.counts);
      if (page === "inbox") {
        renderRows("waiting", state.waiting, fresh);
        renderRows("mine", state.mine);
        renderRows("closed", state.closed);
      }
      // One notice for what this refresh found: a new conversation (saying when it is
      // offered to you), else an offer of one announced before.
      const first = state.waiting.find((row) => fresh.has(row.id));
      const offer = offered && state.waiting.find((row) => row.id === offered && row.offered_to_me);
      if (offer) offered = null; // else a refresh asked before the offer: the next one has it
      if (first) {
        const more = fresh.size > 1 ? " (and " + (fresh.size - 1) + " more)" : "";
        announced = { id: first.id, text: "New conversation waiting: " + first.user + " – " + first.inquiry + more };
        if (first.offered_to_me) notify(announced.text + OFFERED, { offer: first.id });
        else notify(announced.text, { about: first.id });
      } else if (offer && announced && announced.id === offer.id) {
        notify(announced.text + OFFERED, { offer: offer.id });
      } else if (offer) {
        notify("Offered to you: " + offer.user + " – " + offer.inquiry + ". Accept it in the inbox.", {
          offer: offer.id,
        });
      }
      offersNow(new Set(state.waiting.filter((row) => row.offered_to_me).map((row) => row.id)));
    } catch (error) {
      console.error(error);
    } finally {
      inboxBusy = false;
      if (inboxAgain) {
        inboxAgain = false;
        refreshInbox();
      }
    }
  }

  function soonRefreshInbox() {
    clearTimeout(inboxTimer);
    inboxTimer = setTimeout(refreshInbox, 100);
  }

  const INBOX_EVENTS = new Set([
    "inbox.changed",
    "offer",
    "assigned",
    "transferred",
    "offers.withdrawn",
    "closed",
    "message",
    "hello",
    "taken_over",
  ]);
  handlers.push((event) => {
    if (INBOX_EVENTS.has(event.type)) soonRefreshInbox();
    if (event.type === "offer") offered = event.conversationId; // told by the refresh it triggers
    if (event.type === "assigned") notify("A conversation was transferred to you.");
    if (event.type === "taken_over") {
      notify(event.by + " took over one of your conversations.");
    }
    if (event.type === "offers.withdrawn" && event.reason === "expired") {
      notify("An offer you did not accept in time went back to the queue.");
    }
  });
  resyncs.push(soonRefreshInbox);

  // -- the conversation -------------------------------------------------------------------------

  if (page === "conversation") {
    const conversationId = body.dataset.conversation;
    const mine = body.dataset.mine === "true";
    const here = base + "conversations/" + encodeURIComponent(conversationId) + "/";
    const logBox = byId("messages"); // the log region, which scrolls
    const log = logBox.querySelector("ol"); // its list of messages
    const typing = byId("typing");
    const ended = byId("ended");
    const compose = byId("compose");
    const attach = byId("attach");
    const box = byId("message");
    const chatError = byId("chat-error");
    const TICKS = { sending: "Sending…", delivered: "✓ Delivered", read: "✓✓ Read", failed: "Not sent" };
    let readUpTo = null; // the user read my messages up to this id (maybe not drawn yet)
    // This admin is taking the chat over: the page that follows shows it, not a reload.
    let takingOver = false;
    const takeOver = byId("take-over");
    if (takeOver) {
      takeOver.addEventListener("submit", () => {
        takingOver = true;
      });
    }
    let typingTimer = null;

    const scrollDown = () => {
      logBox.scrollTop = logBox.scrollHeight;
    };
    scrollDown();

    function showError(text) {
      if (!chatError) return;
      chatError.textContent = text;
      chatError.hidden = !text;
    }

    function drawn(id) {
      return [...log.children].some((node) => node.dataset.id === id);
    }

    function setTick(node, tick) {
      const el = node.querySelector(".tick");
      if (!el) return;
      el.dataset.tick = tick;
      el.textContent = TICKS[tick];
    }

    function applyRead() {
      if (!readUpTo) return;
      const mineSaid = [...log.querySelectorAll('[data-author="agent"]')];
      const index = mineSaid.findIndex((node) => node.dataset.id === readUpTo);
      if (index < 0) return;
      mineSaid.slice(0, index + 1).forEach((node) => setTick(node, "read"));
    }

    function addMessage(message) {
      if (message.id && drawn(message.id)) return null;
      const template = message.author === "agent" ? "agent-message" : "user-message";
      const node = fromTemplate(template, message);
      if (message.author === "agent") setTick(node, message.tick || "delivered");
      log.appendChild(node);
      scrollDown();
      return node;
    }

    function conversationEnded(text) {
      ended.textContent = text;
      ended.hidden = false;
      typing.hidden = true;
      for (const form of [compose, attach]) {
        if (!form) continue;
        for (const control of form.elements) control.disabled = true;
      }
    }

    // The agent has the chat open: the user's messages are read (their DOUBLE_TICK).
    let lastMarked = null;
    let unmarked = null;
    async function markRead(id) {
      if (!mine || !id || id === lastMarked) return;
      if (document.visibilityState !== "visible") {
        unmarked = id;
        return;
      }
      lastMarked = id;
      try {
        await call(here + "read", { json: { upTo: id } });
        soonRefreshInbox();
      } catch (error) {
        lastMarked = null;
      }
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && unmarked) {
        const id = unmarked;
        unmarked = null;
        markRead(id);
      }
    });
    if (body.dataset.needsRead === "true") markRead(body.dataset.lastUserMessage);

    handlers.push((event) => {
      if (event.conversationId !== conversationId) {
        if (event.type === "inbox.changed" && body.dataset.status === "queued") resync();
        return;
      }
      if (event.type === "message") {
        const media = event.message.media;
        addMessage({
          author: "user",
          id: event.message.id,
          text: event.message.text,
          at: event.message.sentAt,
          media: media && {
            name: media.name,
            size_label: fileSize(media.size),
            url: base + "media/" + encodeURIComponent(media.id),
          },
        });
        typing.hidden = true;
        markRead(event.message.id);
      } else if (event.type === "typing") {
        typing.hidden = !event.typing;
        clearTimeout(typingTimer);
        if (event.typing) {
          typingTimer = setTimeout(() => {
            typing.hidden = true;
          }, 8000);
        }
      } else if (event.type === "read") {
        readUpTo = event.upTo;
        applyRead();
      } else if (event.type === "closed") {
        conversationEnded("This conversation has ended (" + event.reason + ").");
      } else if (event.type === "transferred") {
        conversationEnded("You transferred this conversation.");
      } else if (event.type === "taken_over") {
        conversationEnded(event.by + " took this conversation over.");
      } else if (event.type === "assigned") {
        location.reload();
      } else if (event.type === "agent.message") {
        resync(); // watching: the agent wrote
      } else if (event.type === "changed") {
        if (!takingOver) location.reload(); // watching: taken, transferred, taken over
      }
    });

    async function resync() {
      try {
        const state = await call(here + "state", { method: "GET" });
        for (const message of state.messages) addMessage(message);
        if (state.readUpTo) {
          readUpTo = state.readUpTo;
          applyRead();
        }
        if (state.status !== body.dataset.status) location.reload();
      } catch (error) {
        if (error.status === 403) conversationEnded("Another agent has this conversation now.");
      }
    }
    resyncs.push(resync);

    if (compose && box) {
      let typingOn = false;
      let typingSentAt = 0;
      let idle = null;
      const sendTyping = (on) => {
        typingOn = on;
        const live = sendLive({ type: "typing", conversationId, typing: on });
        (live || call(here + "typing", { json: { typing: on } })).catch(() => {});
      };
      box.addEventListener("input", () => {
        clearTimeout(idle);
        if (!box.value.trim()) {
          if (typingOn) sendTyping(false);
          return;
        }
        if (!typingOn || Date.now() - typingSentAt > 4000) {
          typingSentAt = Date.now();
          sendTyping(true);
        }
        idle = setTimeout(() => sendTyping(false), 3000);
      });
      box.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          compose.requestSubmit();
        }
      });
      compose.addEventListener("submit", async (event) => {
        event.preventDefault();
        const text = box.value.trim();
        if (!text) return;
        clearTimeout(idle);
        typingOn = false; // the hub stops the typing indicator with the message
        showError("");
        const node = addMessage({
          author: "agent",
          agent_name: body.dataset.me,
          text,
          at: new Date().toISOString(),
          tick: "sending",
        });
        box.value = "";
        try {
          const live = sendLive({ type: "message", conversationId, message: text });
          const answer = await (live || call(compose.action, { json: { message: text } }));
          node.dataset.id = answer.message.id;
          setTick(node, "delivered");
          applyRead();
        } catch (error) {
          setTick(node, "failed");
          showError(error.message);
          if (!box.value) box.value = text;
        }
      });
      const canned = byId("canned");
      if (canned) {
        canned.addEventListener("change", () => {
          const option = canned.selectedOptions[0];
          if (option && option.dataset.body) {
            box.value = box.value ? box.value + "\n" + option.dataset.body : option.dataset.body;
            box.dispatchEvent(new Event("input"));
            box.focus();
          }
          canned.value = "";
        });
      }
    }

    if (attach) {
      attach.addEventListener("submit", async (event) => {
        event.preventDefault();
        const input = byId("file");
        if (!input.files.length) return;
        const file = input.files[0];
        showError("");
        const node = addMessage({
          author: "agent",
          agent_name: body.dataset.me,
          text: "",
          at: new Date().toISOString(),
          media: { name: file.name, size_label: fileSize(file.size), url: "" },
          tick: "sending",
        });
        try {
          const answer = await call(attach.action, { form: new FormData(attach) });
          fill(node, { ...answer.message, agent_name: body.dataset.me, at: node.querySelector("time").getAttribute("datetime") });
          setTick(node, "delivered");
          applyRead();
          attach.reset();
        } catch (error) {
          setTick(node, "failed");
          showError(error.message);
        }
      });
    }

    const noteForm = byId("note-form");
    if (noteForm) {
      const notes = byId("notes");
      const noteBox = byId("note");
      noteForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const text = noteBox.value.trim();
        if (!text) return;
        try {
          const answer = await call(noteForm.action, { json: { note: text } });
          notes.appendChild(fromTemplate("note", answer.note));
          noteBox.value = "";
        } catch (error) {
          notify(error.message, { error: true });
        }
      });
    }
  }

  // -- the admins' overview -------------------------------------------------------------------

  if (page === "overview") {
    let overviewTimer = null;
    async function refreshOverview() {
      try {
        const state = await call(base + "admin/overview/state", { method: "GET" });
        fill(byId("figures"), state.figures);
        renderRows("agents", state.agents);
        renderRows("waiting", state.waiting);
        renderRows("ratings_by_agent", state.ratings_by_agent);
        renderRows("ratings_by_queue", state.ratings_by_queue);
      } catch (error) {
        console.error(error);
      }
    }
    const soon = () => {
      clearTimeout(overviewTimer);
      overviewTimer = setTimeout(refreshOverview, 100);
    };
    handlers.push((event) => {
      if (INBOX_EVENTS.has(event.type)) soon();
    });
    resyncs.push(soon);
    setInterval(refreshOverview, 5000);
  }

  connect();
})();
