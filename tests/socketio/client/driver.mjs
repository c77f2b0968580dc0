// Drives real socket.io-client sockets for the Rust black-box tests
// (tests/socketio.rs). One JSON command per line on stdin, one JSON answer
// per line on stdout: {"ok": true, ...} or {"ok": false, "error": "..."}.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const sockets = new Map();

function record(name, socket) {
  const state = {
    socket,
    events: [],
    connects: [],
    connectErrors: [],
    disconnects: [],
    upgraded: false,
  };
  socket.onAny((event, ...args) => state.events.push({ event, args }));
  socket.on("connect", () => state.connects.push({ recovered: socket.recovered === true, id: socket.id }));
  socket.on("connect_error", (err) => state.connectErrors.push({ message: err.message, data: err.data ?? null }));
  socket.on("disconnect", (reason) => state.disconnects.push(reason));
  socket.io.on("open", () => {
    socket.io.engine.on("upgrade", () => { state.upgraded = true; });
  });
  sockets.set(name, state);
  return state;
}

function until(check, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const value = check();
      if (value) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function named(name) {
  const state = sockets.get(name);
  if (!state) throw new Error(`no socket ${name}`);
  return state;
}

function summary(state) {
  const engine = state.socket.io.engine;
  return {
    connected: state.socket.connected,
    recovered: state.socket.recovered === true,
    transport: engine ? engine.transport.name : null,
    connects: state.connects,
    connectErrors: state.connectErrors,
    disconnects: state.disconnects,
    upgraded: state.upgraded,
    events: state.events,
  };
}

const commands = {
  // Opens a socket and waits for its first connect or connect_error.
  async connect({ name, url, auth, transports, extraHeaders, timeoutMs = 10000 }) {
    const options = {
      reconnectionDelay: 100,
      reconnectionDelayMax: 300,
      randomizationFactor: 0,
      forceNew: true,
    };
    if (auth !== undefined) options.auth = auth;
    if (transports !== undefined) options.transports = transports;
    if (extraHeaders !== undefined) options.extraHeaders = extraHeaders;
    const state = record(name, io(url, options));
    await until(() => state.connects.length || state.connectErrors.length, timeoutMs, `${name} to connect`);
    return summary(state);
  },
  async waitUpgrade({ name, timeoutMs = 10000 }) {
    const state = named(name);
    await until(() => state.socket.io.engine && state.socket.io.engine.transport.name === "websocket" && state.upgraded,
      timeoutMs, `${name} to upgrade`);
    return summary(state);
  },
  // Waits until `name` has `count` events (of `event`, when given).
  async waitEvents({ name, count, event, timeoutMs = 10000 }) {
    const state = named(name);
    const matching = () => state.events.filter((e) => event === undefined || e.event === event).length;
    await until(() => matching() >= count, timeoutMs, `${count} events on ${name} (have ${matching()})`);
    return summary(state);
  },
  // Waits until `name` has received the logged event with this offset.
  async waitOffset({ name, offset, timeoutMs = 15000 }) {
    const state = named(name);
    const want = String(offset);
    await until(() => state.events.some((e) => e.args[e.args.length - 1] === want), timeoutMs,
      `offset ${want} on ${name}`);
    return summary(state);
  },
  // Waits until `name` has connected `count` times in all.
  async waitConnects({ name, count, timeoutMs = 15000 }) {
    const state = named(name);
    await until(() => state.connects.length >= count, timeoutMs, `${count} connects of ${name}`);
    return summary(state);
  },
  async waitDisconnect({ name, timeoutMs = 15000 }) {
    const state = named(name);
    await until(() => state.disconnects.length > 0, timeoutMs, `${name} to disconnect`);
    return summary(state);
  },
  async state({ name }) {
    return summary(named(name));
  },
  // Cuts the connection under the socket, as a network failure would (the
  // client did not disconnect). With `hold`, the client does not reconnect
  // until `resume`.
  async cut({ name, hold = false }) {
    const state = named(name);
    if (hold) state.socket.io.reconnection(false);
    state.socket.io.engine.close();
    await until(() => !state.socket.connected, 5000, `${name} to notice the cut`);
    return summary(state);
  },
  // Stops holding: the client reconnects (and asks to recover); with `url`,
  // to another instance, as a load balancer might send it.
  async resume({ name, url }) {
    const state = named(name);
    if (url !== undefined) state.socket.io.uri = url;
    state.socket.io.reconnection(true);
    state.socket.connect();
    return summary(state);
  },
  // Keeps reconnecting off (the server is going away and the test holds the client).
  async hold({ name }) {
    named(name).socket.io.reconnection(false);
    return {};
  },
  async close({ name }) {
    const state = named(name);
    state.socket.disconnect();
    sockets.delete(name);
    return {};
  },
};

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let answer;
  try {
    const command = JSON.parse(line);
    const run = commands[command.cmd];
    if (!run) throw new Error(`unknown command ${command.cmd}`);
    answer = { ok: true, ...(await run(command)) };
  } catch (error) {
    answer = { ok: false, error: String(error && error.message || error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
lines.on("close", () => {
  for (const state of sockets.values()) state.socket.disconnect();
  process.exit(0);
});
