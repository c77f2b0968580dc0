// Support dashboard, the staff workspace: the ticket list (tickets.js), one
// ticket's detail and the actions on it (detail.js), kept current from the
// `/ws` event stream by this module, which also owns the session.
//
// Ticket text is untrusted (customers write it). The DOM is built with
// createElement/textContent only, never from HTML strings; the page's CSP
// (no inline code) is the second line of defence.
import { auth, claimsOf, get, refusesSession } from './api.js';
import * as detail from './detail.js';
import * as list from './tickets.js';
import { el, formatTime, showMessage } from './util.js';

const TOKEN_KEY = 'support.dashboard.token';
const FEED_LIMIT = 200;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;

const ui = {
  state: el('connection-state'),
  whoami: el('whoami'),
  signIn: el('sign-in'),
  tokenInput: el('token-input'),
  signInMessage: el('sign-in-message'),
  signOut: el('sign-out'),
  events: el('events'),
};

let socket = null;
let lastId = null; // highest logged event id seen: `?since=` on reconnect
let backoff = BACKOFF_MIN_MS;
let reconnectTimer = null;
let everLive = false;

// ---- state ----------------------------------------------------------------

function setState(state) {
  ui.state.textContent = state;
  ui.state.dataset.state = state;
  const signedIn = state !== 'signed-out' && state !== 'unauthorized';
  ui.signIn.hidden = signedIn;
  ui.signOut.hidden = !signedIn;
  ui.whoami.hidden = !signedIn || auth.me === null;
}

// A refused token ends the session.
function rejected(error) {
  stop('unauthorized');
  showMessage(ui.signInMessage, `The token was refused (HTTP ${error.status}). Paste a valid staff token.`);
}

// A failed read: a refused token ends the session; anything else is shown
// and retried when the stream reconnects.
function failed(error, what) {
  if (refusesSession(error, { reading: true })) {
    rejected(error);
    return;
  }
  list.showListMessage(`Could not ${what}: ${error.message}. Retrying when the stream reconnects.`);
}

list.on('failed', failed);
list.on('fetched', detail.showTicket);
list.on('open', detail.openTicket);
detail.whenRejected(rejected);

// ---- event feed -----------------------------------------------------------

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

  const known = list.known(data.ticketId);
  const number = data.ticketNumber || (known && known.ticket_number);
  if (number || data.ticketId !== undefined) {
    const ticket = document.createElement('span');
    ticket.className = 'ticket';
    ticket.textContent = number || `ticket ${data.ticketId}`;
    li.append(' ', ticket);
  }
  const details = [];
  // Assignments and comments carry the status too, but do not change it.
  const deadline = frame.event === 'support:sla_warning' || frame.event === 'support:sla_breached';
  const moved = frame.event !== 'support:ticket_assigned' && frame.event !== 'support:comment_added' && !deadline;
  if (data.status && moved) details.push(`→ ${data.status}`);
  if (deadline && data.metric) details.push(`${data.metric.replace(/_/g, ' ')} due ${formatTime(data.dueAt)}`);
  if (frame.event === 'support:ticket_assigned') {
    details.push(data.staffId == null ? 'unassigned' : `to #${data.staffId}`);
  }
  if (frame.event === 'support:comment_added') details.push(data.internal ? 'internal note' : 'reply');
  if (data.role) details.push(`by ${data.role} ${data.userId ?? ''}`.trim());
  if (data.reason) details.push(`(${data.reason})`);
  if (data.oldest !== undefined) details.push(`(events before ${data.oldest} expired)`);
  const text = document.createElement('span');
  text.textContent = details.join(' ');
  li.append(' ', text);

  ui.events.prepend(li);
  while (ui.events.children.length > FEED_LIMIT) ui.events.lastElementChild.remove();
}

// ---- the stream -----------------------------------------------------------

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
    list.loadList();
    const open = detail.openTicketId();
    if (open !== null) detail.openTicket(open);
    return;
  }
  const id = data.ticketId;
  if (!Number.isSafeInteger(id)) return;
  if (frame.event === 'support:ticket_status') {
    // Live-only notice that someone looked at a ticket. Read only when it
    // tells us something new: reading a ticket may itself announce one of
    // these, and reading on each would loop.
    const known = list.known(id);
    if (known && known.status === data.status) return;
  }
  // Whoever made the change (this dashboard, another, a customer), every
  // dashboard re-reads the ticket: its row, and the pane if it is open.
  list.refreshTicket(id);
  if (detail.openTicketId() === id) detail.refreshComments(id);
}

function connect() {
  clearTimeout(reconnectTimer);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = lastId === null ? '' : `?since=${lastId}`;
  let ws;
  try {
    // The token travels as a sub-protocol: browsers cannot set headers here.
    ws = new WebSocket(`${scheme}//${location.host}/ws${query}`, ['support.v1', `bearer.${auth.token}`]);
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
    if (lastId === null || list.listIsStale()) list.loadList();
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
    const mine = auth.session;
    get('/api/support/tickets?limit=1').then(
      () => mine === auth.session && scheduleReconnect(),
      (error) => {
        if (mine !== auth.session) return;
        if (refusesSession(error, { reading: true })) rejected(error);
        else scheduleReconnect();
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

// ---- session --------------------------------------------------------------

function start(token) {
  auth.session += 1;
  auth.token = token;
  Object.assign(auth, claimsOf(token));
  ui.whoami.textContent = auth.me === null ? '' : `Signed in as #${auth.me}${auth.role ? ` (${auth.role})` : ''}`;
  sessionStorage.setItem(TOKEN_KEY, token);
  lastId = null;
  everLive = false;
  backoff = BACKOFF_MIN_MS;
  showMessage(ui.signInMessage, '');
  list.showListMessage('');
  list.loadList();
  connect();
}

function stop(state) {
  auth.session += 1;
  clearTimeout(reconnectTimer);
  auth.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (socket) {
    const ws = socket;
    socket = null; // its close handler then does nothing
    ws.close(1000);
  }
  setState(state);
}

function clearData() {
  list.reset();
  detail.reset();
  ui.events.replaceChildren();
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
