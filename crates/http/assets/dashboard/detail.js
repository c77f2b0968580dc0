// The detail pane: one ticket's fields, history and conversation, and the
// staff actions on it. Every change goes out with `If-Match` set to the
// version of the ticket as shown, so acting on a stale view gets the
// server's 412 instead of overriding a change the user has not seen.
import { auth, get, refusesSession, request, ticketPath } from './api.js';
import { countdown } from './deadlines.js';
import { assigneeText, known, refreshTicket, select, upsert } from './tickets.js';
import { badge, el, flash, formatTime, humanize, isOlder, showMessage, timeNode } from './util.js';

const COMMENT_PAGE = 100;
const MAX_COMMENT_PAGES = 10; // at most 1,000 comments are shown

const ui = {
  pane: el('detail'),
  fields: document.querySelector('#detail .fields'),
  number: el('detail-number'),
  description: el('detail-description'),
  status: el('detail-status'),
  priority: el('detail-priority'),
  assignee: el('detail-assignee'),
  resolution: el('detail-resolution'),
  firstResponse: el('detail-first-response'),
  responseDue: el('detail-response-due'),
  resolutionDue: el('detail-resolution-due'),
  version: el('detail-version'),
  customer: el('detail-customer'),
  created: el('detail-created'),
  message: el('detail-message'),
  note: el('action-note'),
  resolutionType: el('resolution-type'),
  resolutionDetails: el('resolution-details'),
  comments: el('comments'),
  history: el('history'),
  reply: el('reply'),
  replyBody: el('reply-body'),
  replyInternal: el('reply-internal'),
  replySend: el('reply-send'),
  close: el('detail-close'),
};

// `allowed` mirrors the server's state machine only to spare pointless
// clicks; the server decides, and its refusal is shown as it words it.
const ACTIONS = {
  'assign-me': {
    path: 'assign',
    allowed: (t) => t.status !== 'closed' && (auth.me === null || t.assigned_staff_id !== auth.me),
  },
  start: { path: 'start', allowed: (t) => t.status === 'open' || t.status === 'escalated' },
  escalate: { path: 'escalate', allowed: (t) => t.status === 'open' || t.status === 'in_progress' },
  resolve: {
    path: 'resolve',
    allowed: (t) => ['open', 'in_progress', 'escalated'].includes(t.status),
    body: () => ({
      resolution: { type: ui.resolutionType.value, details: ui.resolutionDetails.value },
    }),
  },
  close: { path: 'close', allowed: (t) => t.status !== 'closed' },
  reopen: { path: 'reopen', allowed: (t) => t.status === 'resolved' },
};

let openId = null;
let shown = null; // the ticket as shown: its version is the If-Match of the next change
let busy = false; // a change is in flight: one at a time
const commentReads = new Map(); // ticket id -> another read wanted after this one
let onRejected = () => {};

export const openTicketId = () => openId;

// `fn(error)` ends the session when the server refuses the token.
export function whenRejected(fn) {
  onRejected = fn;
}

// ---- showing a ticket -------------------------------------------------------

export function openTicket(id) {
  if (id !== openId) {
    openId = id;
    shown = null;
    // Drafts belong to the ticket they were written for.
    ui.note.value = '';
    ui.resolutionType.value = '';
    ui.resolutionDetails.value = '';
    ui.replyBody.value = '';
    ui.replyInternal.checked = false;
    showMessage(ui.message, '');
    ui.comments.replaceChildren();
    ui.history.replaceChildren();
    const listed = known(id);
    if (listed) render(listed);
    else renderControls();
  }
  ui.pane.dataset.ticketId = String(id);
  ui.pane.hidden = false;
  select(id);
  refreshTicket(id);
  refreshComments(id);
}

export function closeTicket() {
  openId = null;
  shown = null;
  delete ui.pane.dataset.ticketId;
  ui.pane.hidden = true;
  select(null);
}

// A fresh read of some ticket: shown if it is the open one and not older.
export function showTicket(ticket) {
  if (ticket.id !== openId) return;
  if (shown && shown.id === ticket.id && isOlder(ticket, shown)) return;
  render(ticket);
}

// One deadline: breached (whatever happened after), met, or counting down.
function deadline(node, t, metric, dueIso, fulfilledIso) {
  const breached = Array.isArray(t.sla_breached) && t.sla_breached.includes(metric);
  const warned = Array.isArray(t.sla_warned) && t.sla_warned.includes(metric);
  node.dataset.sla = breached ? 'breached' : fulfilledIso ? 'met' : warned ? 'warned' : '';
  if (!dueIso) {
    node.replaceChildren('—');
    return;
  }
  const label = breached ? 'breached, was due ' : fulfilledIso ? 'met, was due ' : '';
  node.replaceChildren(label, breached || fulfilledIso ? timeNode(dueIso) : countdown(dueIso));
}

