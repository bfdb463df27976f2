// rill.js — the browser client of Rill (https://github.com/…/rill, Clients/js/README.md).
// A dependency-free ES module: no build step. Served by rill-hub and the examples at /rill.js.
//
//   import { subscribe } from '/rill.js';
//   const stream = subscribe('/stream', { channels: ['news'], onEvent: (e) => console.log(e.type, e.data) });
//
// One tab of an origin (the leader, elected with Web Locks or, without them, over a
// BroadcastChannel) holds the stream; the other tabs get its events over a BroadcastChannel.
// A watchdog reopens a silent stream, a token callback is called before `exp`, and the last
// event id survives a reload (sessionStorage).

const DEFAULT_HEARTBEAT_MS = 15000; // the server's default heartbeat interval
const DEFAULT_RETRY_MS = 3000; // until the server's `retry:` says otherwise
const MAX_BACKOFF_MS = 30000;
const SEEN_IDS_KEPT = 1000; // recent ids remembered for deduplication
const TAB_BEAT_MS = 1000; // how often tabs say they are alive
// A tab that closes says so; one silent this long crashed. Long, because Chromium runs the
// timers of a tab hidden for 5 minutes once a minute.
const TAB_TIMEOUT_MS = 65000;
const LEADER_TIMEOUT_MS = 3500; // without Web Locks: a leader silent this long is gone

/**
 * A spec-exact parser of `text/event-stream` (WHATWG HTML §9.2.6): `data:` lines joined by
 * `\n`, `id:` ignored when it contains NUL, `retry:` only when all ASCII digits, a leading BOM
 * dropped, CR, LF and CRLF line ends (also split across chunks). Feed it text with `push`.
 */
export class EventStreamParser {
  /** @param {{onEvent?: (e: {type: string, data: string, id: string}) => void, onId?: (id: string) => void, onRetry?: (ms: number) => void}} handlers */
  constructor(handlers = {}) {
    this.handlers = handlers;
    this.buffer = '';
    this.start = true;
    this.pendingCR = false;
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.lastId = '';
  }

  /** Parses `text`, the next decoded piece of the stream. */
  push(text) {
    if (this.start && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.start = false;
    }
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1); // the LF of a split CRLF
    this.pendingCR = false;
    this.buffer += text;
    let position = 0;
    while (true) {
      const cr = this.buffer.indexOf('\r', position);
      const lf = this.buffer.indexOf('\n', position);
      if (cr < 0 && lf < 0) break;
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      this.line(this.buffer.slice(position, end));
      if (this.buffer[end] === '\r') {
        if (end + 1 === this.buffer.length) { this.pendingCR = true; position = end + 1; break; }
        position = this.buffer[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        position = end + 1;
      }
    }
    this.buffer = this.buffer.slice(position);
  }

  line(line) {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return; // a comment (heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data += value + '\n';
      this.hasData = true;
    } else if (field === 'event') {
      this.type = value;
    } else if (field === 'id') {
      if (!value.includes('\0')) this.lastId = value;
      this.idSet = true;
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) this.handlers.onRetry?.(Number(value));
    }
  }

  dispatch() {
    const id = this.lastId;
    if (this.idSet) this.handlers.onId?.(id);
    this.idSet = false;
    if (!this.hasData) { this.type = ''; return; }
    const event = { type: this.type || 'message', data: this.data.slice(0, -1), id };
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.handlers.onEvent?.(event);
  }
}

/** A stream's position: `~`, digits, and for Redis maybe `-` and digits (never a publisher's id). */
function isPosition(id) {
  return /^~\d+(?:-\d+)?$/.test(id);
}

/** The `exp` of a JWT in milliseconds, or null when `token` is not a JWT with one. */
function expiryOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(payload + '='.repeat((4 - (payload.length % 4)) % 4))).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

function sorted(values) {
  return [...new Set(values)].filter((value) => value !== '').sort();
}

