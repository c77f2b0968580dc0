// DOM helpers shared by the dashboard's modules. Text from the API is
// untrusted (customers write it): it only ever goes in via textContent.

export const el = (id) => document.getElementById(id);

// Shows `text` in a message element (hidden when empty); `kind` styles it.
export function showMessage(node, text, kind = '') {
  node.textContent = text || '';
  node.dataset.kind = kind;
  node.hidden = !text;
}

export function badge(kind, value) {
  const span = document.createElement('span');
  span.className = `badge ${kind}`;
  span.dataset.value = value; // styled by app.css per value
  span.textContent = value;
  return span;
}

// A <time> showing `iso` in local time, with the exact value in its title.
export function timeNode(iso, format = DATE_FORMAT) {
  const node = document.createElement('time');
  node.dateTime = String(iso || '');
  node.title = String(iso || '');
  node.textContent = formatTime(iso, format);
  return node;
}

export const DATE_FORMAT = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };

export function formatTime(iso, format = DATE_FORMAT) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString([], format);
}

// Restarts the highlight animation of an element that just changed.
export function flash(node) {
  node.classList.remove('flash');
  void node.offsetWidth; // forces a reflow so the animation can run again
  node.classList.add('flash');
}

export const humanize = (value) => String(value).replace(/_/g, ' ');

// Whether snapshot `a` of a ticket is older than `b`. Answers may arrive out
// of order (a list reload racing a single read); the version counts every
// change, the timestamps (one fixed RFC 3339 format) are the fallback.
export function isOlder(a, b) {
  if (Number.isSafeInteger(a.version) && Number.isSafeInteger(b.version)) {
    return a.version < b.version;
  }
  return a.updated_at < b.updated_at;
}