function render(t) {
  const changed = shown && shown.id === t.id && shown.version !== t.version;
  shown = t;
  ui.number.textContent = t.ticket_number;
  ui.description.textContent = t.description;
  ui.status.replaceChildren(badge('status', t.status));
  ui.priority.replaceChildren(badge('priority', t.priority));
  ui.assignee.textContent = assigneeText(t.assigned_staff_id);
  ui.assignee.dataset.staffId = t.assigned_staff_id == null ? '' : String(t.assigned_staff_id);
  const resolution = t.resolution || null;
  ui.resolution.textContent = resolution ? `${humanize(resolution.type)}: ${resolution.details}` : '—';
  ui.resolution.dataset.type = resolution ? resolution.type : '';
  ui.firstResponse.replaceChildren(t.first_responded_at ? timeNode(t.first_responded_at) : '—');
  deadline(ui.responseDue, t, 'first_response', t.first_response_due_at, t.first_responded_at);
  deadline(ui.resolutionDue, t, 'resolution', t.resolution_due_at, t.resolved_at || t.closed_at);
  ui.version.textContent = Number.isSafeInteger(t.version) ? String(t.version) : '—';
  const about = [`#${t.customer_id}`, humanize(t.issue_type)];
  if (t.order_id != null) about.push(`order ${t.order_id}`);
  if (t.booking_id != null) about.push(`booking ${t.booking_id}`);
  ui.customer.textContent = about.join(' · ');
  ui.created.replaceChildren(timeNode(t.created_at));
  // Action answers carry no history: keep the last one read until the re-read.
  if (Array.isArray(t.history)) ui.history.replaceChildren(...t.history.map(historyNode));
  renderControls();
  if (changed) flash(ui.fields);
}

function renderControls() {
  for (const [name, action] of Object.entries(ACTIONS)) {
    const button = el(`action-${name}`);
    button.disabled = busy || !shown || !action.allowed(shown);
  }
  // Inputs stay enabled while busy (disabling would take the focus away).
  const resolvable = Boolean(shown) && ACTIONS.resolve.allowed(shown);
  ui.resolutionType.disabled = !resolvable;
  ui.resolutionDetails.disabled = !resolvable;
  const open = Boolean(shown) && shown.status !== 'closed';
  ui.replyBody.disabled = !open;
  ui.replySend.disabled = busy || !open;
}

function historyNode(event) {
  const d = event.data || {};
  const li = document.createElement('li');
  li.dataset.event = event.event;
  const name = document.createElement('code');
  name.textContent = String(event.event).replace(/^support:/, '');
  let what = '';
  if (event.event === 'support:ticket_status_changed') {
    what = `${humanize(d.previousStatus)} → ${humanize(d.status)}`;
  } else if (event.event === 'support:ticket_assigned') {
    what = d.staffId == null ? 'unassigned' : `to ${assigneeText(d.staffId)}`;
  } else if (event.event === 'support:comment_added') {
    what = d.internal ? 'internal note' : 'reply';
  } else if (event.event === 'support:sla_warning' || event.event === 'support:sla_breached') {
    what = `${humanize(d.metric)} due ${formatTime(d.dueAt)}`;
  } else if (d.status) {
    what = `→ ${humanize(d.status)}`;
  }
  // The service's own changes (deadlines) have no user: `by system`.
  const by = d.userId == null ? d.role : `${d.role} #${d.userId}`;
  const reason = d.reason ? `(${humanize(d.reason)})` : '';
  const text = document.createElement('span');
  text.textContent = [what, d.role ? `by ${by}` : '', reason].filter(Boolean).join(' ');
  li.append(timeNode(event.at), ' ', name, ' ', text);
  if (d.resolution) li.append(line('resolution', `${humanize(d.resolution.type)}: ${d.resolution.details}`));
  if (d.note) li.append(line('note', `Note: ${d.note}`));
  return li;
}

function line(kind, text) {
  const div = document.createElement('div');
  div.className = kind;
  div.textContent = text;
  return div;
}

// ---- the conversation -------------------------------------------------------