function randomId() {
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

/**
 * Subscribes to a Rill event stream, sharing one connection between the tabs of the origin.
 *
 * @param {string} url the stream endpoint, e.g. `/stream` (its query is kept)
 * @param {object} [options]
 * @param {string[]} [options.channels] `?channel=` values (the union over all tabs is subscribed)
 * @param {string[]} [options.patterns] `?pattern=` values
 * @param {boolean} [options.presence] adds `presence=1` (rill-join, rill-leave, rill-presence)
 * @param {(event: {type: string, data: string, id: string}) => void} [options.onEvent]
 * @param {(gap: {lastEventId: string}) => void} [options.onGap] events may be missing: reload state
 * @param {(status: {state: string, leader: boolean, tabs: number}) => void} [options.onStatus]
 * @param {string | (() => string | null | Promise<string | null>)} [options.token] a JWT, or a
 *   function that returns a fresh one (called before `exp` and on `rill-token-expired`)
 * @param {'fetch' | 'eventsource'} [options.transport] `fetch` (default) sees heartbeats and the
 *   stream's opening position, and sends headers; `eventsource` uses the browser's EventSource
 *   (which keeps the position to itself: a reconnect before the first event resumes live)
 * @param {string[]} [options.events] with `eventsource`: the event names to listen for
 * @param {number} [options.heartbeatMs] the server's heartbeat interval (15000); the watchdog
 *   reopens a stream silent for twice as long; 0 disables it
 * @param {boolean} [options.share] share one connection between tabs (default true)
 * @param {string} [options.name] the name tabs share under (default: the stream URL)
 * @param {string} [options.lastEventId] resume after this id (default: the one kept for the tab)
 * @returns {{close(): void, reconnect(): void, readonly lastEventId: string, readonly leader: boolean, readonly tabs: number}}
 */
export function subscribe(url, options = {}) {
  return new Subscription(url, options);
}

class Subscription {
  constructor(url, options) {
    this.options = options;
    this.base = new URL(url, location.href);
    this.name = options.name ?? this.base.origin + this.base.pathname;
    this.storageKey = 'rill:last-event-id:' + this.name;
    this.tabId = randomId();
    this.closed = false;
    this.leader = false;
    this.tabs = 1;
    this.state = 'connecting';
    this.lastEventId = options.lastEventId ?? readStorage(this.storageKey) ?? '';
    this.seen = new Set();
    this.seenOrder = [];
    this.gapReportedFor = null;
    this.members = new Map(); // tab id → {channels, patterns, presence, heard}
    this.own = {
      channels: sorted(options.channels ?? []),
      patterns: sorted(options.patterns ?? []),
      presence: !!options.presence,
    };
    this.connection = null;
    this.listeners = [];
    this.share = options.share !== false && typeof BroadcastChannel === 'function';
    if (this.share) {
      this.bus = new BroadcastChannel('rill:' + this.name);
      this.bus.onmessage = (message) => this.received(message.data);
      this.listen(window, 'pagehide', () => this.close());
      this.beat = setInterval(() => this.tick(), TAB_BEAT_MS);
      this.announce();
      this.elect();
    } else {
      this.becomeLeader();
    }
  }

  /** Ends the subscription in this tab (another tab takes the stream over if this one led). */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.beat);
    this.connection?.close();
    this.connection = null;
    this.post({ t: 'bye' });
    this.releaseLock?.();
    for (const [target, type, handler] of this.listeners) target.removeEventListener(type, handler);
    this.bus?.close();
    this.setStatus('closed');
  }

  /** Reopens the stream now, resuming after the last id (the leader's, from any tab). */
  reconnect() {
    if (this.leader) this.connection?.reopen('asked');
    else this.post({ t: 'reconnect' });
  }

  listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.listeners.push([target, type, handler]);
  }

  // Leadership --------------------------------------------------------------------------------

  elect() {
    if (navigator.locks?.request) {
      navigator.locks
        .request('rill:' + this.name, () => {
          if (this.closed) return undefined;
          this.becomeLeader();
          return new Promise((resolve) => (this.releaseLock = resolve)); // held until close or unload
        })
        .catch(() => {});
    } else {
      // Without Web Locks: a tab that hears no leader for LEADER_TIMEOUT_MS claims; of two
      // leaders the one with the smaller tab id stays. The first tab waits half a second.
      this.leaderHeard = Date.now() - LEADER_TIMEOUT_MS + 500;
    }
  }

  tick() {
    const now = Date.now();
    this.announce();
    for (const [id, member] of this.members) if (now - member.heard > TAB_TIMEOUT_MS) this.members.delete(id);
    if (this.leader) {
      this.subscriptionChanged();
      this.broadcastStatus();
    } else if (this.leaderHeard !== undefined && now - this.leaderHeard > LEADER_TIMEOUT_MS) {
      this.becomeLeader();
    }
  }

  announce() {
    this.post({ t: 'hello', ...this.own });
  }

  post(message) {
    if (!this.bus || (this.closed && message.t !== 'bye')) return;
    try {
      this.bus.postMessage({ ...message, from: this.tabId });
    } catch {
      // the channel was closed
    }
  }

  received(message) {
    if (this.closed || !message || message.from === this.tabId) return;
    switch (message.t) {
      case 'hello': {
        const known = this.members.has(message.from);
        this.members.set(message.from, { ...message, heard: Date.now() });
        if (this.leader && !known) {
          this.subscriptionChanged();
          this.broadcastStatus();
        }
        break;
      }
      case 'bye':
        this.members.delete(message.from);
        if (this.leader) this.subscriptionChanged();
        break;
      case 'status':
        if (this.leader) {
          if (message.from < this.tabId && this.releaseLock === undefined) this.stepDown();
          break;
        }
        this.leaderHeard = Date.now();
        if (message.from !== this.leaderId) {
          this.leaderId = message.from;
          this.announce(); // a new leader: tell it this tab's channels now
        }
        this.tabs = message.tabs;
        this.error = message.error;
        // A tab that joined after the last event resumes from the leader's id if it takes over.
        if (!this.lastEventId && message.lastEventId) this.lastEventId = message.lastEventId;
        this.setStatus(message.state);
        break;
      case 'event':
        if (!this.leader) this.deliver(message.event);
        break;
      case 'gap':
        if (!this.leader) this.gap(message.gap);
        break;
      case 'reconnect':
        if (this.leader) this.connection?.reopen('asked');
        break;
    }
  }

  becomeLeader() {
    if (this.closed || this.leader) return;
    this.leader = true;
    this.connection = new Connection(this);
    this.subscriptionChanged();
    this.broadcastStatus();
  }

  stepDown() {
    this.leader = false;
    this.connection?.close();
    this.connection = null;
    this.leaderHeard = Date.now();
  }

  /** The union of the live tabs' subscriptions. */
  union() {
    const all = [this.own, ...this.members.values()];
    return {
      channels: sorted(all.flatMap((m) => m.channels ?? [])),
      patterns: sorted(all.flatMap((m) => m.patterns ?? [])),
      presence: all.some((m) => m.presence),
    };
  }

  subscriptionChanged() {
    this.tabs = 1 + this.members.size;
    this.connection?.subscribe(this.union());
  }

  /** The leader's status to the other tabs (also their sign that it is alive), and to this one. */
  broadcastStatus() {
    this.post({ t: 'status', state: this.state, tabs: this.tabs, error: this.error, lastEventId: this.lastEventId });
    this.reportStatus();
  }

  setStatus(state) {
    this.state = state;
    if (this.leader) this.broadcastStatus();
    else this.reportStatus();
  }

  /** Calls onStatus when what it reports changed. */
  reportStatus() {
    const status = { state: this.state, leader: this.leader, tabs: this.tabs, error: this.error };
    const key = JSON.stringify(status);
    if (key === this.reported) return;
    this.reported = key;
    this.options.onStatus?.(status);
  }

  // Events ------------------------------------------------------------------------------------

  /**
   * Whether `event` is new to this tab: any id passes once among the last 1000. Ids are not
   * compared by order: a publisher's own ids (`20240601`, `7`) look like a broker's sequence
   * numbers and need not follow them.
   */
  isNew(id) {
    if (!id) return true;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > SEEN_IDS_KEPT) this.seen.delete(this.seenOrder.shift());
    return true;
  }

  /** Hands `event` to the app unless this tab saw it; false when it did. */
  deliver(event) {
    if (!this.isNew(event.id)) return false;
    if (event.id) {
      this.lastEventId = event.id;
      writeStorage(this.storageKey, event.id);
    }
    try {
      this.options.onEvent?.({ type: event.type, data: event.data, id: event.id });
    } catch (error) {
      setTimeout(() => { throw error; }); // reported, but the stream goes on
    }
    return true;
  }

  /** Called by the leader's connection for each application event. */
  leaderEvent(event) {
    if (this.deliver(event)) this.post({ t: 'event', event });
  }

  /**
   * The position a stream opened with (`id: ~N` and no event): where a reconnect resumes while no
   * event has arrived, so that one made before the first event misses nothing published
   * meanwhile. The server sends it only when no replay comes first, before any event of its
   * stream (a refresh's old stream is closed by then), so it is never behind an event this tab
   * has. Not used to drop repeats: a publisher's own numeric ids are in another order.
   */
  leaderPosition(id) {
    this.lastEventId = id;
    writeStorage(this.storageKey, id);
    this.broadcastStatus(); // the other tabs resume from it too if they take over
  }

  /** `rill-history-gap`: reported once per resumed id (a reconnect may resume from it again). */
  leaderGap(gap) {
    if (this.gapReportedFor === gap.lastEventId) return;
    this.gapReportedFor = gap.lastEventId;
    this.post({ t: 'gap', gap });
    this.gap(gap);
  }

  gap(gap) {
    // What follows may have any id (a publisher's own, or another broker's after a move).
    this.seen.clear();
    this.seenOrder = [];
    this.options.onGap?.(gap);
  }
}

