// Live support dashboard: lists every ticket through the staff API and keeps
// the list current from the `/ws` event stream.
//
// Ticket text is untrusted (customers write it). The DOM is built with
// createElement/textContent only, never from HTML strings; the page's CSP
// (no inline code) is the second line of defence.
'use strict';

(() => {
  const TOKEN_KEY = 'support.dashboard.token';
  const PAGE_SIZE = 100;
  const MAX_PAGES = 10; // a full reload reads at most 1,000 tickets
  const FEED_LIMIT = 200;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;

  const el = (id) => document.getElementById(id);
  const ui = {
    state: el('connection-state'),
    signIn: el('sign-in'),
    tokenInput: el('token-input'),
    signInMessage: el('sign-in-message'),
    signOut: el('sign-out'),
    rows: document.querySelector('#tickets tbody'),
    count: el('ticket-count'),
    listMessage: el('list-message'),
    events: el('events'),
  };

  let token = null;
  let socket = null;
  let lastId = null; // highest logged event id seen: `?since=` on reconnect
  let backoff = BACKOFF_MIN_MS;
  let reconnectTimer = null;
  let everLive = false;
  let listStale = false; // the last list load failed: retry on the next open
  // Bumped on every sign-in/sign-out so late answers of an old session are dropped.
  let session = 0;

  const tickets = new Map(); // ticket id -> { ticket, row }
  const refreshing = new Map(); // ticket id -> another fetch wanted after this one

  // ---- state -------------------------------------------------------------

  function setState(state) {
    ui.state.textContent = state;
    ui.state.dataset.state = state;
    const signedIn = state !== 'signed-out' && state !== 'unauthorized';
    ui.signIn.hidden = signedIn;
    ui.signOut.hidden = !signedIn;
  }

  function showMessage(node, text) {
    node.textContent = text || '';
    node.hidden = !text;
  }

  class HttpError extends Error {
    constructor(status) {
      super(`HTTP ${status}`);
      this.status = status;
    }
  }

  async function api(path) {
    const res = await fetch(path, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
    });
    if (!res.ok) throw new HttpError(res.status);
    return (await res.json()).data;
  }

  // A rejected token ends the session; anything else is shown and retried later.
  function failed(error, what) {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      stop('unauthorized');
      showMessage(ui.signInMessage, `The token was refused (HTTP ${error.status}). Paste a valid staff token.`);
      return;
    }
    showMessage(ui.listMessage, `Could not ${what}: ${error.message}. Retrying when the stream reconnects.`);
    listStale = true;
  }

  // ---- tickets -----------------------------------------------------------

  async function loadList() {
    const mine = session;
    try {
      const all = [];
      let cursor = null;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
        if (cursor) query.set('cursor', cursor);
        const data = await api(`/api/support/tickets?${query}`);
        if (mine !== session) return;
        all.push(...data.tickets);
        cursor = data.nextCursor;
        if (!cursor) break;
      }
      all.forEach(upsert);
      listStale = false;
      showMessage(ui.listMessage, cursor ? `Showing the newest ${all.length} tickets.` : '');
    } catch (error) {
      if (mine === session) failed(error, 'load the tickets');
    }
  }

  // Fetches one ticket; events arriving while a fetch is in flight cause
  // exactly one more fetch, not one each.
  async function refreshTicket(id) {
    if (refreshing.has(id)) {
      refreshing.set(id, true);
      return;
    }
    const mine = session;
    try {
      do {
        refreshing.set(id, false);
        const ticket = await api(`/api/support/tickets/${encodeURIComponent(id)}`);
        if (mine !== session) return;
        upsert(ticket);
      } while (refreshing.get(id));
    } catch (error) {
      if (mine === session) failed(error, `refresh ticket ${id}`);
    } finally {
      refreshing.delete(id);
    }
  }

  // Inserts or updates a row. Answers may arrive out of order (a list reload
  // racing a single fetch): an older snapshot never overwrites a newer one.
  // Timestamps share one fixed RFC 3339 format, so they compare as strings.
  function upsert(ticket) {
    const known = tickets.get(ticket.id);
    if (known && known.ticket.updated_at > ticket.updated_at) return;
    const row = known ? known.row : insertRow(ticket.id);
    tickets.set(ticket.id, { ticket, row });
    fillRow(row, ticket);
    if (known && known.ticket.updated_at !== ticket.updated_at) flash(row);
    ui.count.textContent = `(${tickets.size})`;
  }

  // Rows are kept newest first (highest id first), so a new ticket lands on top.
  function insertRow(id) {
    const row = document.createElement('tr');
    row.dataset.ticketId = String(id);
    const before = Array.from(ui.rows.rows).find((r) => Number(r.dataset.ticketId) < id);
    ui.rows.insertBefore(row, before || null);
    return row;
  }

  function cell(field, content) {
    const td = document.createElement('td');
    td.dataset.field = field;
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    return td;
  }

  function badge(kind, value) {
    const span = document.createElement('span');
    span.className = `badge ${kind}`;
    span.dataset.value = value; // styled by app.css per value
    span.textContent = value;
    return span;
  }

  function fillRow(row, t) {
    const description = cell('description', t.description);
    description.title = t.description;
    const updated = cell('updated_at', formatTime(t.updated_at));
    updated.title = t.updated_at;
    row.dataset.status = t.status;
    row.dataset.priority = t.priority;
    row.replaceChildren(
      cell('ticket_number', t.ticket_number),
      cell('customer_id', `#${t.customer_id}`),
      cell('issue_type', String(t.issue_type).replace(/_/g, ' ')),
      cell('status', badge('status', t.status)),
      cell('priority', badge('priority', t.priority)),
      description,
      updated,
    );
  }

  // Restarts the highlight animation of a row that just changed.
  function flash(row) {
    row.classList.remove('flash');
    void row.offsetWidth; // forces a reflow so the animation can run again
    row.classList.add('flash');
  }

  const DATE_FORMAT = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString([], DATE_FORMAT);
  }

  // ---- event feed --------------------------------------------------------

  function addFeedLine(frame) {
    const data = frame.data || {};
    const li = document.createElement('li');
    li.dataset.event = frame.event;
    if (data.ticketId !== undefined) li.dataset.ticketId = String(data.ticketId);

    const time = document.createElement('time');
    const at = new Date(frame.at);
    time.textContent = Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString();
    time.dateTime = String(frame.at || '');
    const name = document.createElement('code');
    name.textContent = frame.event;
    li.append(time, ' ', name);

    const known = tickets.get(data.ticketId);
    const number = data.ticketNumber || (known && known.ticket.ticket_number);
    if (number || data.ticketId !== undefined) {
      const ticket = document.createElement('span');
      ticket.className = 'ticket';
      ticket.textContent = number || `ticket ${data.ticketId}`;
      li.append(' ', ticket);
    }
    const details = [];
    if (data.status) details.push(`→ ${data.status}`);
    if (data.role) details.push(`by ${data.role} ${data.userId ?? ''}`.trim());
    if (data.reason) details.push(`(${data.reason})`);
    if (data.oldest !== undefined) details.push(`(events before ${data.oldest} expired)`);
    const text = document.createElement('span');
    text.textContent = details.join(' ');
    li.append(' ', text);

    ui.events.prepend(li);
    while (ui.events.children.length > FEED_LIMIT) ui.events.lastElementChild.remove();
  }

  // ---- the stream --------------------------------------------------------

  function handleFrame(raw) {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!frame || typeof frame.event !== 'string') return;
    const data = frame.data || {};
    if (Number.isSafeInteger(frame.id) && (lastId === null || frame.id > lastId)) lastId = frame.id;
    addFeedLine(frame);

    if (frame.event === 'stream:resync_required') {
      // Events were lost (expired from the log, or this client lagged): move
      // the resume point past the gap and re-read the current state.
      const floor = Number.isSafeInteger(data.oldest) ? data.oldest - 1 : data.lastId;
      if (Number.isSafeInteger(floor) && (lastId === null || floor > lastId)) lastId = floor;
      loadList();
      return;
    }
    const id = data.ticketId;
    if (!Number.isSafeInteger(id)) return;
    if (frame.event === 'support:ticket_status') {
      // Live-only notice that someone looked at a ticket. Fetch only when it
      // tells us something new: reading a ticket may itself announce one of
      // these, and fetching on each would loop.
      const known = tickets.get(id);
      if (known && known.ticket.status === data.status) return;
    }
    refreshTicket(id);
  }

  function connect() {
    clearTimeout(reconnectTimer);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = lastId === null ? '' : `?since=${lastId}`;
    let ws;
    try {
      // The token travels as a sub-protocol: browsers cannot set headers here.
      ws = new WebSocket(`${scheme}//${location.host}/ws${query}`, ['support.v1', `bearer.${token}`]);
    } catch {
      stop('unauthorized'); // not even a valid sub-protocol token
      showMessage(ui.signInMessage, 'That does not look like a token.');
      return;
    }
    socket = ws;
    setState(everLive ? 'reconnecting' : 'connecting');
    let opened = false;
    let backoffAtOpen = backoff;

    ws.onopen = () => {
      if (socket !== ws) return;
      opened = true;
      everLive = true;
      backoffAtOpen = backoff;
      backoff = BACKOFF_MIN_MS;
      setState('live');
      // Without `since` the stream starts now: re-read the list so nothing
      // that happened between the first load and the subscription is missed.
      if (lastId === null || listStale) loadList();
    };
    ws.onmessage = (message) => {
      if (socket === ws) handleFrame(message.data);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return; // replaced or stopped on purpose
      socket = null;
      if (event.code === 1008 && event.reason === 'token expired') {
        stop('unauthorized');
        showMessage(ui.signInMessage, 'The token expired. Paste a fresh one.');
        return;
      }
      setState('reconnecting');
      // 1013: opened, but the event log is unavailable. That open was no
      // success: keep backing off instead of retrying every half second.
      if (event.code === 1013) backoff = Math.max(backoff, backoffAtOpen);
      if (opened) {
        scheduleReconnect();
        return;
      }
      // The handshake failed and browsers do not say why: ask the API whether
      // the token is still accepted before trying again.
      const mine = session;
      api('/api/support/tickets?limit=1').then(
        () => mine === session && scheduleReconnect(),
        (error) => {
          if (mine !== session) return;
          if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
            failed(error, 'connect');
          } else {
            scheduleReconnect();
          }
        },
      );
    };
  }

  // 0.5 s, 1 s, 2 s, ... up to 10 s; reset by a successful open.
  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  }

  // ---- session -----------------------------------------------------------

  function start(newToken) {
    session += 1;
    token = newToken;
    sessionStorage.setItem(TOKEN_KEY, token);
    lastId = null;
    everLive = false;
    backoff = BACKOFF_MIN_MS;
    showMessage(ui.signInMessage, '');
    showMessage(ui.listMessage, '');
    loadList();
    connect();
  }

  function stop(state) {
    session += 1;
    clearTimeout(reconnectTimer);
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (socket) {
      const ws = socket;
      socket = null; // its close handler then does nothing
      ws.close(1000);
    }
    setState(state);
  }

  function clearData() {
    tickets.clear();
    ui.rows.replaceChildren();
    ui.events.replaceChildren();
    ui.count.textContent = '';
  }

  // `#token=<jwt>`: used once, then removed from the address bar and history.
  function tokenFromFragment() {
    const value = new URLSearchParams(location.hash.slice(1)).get('token');
    if (value === null) return null;
    history.replaceState(null, '', location.pathname + location.search);
    return value.trim() || null;
  }

  ui.signIn.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = ui.tokenInput.value.trim().replace(/^Bearer\s+/i, '');
    ui.tokenInput.value = '';
    if (!value) return;
    clearData();
    start(value);
  });

  ui.signOut.addEventListener('click', () => {
    stop('signed-out');
    clearData();
  });

  const initial = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
  if (initial) start(initial);
  else setState('signed-out');
})();
