// Service-level deadlines on screen: a countdown to a ticket's nearest open
// deadline, kept current by one timer for the whole page, and the SLA state
// (warned, breached) rows and the detail pane are highlighted with. The
// server fires the deadlines; this only shows them.
const TICK_MS = 1000;

// "in 4m 05s", "12s overdue": the largest two units that matter.
export function countdownText(dueIso, now = Date.now()) {
  const due = Date.parse(dueIso);
  if (Number.isNaN(due)) return '—';
  const left = Math.round((due - now) / 1000);
  const span = Math.abs(left);
  const d = Math.floor(span / 86400);
  const h = Math.floor((span % 86400) / 3600);
  const m = Math.floor((span % 3600) / 60);
  const s = span % 60;
  const pad = (n) => String(n).padStart(2, '0');
  let text;
  if (d > 0) text = `${d}d ${h}h`;
  else if (h > 0) text = `${h}h ${pad(m)}m`;
  else if (m > 0) text = `${m}m ${pad(s)}s`;
  else text = `${s}s`;
  return left >= 0 ? `in ${text}` : `${text} overdue`;
}

// 'breached', 'warned' or '' for a ticket as the API returns it.
export function slaState(ticket) {
  if (Array.isArray(ticket.sla_breached) && ticket.sla_breached.length > 0) return 'breached';
  if (Array.isArray(ticket.sla_warned) && ticket.sla_warned.length > 0 && ticket.next_due_at) return 'warned';
  return '';
}

// A live countdown to `dueIso` (a dash when there is no open deadline).
export function countdown(dueIso) {
  const node = document.createElement('time');
  if (!dueIso) {
    node.textContent = '—';
    return node;
  }
  node.dateTime = dueIso;
  node.title = `due ${new Date(dueIso).toLocaleString()}`;
  node.dataset.due = dueIso;
  render(node, Date.now());
  return node;
}

function render(node, now) {
  node.textContent = countdownText(node.dataset.due, now);
  node.dataset.overdue = String(Date.parse(node.dataset.due) < now);
}

// One timer re-renders every countdown on the page each second.
setInterval(() => {
  const now = Date.now();
  document.querySelectorAll('time[data-due]').forEach((node) => render(node, now));
}, TICK_MS);