/** The leader's stream: one fetch (or EventSource) at a time, reopened as needed. */
class Connection {
  constructor(subscription) {
    this.subscription = subscription;
    this.options = subscription.options;
    this.transport = this.options.transport ?? 'fetch';
    // EventSource hides comments (heartbeats) from pages: its watchdog is off unless asked for.
    this.heartbeatMs = this.options.heartbeatMs ?? (this.transport === 'eventsource' ? 0 : DEFAULT_HEARTBEAT_MS);
    this.retryMs = DEFAULT_RETRY_MS;
    this.failures = 0;
    this.token = typeof this.options.token === 'string' ? this.options.token : null;
    this.current = null; // {close()} of the open request
    this.generation = 0;
    // During a token refresh the old stream keeps delivering until the new one is open.
    this.previous = null; // {close()} of that old stream
    this.previousGeneration = -1;
    this.lastByte = Date.now();
    this.closed = false;
    this.query = null;
    const on = (target, type, handler) => subscription.listen(target, type, handler);
    on(document, 'visibilitychange', () => {
      // A sleeping device may have left a dead socket behind; a recent byte says it is fine.
      if (document.visibilityState === 'visible' && Date.now() - this.lastByte > Math.min(this.heartbeatMs, 5000)) {
        this.reopen('page visible');
      }
    });
    on(window, 'online', () => this.reopen('network back'));
  }

