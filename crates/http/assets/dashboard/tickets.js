// The ticket list: loaded through the staff API with the chosen filters,
// one row per matching ticket, newest first or nearest deadline first. Single tickets are re-read
// when the stream says they changed; other modules listen to those reads.
import { auth, get, ticketPath } from './api.js';
import { countdown, slaState } from './deadlines.js';
import { badge, el, flash, humanize, isOlder, showMessage, timeNode } from './util.js';

const PAGE_SIZE = 100;
const MAX_PAGES = 10; // a full reload reads at most 1,000 tickets

const ui = {
  rows: document.querySelector('#tickets tbody'),
  count: el('ticket-count'),
  message: el('list-message'),
  status: el('filter-status'),
  assignee: el('filter-assignee'),
  sla: el('filter-sla'),
  sort: el('sort'),
};

// Every ticket read in this session: id -> { ticket, row }. `row` is null
// while the filter hides the ticket; the snapshot still guards against an
// older answer arriving late.
const tickets = new Map();
const refreshing = new Map(); // ticket id -> { again, done } of the read in flight
const listeners = { fetched: [], failed: [], open: [] };
let loads = 0; // bumped per list load: an overtaken load (filter changed) is dropped
let stale = false; // the last list load failed: retry on the next stream open
let selected = null;

// 'fetched' (ticket): a fresh read of one ticket, history included.
// 'failed' (error, what): a read failed. 'open' (id): a row was chosen.
export function on(name, fn) {
  listeners[name].push(fn);
}

function emit(name, ...args) {
  listeners[name].forEach((fn) => fn(...args));
}

export const known = (id) => (tickets.has(id) ? tickets.get(id).ticket : null);
export const listIsStale = () => stale;

function filter() {
  return { status: ui.status.value, assignee: ui.assignee.value, sla: ui.sla.value, sort: ui.sort.value };
}

// The filter applied to a ticket read on its own (live updates), so that a
// ticket leaves or joins the list as it changes. "me" needs the token's
// subject; without one the server's answer is trusted.
function matches(ticket) {
  const { status, assignee, sla, sort } = filter();
  if (status && ticket.status !== status) return false;
  const breached = Array.isArray(ticket.sla_breached) && ticket.sla_breached.length > 0;
  if (sla === 'breached' && !breached) return false;
  // Ordered by deadline, the server lists only tickets with an open one.
  if (sort === 'due' && !ticket.next_due_at) return false;
  if (assignee === 'none') return ticket.assigned_staff_id == null;
  if (assignee === 'me' && auth.me !== null) return ticket.assigned_staff_id === auth.me;
  return true;
}

export async function loadList() {
  const mine = auth.session;
  loads += 1;
  const load = loads;
  const { status, assignee, sla, sort } = filter();
  try {
    const all = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (status) query.set('status', status);
      if (assignee) query.set('assignee', assignee);
      if (sla === 'breached') query.set('breached', 'true');
      if (sort === 'due') query.set('sort', 'due');
      if (cursor) query.set('cursor', cursor);
      const data = await get(`/api/support/tickets?${query}`);
      if (mine !== auth.session || load !== loads) return;
      all.push(...data.tickets);
      cursor = data.nextCursor;
      if (!cursor) break;
    }
    all.forEach(upsert);
    stale = false;
    showMessage(ui.message, cursor ? `Showing the newest ${all.length} matching tickets.` : '');
  } catch (error) {
    if (mine !== auth.session || load !== loads) return;
    stale = true;
    emit('failed', error, 'load the tickets');
  }
}

// Reads one ticket; events arriving while a read is in flight cause exactly
// one more read, not one each. The promise settles when the ticket as read
// is at least as new as when this was called (actions wait for it before
// offering the next one, whose If-Match needs the new version).
export function refreshTicket(id) {
  const running = refreshing.get(id);
  if (running) {
    running.again = true;
    return running.done;
  }
  const state = { again: false, done: null };
  refreshing.set(id, state);
  const mine = auth.session;
  state.done = (async () => {
    try {
      do {
        state.again = false;
        const ticket = await get(ticketPath(id));
        if (mine !== auth.session) return;
        upsert(ticket);
        emit('fetched', ticket);
      } while (state.again);
    } catch (error) {
      if (mine === auth.session) {
        stale = true;
        emit('failed', error, `refresh ticket ${id}`);
      }
    } finally {
      if (refreshing.get(id) === state) refreshing.delete(id);
    }
  })();
  return state.done;
}