// Reads every comment of a ticket, oldest first; coalesced like ticket reads.
export async function refreshComments(id) {
  if (commentReads.has(id)) {
    commentReads.set(id, true);
    return;
  }
  const mine = auth.session;
  try {
    do {
      commentReads.set(id, false);
      const all = [];
      let cursor = null;
      for (let page = 0; page < MAX_COMMENT_PAGES; page += 1) {
        const query = new URLSearchParams({ limit: String(COMMENT_PAGE) });
        if (cursor) query.set('cursor', cursor);
        const data = await get(`${ticketPath(id)}/comments?${query}`);
        if (mine !== auth.session || id !== openId) return;
        all.push(...data.comments);
        cursor = data.nextCursor;
        if (!cursor) break;
      }
      renderComments(all);
    } while (commentReads.get(id));
  } catch (error) {
    if (mine === auth.session && id === openId) readFailed(error, 'load the conversation');
  } finally {
    commentReads.delete(id);
  }
}

function renderComments(comments) {
  const atEnd = ui.comments.scrollTop + ui.comments.clientHeight >= ui.comments.scrollHeight - 4;
  if (!comments.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'No comments yet.';
    ui.comments.replaceChildren(li);
    return;
  }
  ui.comments.replaceChildren(...comments.map(commentNode));
  if (atEnd) ui.comments.scrollTop = ui.comments.scrollHeight; // follow new replies
}

function commentNode(c) {
  const li = document.createElement('li');
  li.className = c.internal ? 'comment internal' : 'comment';
  li.dataset.commentId = String(c.id);
  li.dataset.internal = String(Boolean(c.internal));
  const author = document.createElement('span');
  author.className = 'author';
  const who = c.authorRole === 'customer' ? 'Customer' : humanize(c.authorRole);
  author.textContent = `${who} #${c.authorId}${c.authorId === auth.me ? ' (me)' : ''}`;
  const head = document.createElement('div');
  head.className = 'comment-head';
  head.append(author, ' ', timeNode(c.createdAt));
  // Marked in words, not only by colour.
  if (c.internal) head.append(' ', badge('internal', 'Internal note'));
  const body = document.createElement('p');
  body.className = 'comment-body';
  body.textContent = c.body;
  li.append(head, body);
  return li;
}

// ---- changes ----------------------------------------------------------------

function setBusy(value) {
  busy = value;
  renderControls();
}

// Sends one change of the shown ticket; on success waits for the re-read so
// the next change carries the new version.
async function change(path, body, done) {
  if (busy || !shown) return;
  const id = shown.id;
  const mine = auth.session;
  setBusy(true);
  showMessage(ui.message, '');
  try {
    const answer = await request('POST', `${ticketPath(id)}/${path}`, { body, ifMatch: shown.version });
    if (mine !== auth.session || id !== openId) return;
    showMessage(ui.message, done(answer), 'ok');
    await refreshTicket(id);
  } catch (error) {
    if (mine !== auth.session || id !== openId) return;
    if (refusesSession(error, { reading: false })) {
      onRejected(error);
      return;
    }
    showMessage(ui.message, error.message, 'error');
    // A stale view (412) or a refused move: show what the ticket is now.
    refreshTicket(id);
  } finally {
    setBusy(false);
  }
}

function act(name) {
  const action = ACTIONS[name];
  const body = action.body ? action.body() : {};
  const note = ui.note.value.trim();
  if (note) body.note = note;
  change(action.path, body, ({ data, message }) => {
    ui.note.value = '';
    if (name === 'resolve') {
      ui.resolutionType.value = '';
      ui.resolutionDetails.value = '';
    }
    if (data && data.id === openId) {
      upsert(data);
      showTicket(data);
    }
    const points = data && data.gamificationError;
    return points ? `${message} (points not awarded: ${points.message})` : message || 'Done';
  });
}

for (const name of Object.keys(ACTIONS)) {
  el(`action-${name}`).addEventListener('click', () => act(name));
}

ui.reply.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!shown) return;
  const id = shown.id;
  const text = ui.replyBody.value;
  // The checkbox keeps its state after sending: a note sent public by
  // mistake would reach the customer; the reverse is harmless.
  const internal = ui.replyInternal.checked;
  change('comments', { body: text, internal }, ({ message }) => {
    if (ui.replyBody.value === text) ui.replyBody.value = ''; // unless typing went on
    refreshComments(id);
    return internal ? `${message || 'Comment added'} (internal note)` : message || 'Comment added';
  });
});

ui.close.addEventListener('click', closeTicket);

function readFailed(error, what) {
  if (refusesSession(error, { reading: true })) {
    onRejected(error);
    return;
  }
  showMessage(ui.message, `Could not ${what}: ${error.message}`, 'error');
}

export function reset() {
  closeTicket();
  commentReads.clear();
  ui.comments.replaceChildren();
  ui.history.replaceChildren();
  showMessage(ui.message, '');
}