  subscribe(query) {
    const key = JSON.stringify(query);
    if (key === this.query) return;
    this.query = key;
    this.reopen('subscription changed');
  }

  close() {
    this.closed = true;
    this.stop();
  }

  stop() {
    this.generation += 1;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    clearTimeout(this.refresh);
    this.current?.close();
    this.current = null;
    this.dropPrevious();
  }

  /** Closes the stream a token refresh kept open until its successor opened. */
  dropPrevious() {
    this.previous?.close();
    this.previous = null;
    this.previousGeneration = -1;
  }

  /**
   * A new token: make before break. The new stream opens while the old one keeps delivering;
   * the old one closes once the new one is open (events both carry are dropped by id). Closing
   * first would lose what is published in between whenever there is no id to resume from yet
   * (no event has arrived), since the new stream then starts live.
   */
  renewToken() {
    if (this.closed) return;
    if (this.previous) {
      // The last renewal's stream has not opened yet: give it up, keep the one that delivers.
      this.current?.close();
    } else {
      this.previous = this.current;
      this.previousGeneration = this.generation;
    }
    this.current = null;
    this.generation += 1;
    clearTimeout(this.timer);
    clearTimeout(this.refresh);
    this.reason = 'token refresh';
    this.token = null;
    this.open(this.generation);
  }

  /** Whether callbacks of `generation` still count: the open stream's, or the old one of a refresh. */
  live(generation) {
    return !this.closed && (generation === this.generation || generation === this.previousGeneration);
  }

