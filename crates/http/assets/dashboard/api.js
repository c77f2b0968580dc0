// The staff API: one fetch wrapper that sends the token, reads the
// envelope, and turns a failure into an ApiError carrying the server's
// message (shown to the user as is).

// Who is signed in. `session` is bumped on every sign-in and sign-out so
// that late answers of an old session can be dropped.
export const auth = { token: null, session: 0, me: null, role: null };

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// `{sub | id, role}` of the token, for display and for "assigned to me".
// Not verified here: the server does that on every request.
export function claimsOf(token) {
  try {
    const part = token.split('.')[1];
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')));
    const id = Number(claims.sub ?? claims.id);
    return {
      me: Number.isSafeInteger(id) && id > 0 ? id : null,
      role: typeof claims.role === 'string' ? claims.role : null,
    };
  } catch {
    return { me: null, role: null };
  }
}

// The envelope's message, with the invalid fields a VALIDATION failure names.
function failureText(status, body) {
  if (!body || typeof body.message !== 'string' || !body.message) return `HTTP ${status}`;
  const fields = body.details && Array.isArray(body.details.fields) ? body.details.fields : [];
  const named = fields
    .filter((f) => f && typeof f.field === 'string' && typeof f.message === 'string')
    .map((f) => `${f.field}: ${f.message}`);
  return named.length ? `${body.message} (${named.join('; ')})` : body.message;
}

// `ifMatch`: the ticket version the user decided on, sent as a strong ETag.
export async function request(method, path, { body, ifMatch } = {}) {
  const headers = { Authorization: `Bearer ${auth.token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (Number.isSafeInteger(ifMatch)) headers['If-Match'] = `"${ifMatch}"`;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    payload = null; // not JSON (a proxy's page): the status says enough
  }
  if (!res.ok) throw new ApiError(res.status, failureText(res.status, payload), payload);
  return { data: payload ? payload.data : null, message: payload && payload.message };
}

export const get = async (path) => (await request('GET', path)).data;

export const ticketPath = (id) => `/api/support/tickets/${encodeURIComponent(id)}`;

// A read refused with 401 or 403 means the token is no good here: the
// session ends. An action refused with 403 (one missing permission) is an
// answer to show; only its 401 ends the session.
export function refusesSession(error, { reading }) {
  if (!(error instanceof ApiError)) return false;
  return error.status === 401 || (reading && error.status === 403);
}