// Inserts, updates or (when the filter no longer matches) removes a row.
export function upsert(ticket) {
  const entry = tickets.get(ticket.id);
  if (entry && isOlder(ticket, entry.ticket)) return;
  const changed =
    entry && (entry.ticket.version !== ticket.version || entry.ticket.updated_at !== ticket.updated_at);
  let row = entry ? entry.row : null;
  if (matches(ticket)) {
    if (row && filter().sort === 'due' && entry.ticket.next_due_at !== ticket.next_due_at) {
      row.remove(); // its deadline moved: so does its place
      row = null;
    }
    if (!row) row = insertRow(ticket);
    fillRow(row, ticket);
    if (changed) flash(row);
  } else if (row) {
    row.remove();
    row = null;
  }
  tickets.set(ticket.id, { ticket, row });
  ui.count.textContent = `(${ui.rows.rows.length})`;
}

// Whether the row of ticket (due, id) goes before `row`: newest first (a new
// ticket lands on top), or nearest deadline first, then by id as the server.
function goesBefore(due, id, row) {
  const rowId = Number(row.dataset.ticketId);
  if (filter().sort !== 'due') return rowId < id;
  const rowDue = row.dataset.due || '';
  return rowDue > due || (rowDue === due && rowId > id);
}

function insertRow(ticket) {
  const id = ticket.id;
  const row = document.createElement('tr');
  row.dataset.ticketId = String(id);
  row.dataset.due = ticket.next_due_at || '';
  row.tabIndex = 0; // opened with Enter as well as a click
  if (id === selected) row.setAttribute('aria-current', 'true');
  const due = ticket.next_due_at || '';
  const before = Array.from(ui.rows.rows).find((r) => goesBefore(due, id, r));
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

export function assigneeText(staffId) {
  if (staffId == null) return 'Unassigned';
  return staffId === auth.me ? `#${staffId} (me)` : `#${staffId}`;
}

function fillRow(row, t) {
  const description = cell('description', t.description);
  description.title = t.description;
  const assignee = cell('assignee', assigneeText(t.assigned_staff_id));
  assignee.dataset.staffId = t.assigned_staff_id == null ? '' : String(t.assigned_staff_id);
  row.dataset.status = t.status;
  row.dataset.priority = t.priority;
  row.dataset.sla = slaState(t);
  row.dataset.due = t.next_due_at || '';
  row.replaceChildren(
    cell('ticket_number', t.ticket_number),
    cell('customer_id', `#${t.customer_id}`),
    cell('issue_type', humanize(t.issue_type)),
    cell('status', badge('status', t.status)),
    cell('priority', badge('priority', t.priority)),
    assignee,
    description,
    cell('next_due_at', countdown(t.next_due_at)),
    cell('updated_at', timeNode(t.updated_at)),
  );
}

// Marks the row of the ticket open in the detail pane.
export function select(id) {
  selected = id;
  for (const row of ui.rows.rows) {
    if (Number(row.dataset.ticketId) === id) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }
}

export function reset() {
  loads += 1;
  stale = false;
  selected = null;
  tickets.clear();
  refreshing.clear(); // reads of the old session drop their answers
  ui.rows.replaceChildren();
  ui.count.textContent = '';
  showMessage(ui.message, '');
}

export function showListMessage(text) {
  showMessage(ui.message, text);
}

function rowId(event) {
  const row = event.target.closest('tr[data-ticket-id]');
  return row ? Number(row.dataset.ticketId) : null;
}

ui.rows.addEventListener('click', (event) => {
  const id = rowId(event);
  if (id !== null) emit('open', id);
});

ui.rows.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' && event.key !== ' ') return;
  const id = rowId(event);
  if (id === null) return;
  event.preventDefault(); // Space would scroll the page
  emit('open', id);
});

// A new filter starts from an empty list: the rows of the old one may not match.
function filterChanged() {
  for (const entry of tickets.values()) {
    if (entry.row) entry.row.remove();
    entry.row = null;
  }
  ui.count.textContent = '(0)';
  showMessage(ui.message, '');
  if (auth.token) loadList();
}

ui.status.addEventListener('change', filterChanged);
ui.assignee.addEventListener('change', filterChanged);
ui.sla.addEventListener('change', filterChanged);
ui.sort.addEventListener('change', filterChanged);