  reopen(reason, delayMs = 0) {
    if (this.closed) return;
    this.stop();
    this.reason = reason;
    const generation = this.generation;
    this.timer = setTimeout(() => generation === this.generation && this.open(generation), delayMs);
  }

  /** After an error: the server's retry, then doubling up to 30 s, each ±50 % jittered. */
  retryLater(reason) {
    this.failures += 1;
    const base = Math.min(MAX_BACKOFF_MS, this.retryMs * 2 ** Math.min(this.failures - 1, 5));
    this.subscription.setStatus('reconnecting');
    this.reopen(reason, base * (0.5 + Math.random()));
  }

  kick() {
    this.lastByte = Date.now();
    clearTimeout(this.watchdog);
    if (this.heartbeatMs > 0) {
      const generation = this.generation;
      this.watchdog = setTimeout(() => {
        if (generation !== this.generation) return;
        this.subscription.setStatus('reconnecting');
        this.reopen('watchdog: no byte for ' + 2 * this.heartbeatMs + ' ms');
      }, 2 * this.heartbeatMs);
    }
  }

  async open(generation) {
    const current = () => generation === this.generation && !this.closed;
    if (typeof this.options.token === 'function' && (this.token === null || this.expiresSoon())) {
      try {
        this.token = (await this.options.token()) ?? null;
      } catch {
        if (current()) this.retryLater('token callback failed');
        return;
      }
      if (!current()) return;
    }
    this.scheduleRefresh(generation);
    // A refresh keeps the old stream open meanwhile: nothing to report.
    if (!this.previous) this.subscription.setStatus(this.failures > 0 || this.reason !== 'subscription changed' ? 'reconnecting' : 'connecting');
    const url = this.url();
    this.kick();
    if (this.transport === 'eventsource') this.openEventSource(url, generation);
    else this.openFetch(url, generation);
  }

  url() {
    const url = new URL(this.subscription.base);
    const query = JSON.parse(this.query);
    for (const channel of query.channels) url.searchParams.append('channel', channel);
    for (const pattern of query.patterns) url.searchParams.append('pattern', pattern);
    if (query.presence) url.searchParams.set('presence', '1');
    if (this.transport === 'eventsource') {
      const id = this.subscription.lastEventId;
      if (id) url.searchParams.set('lastEventId', id); // a new EventSource cannot send the header
      if (this.token) url.searchParams.set('token', this.token);
    }
    return url;
  }

  expiresSoon() {
    const exp = this.token && expiryOf(this.token);
    return exp !== null && exp !== undefined && exp - Date.now() < 1000;
  }

  /** Fetches a new token before `exp`: a fifth of its remaining life early, 1 s to 60 s. */
  scheduleRefresh(generation) {
    const exp = typeof this.options.token === 'function' && this.token ? expiryOf(this.token) : null;
    if (exp === null) return;
    const remaining = exp - Date.now();
    const early = Math.min(60000, Math.max(1000, remaining / 5));
    this.refresh = setTimeout(() => {
      if (generation !== this.generation) return;
      this.renewToken();
    }, Math.max(0, remaining - early));
  }

  openFetch(url, generation) {
    const controller = new AbortController();
    this.current = { close: () => controller.abort() };
    const headers = { Accept: 'text/event-stream' };
    const id = this.subscription.lastEventId;
    if (id) headers['Last-Event-ID'] = id;
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    const current = () => generation === this.generation && !this.closed;
    const live = () => this.live(generation);
    (async () => {
      const response = await fetch(url, {
        headers, signal: controller.signal, cache: 'no-store', credentials: this.options.credentials ?? 'same-origin',
      });
      if (!current()) return;
      if (response.status === 204) return this.ended('204: the server asked not to reconnect', true);
      if (response.status === 401 && typeof this.options.token === 'function') {
        this.token = null;
        return this.retryLater('401');
      }
      // 400, 403, 404…: asking again will not help (a 401 without a token callback neither).
      if (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status)) {
        return this.ended('HTTP ' + response.status, true);
      }
      if (!response.ok || !response.body) return this.retryLater('HTTP ' + response.status);
      this.opened();
      const parser = this.parser(generation);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      while (true) {
        const { value, done } = await reader.read();
        if (!live()) return;
        if (done) break;
        if (current()) this.kick();
        parser.push(value);
      }
      // An old stream ending during a refresh: its successor is on its way.
      if (current()) this.ended('the server ended the stream');
    })().catch(() => current() && this.retryLater('network error'));
  }

  openEventSource(url, generation) {
    this.streamId = ''; // a new EventSource's last event id starts empty
    const source = new EventSource(url, { withCredentials: this.options.credentials === 'include' });
    this.current = { close: () => source.close() };
    const current = () => generation === this.generation && !this.closed;
    const handler = (event) => {
      if (!this.live(generation)) return;
      if (current()) this.kick();
      this.event({ type: event.type, data: event.data, id: event.lastEventId }, generation);
    };
    const names = ['message', 'rill-history-gap', 'rill-reconnect', 'rill-token-expired', ...(this.options.events ?? [])];
    for (const name of new Set(names)) source.addEventListener(name, handler);
    let open = false;
    source.onopen = () => {
      if (!current()) return;
      open = true;
      this.kick();
      this.opened();
    };
    // EventSource would reconnect by itself with its own id; this client reconnects instead.
    // It does not say why a connection failed: one that never opened backs off (with a fresh
    // token if there is a callback: it may have been a 401).
    source.onerror = () => {
      if (!current()) {
        if (generation === this.previousGeneration) this.dropPrevious(); // an old stream during a refresh
        return;
      }
      source.close();
      if (open) return this.ended('EventSource error');
      if (typeof this.options.token === 'function') this.token = null;
      this.retryLater('EventSource could not connect');
    };
  }

  parser(generation) {
    this.streamId = ''; // a new stream's last event id starts empty
    return new EventStreamParser({
      onEvent: (event) => this.event(event, generation),
      // An `id:` with no event: the stream's position, when no replay came first.
      onId: (id) => generation === this.generation && isPosition(id) && this.subscription.leaderPosition(id),
      onRetry: (ms) => (this.retryMs = ms),
    });
  }

  opened() {
    this.failures = 0;
    this.dropPrevious(); // a refresh's old stream: the new one carries on from here
    this.subscription.setStatus('open');
  }

  ended(reason, final = false) {
    if (final) {
      this.stop();
      this.subscription.error = reason;
      this.subscription.setStatus('closed');
      return;
    }
    this.subscription.setStatus('reconnecting');
    this.reopen(reason, this.retryMs * (0.75 + Math.random() / 2));
  }

  event(event, generation = this.generation) {
    const subscription = this.subscription;
    // The old stream of a refresh only hands over application events; what it says about
    // itself (it expires, it is told to reconnect) no longer matters.
    if (generation !== this.generation) {
      if (!event.type || event.type === 'message' || !event.type.startsWith('rill-')) subscription.leaderEvent(event);
      return;
    }
    // The server's own notices about the stream never carry an id of their own; an event with
    // one came from a publisher (the server refuses such names, an older one may not) and is
    // only data. An event without an `id:` field still reports the stream's last id (WHATWG:
    // the last one any block of this stream set, such as its opening position `~N`), so "its
    // own" is an id that is not a position (publishers may not use those) and differs from
    // the one this stream reported before.
    const ownId = Boolean(event.id) && !isPosition(event.id) && event.id !== this.streamId;
    if (event.id) this.streamId = event.id;
    switch (ownId ? 'message' : event.type) {
      case 'rill-history-gap': {
        let lastEventId = '';
        try { lastEventId = JSON.parse(event.data).lastEventId ?? ''; } catch { /* not JSON */ }
        subscription.leaderGap({ lastEventId });
        return;
      }
      case 'rill-reconnect': // max connection age: the next connection resumes after the last id
        subscription.setStatus('reconnecting');
        this.reopen('rill-reconnect', Math.random() * 1000);
        return;
      case 'rill-token-expired':
        this.token = null;
        subscription.setStatus('reconnecting');
        this.reopen('rill-token-expired');
        return;
      default:
        subscription.leaderEvent(event);
    }
  }
}

function readStorage(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key, value) {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // storage full or disabled: a reload then starts live
  }
}

export const Rill = { subscribe, EventStreamParser };
export default Rill;
