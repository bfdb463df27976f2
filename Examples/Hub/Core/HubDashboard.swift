import Rill

/// The page `GET /` serves: one self-contained HTML page (no CDN, nothing fetched but the hub's
/// own endpoints), fed by **one** `EventSource` on `GET /stats` (no polling):
///
/// - the numbers: connections (and per event loop, as bars when several run), subscribers,
///   channels, published, delivered, deliveries per second, and the server's publish-to-write
///   latency (p50, p99);
/// - a `<canvas>` chart of connections and deliveries per second;
/// - the busiest channels (subscribers, events per second, history held) with a search box:
///   filtered at once in the page, and by the server (`/stats?search=`) for channels beyond the
///   100 it sends; a hub with credentials lists names only to its token (entered on the page);
/// - a live tail of one channel (the last 100 events, read with `fetch` so that every event
///   name shows and the token goes in a header; data shown as text, never as HTML);
/// - a publish form (`POST /publish`, with the token when one is entered).
public enum HubDashboard {
    /// The samples the chart keeps (two minutes at one per second).
    static let windowSamples = 120
    /// The events the tail keeps.
    static let tailEvents = 100

    /// The page's fields: HTML, and a policy that keeps other sites from framing it (its
    /// publish form could otherwise be clicked through from a disguised page) and the page to
    /// its own origin; the page is self-contained (inline script and style, no other source).
    static let headerFields: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]

    public static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>Rill hub</title>
          <style>
            :root { --blue: #2a6fdb; --orange: #d9480f; --line: #dde2ec; --soft: #f4f6fa; --muted: #667; }
            * { box-sizing: border-box; }
            body { font: 14px/1.4 system-ui, sans-serif; max-width: 72rem; margin: 1.2rem auto; padding: 0 1rem; color: #222; }
            header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
            h1 { font-size: 1.3rem; margin: 0; }
            h2 { font-size: 1rem; margin: 0 0 .5rem; }
            #state { font-size: .85rem; color: var(--muted); flex: 1; }
            label { font-size: .85rem; color: var(--muted); }
            input, textarea, button { font: inherit; }
            input, textarea { border: 1px solid var(--line); border-radius: 5px; padding: .3rem .45rem; }
            button { border: 1px solid var(--blue); background: var(--blue); color: #fff; border-radius: 5px; padding: .3rem .8rem; cursor: pointer; }
            button.plain { background: #fff; color: var(--blue); }
            .numbers { display: grid; grid-template-columns: repeat(auto-fit, minmax(7rem, 1fr)); gap: .6rem; margin: 1rem 0; }
            .numbers div { background: var(--soft); border-radius: 6px; padding: .45rem .8rem; }
            .numbers b { display: block; font-size: 1.3rem; font-variant-numeric: tabular-nums; }
            .legend span { margin-right: 1rem; }
            canvas { width: 100%; height: 260px; border: 1px solid var(--line); border-radius: 6px; }
            #loopbars { margin: .4rem 0 1rem; }
            .loopbar { display: grid; grid-template-columns: 6rem 1fr 4rem; gap: .5rem; align-items: center; font-size: .85rem; }
            .loopbar .bar { height: .7rem; background: var(--blue); border-radius: 3px; min-width: 1px; }
            .panels { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2rem; margin-top: 1.2rem; }
            @media (max-width: 900px) { .panels { grid-template-columns: 1fr; } }
            section { border: 1px solid var(--line); border-radius: 6px; padding: .8rem; min-width: 0; }
            .wide { grid-column: 1 / -1; }
            table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
            th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid var(--soft); white-space: nowrap; }
            th:first-child, td:first-child { text-align: left; white-space: normal; word-break: break-all; }
            tbody tr { cursor: pointer; }
            tbody tr:hover, tbody tr.followed { background: #eef3fd; }
            .tablewrap { max-height: 22rem; overflow: auto; }
            .hint { color: var(--muted); font-size: .85rem; margin: .4rem 0; }
            .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-bottom: .5rem; }
            .row input { flex: 1; min-width: 8rem; }
            #tail { list-style: none; margin: 0; padding: 0; max-height: 22rem; overflow: auto; }
            #tail li { border-bottom: 1px solid var(--soft); padding: .3rem 0; }
            #tail .meta { color: var(--muted); font-size: .8rem; }
            #tail pre { margin: .1rem 0 0; white-space: pre-wrap; word-break: break-word; font: 13px/1.35 ui-monospace, monospace; }
            #publishForm textarea { width: 100%; min-height: 4.5rem; }
            #publishResult { font-size: .85rem; margin-top: .4rem; word-break: break-word; }
          </style>
        </head>
        <body>
          <header>
            <h1>Rill hub</h1>
            <p id="state">connecting…</p>
            <label>token <input id="token" type="password" autocomplete="off" placeholder="publish/metrics token or JWT"
              title="Used for the channel names, the tail and the publish form; kept in this tab only"></label>
          </header>
          <div class="numbers">
            <div>connections<b id="connections">–</b></div>
            <div title="open connections on rill-loop-0 / rill-loop-1 / …">per loop<b id="loops">–</b></div>
            <div>subscribers<b id="subscribers">–</b></div>
            <div>channels<b id="channelCount">–</b></div>
            <div>published<b id="published">–</b></div>
            <div>delivered<b id="delivered">–</b></div>
            <div>deliveries/s<b id="rate">–</b></div>
            <div title="publish-to-write latency measured by the server over the last 5–10 s">latency p50<b id="p50">–</b></div>
            <div title="publish-to-write latency measured by the server over the last 5–10 s">latency p99<b id="p99">–</b></div>
          </div>
          <div id="loopbars"></div>
          <p class="legend"><span style="color:#2a6fdb">■ connections</span><span style="color:#d9480f">■ deliveries per second</span></p>
          <canvas id="chart" width="1100" height="260"></canvas>

          <div class="panels">
            <section class="wide">
              <h2>Busiest channels</h2>
              <div class="row"><input id="search" type="search" placeholder="search channels" autocomplete="off"></div>
              <p class="hint" id="channelHint"></p>
              <div class="tablewrap">
                <table>
                  <thead><tr><th>channel</th><th>subscribers</th><th>events/s</th><th>published</th><th>history</th></tr></thead>
                  <tbody id="channels"></tbody>
                </table>
              </div>
            </section>
            <section>
              <h2>Live tail</h2>
              <form class="row" id="tailForm">
                <input id="tailChannel" placeholder="channel (or pick one above)" autocomplete="off">
                <button type="submit">Follow</button>
                <button type="button" class="plain" id="tailStop">Stop</button>
              </form>
              <p class="hint" id="tailState">not following</p>
              <ul id="tail"></ul>
            </section>
            <section>
              <h2>Publish</h2>
              <form id="publishForm">
                <div class="row">
                  <input id="publishChannel" placeholder="channel" autocomplete="off" required>
                  <input id="publishEvent" placeholder="event (optional)" autocomplete="off">
                  <input id="publishID" placeholder="id (optional)" autocomplete="off">
                </div>
                <textarea id="publishData" placeholder="data"></textarea>
                <div class="row"><button type="submit">Publish</button></div>
              </form>
              <p id="publishResult" class="hint"></p>
            </section>
          </div>
          <script>
            'use strict';
            const $ = (id) => document.getElementById(id);
            const windowSize = \#(windowSamples);
            const tailSize = \#(tailEvents);
            const samples = [];
            let latest = null;
            let token = '';
            let serverSearch = '';
            let statsSource = null;
            let followed = '';

            // --- the chart -------------------------------------------------------------
            const canvas = $('chart');
            const g = canvas.getContext('2d');
            const pad = 34;
            function point(i, value, max) {
              const w = canvas.width, h = canvas.height;
              const slot = windowSize - samples.length + i;  // the newest sample sits at the right edge
              return [pad + (w - 2 * pad) * slot / (windowSize - 1), h - pad - (h - 2 * pad) * value / max];
            }
            function line(key, color, max) {
              g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 2; g.beginPath();
              samples.forEach((s, i) => { const [x, y] = point(i, s[key], max); if (i === 0) g.moveTo(x, y); else g.lineTo(x, y); });
              g.stroke();
              if (samples.length > 0) {
                const [x, y] = point(samples.length - 1, samples[samples.length - 1][key], max);
                g.beginPath(); g.arc(x, y, 3.5, 0, 2 * Math.PI); g.fill();
              }
            }
            function niceMax(value) {
              const power = Math.pow(10, Math.floor(Math.log10(value)));
              return [1, 2, 5, 10].map(m => m * power).find(m => m >= value);
            }
            function draw() {
              const w = canvas.width, h = canvas.height;
              g.clearRect(0, 0, w, h);
              const max = niceMax(Math.max(5, ...samples.map(s => Math.max(s.connections, s.deliveriesPerSecond))));
              g.strokeStyle = '#e4e7ee'; g.fillStyle = '#888'; g.font = '11px system-ui'; g.lineWidth = 1;
              for (let i = 0; i <= 5; i++) {
                const y = h - pad - (h - 2 * pad) * i / 5;
                g.beginPath(); g.moveTo(pad, y); g.lineTo(w - pad, y); g.stroke();
                g.fillText(String(max * i / 5), 4, y + 4);
              }
              g.fillText(windowSize + ' samples ago', pad, h - 10);
              g.fillText('now', w - pad - 20, h - 10);
              line('connections', '#2a6fdb', max);
              line('deliveriesPerSecond', '#d9480f', max);
            }

            // --- numbers, loops, channels -------------------------------------------------
            const number = (n) => Number(n).toLocaleString('en-US');
            function milliseconds(value, writes) {
              if (!writes) return '–';
              return value < 10 ? value.toFixed(2) + ' ms' : value.toFixed(0) + ' ms';
            }
            function bytes(n) {
              if (n < 1024) return n + ' B';
              if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
              return (n / 1024 / 1024).toFixed(1) + ' MB';
            }
            function showLoops(counts) {
              $('loops').textContent = counts.join(' / ') || '–';
              const box = $('loopbars');
              box.replaceChildren();
              if (counts.length < 2) return;
              const most = Math.max(1, ...counts);
              counts.forEach((count, index) => {
                const row = document.createElement('div'); row.className = 'loopbar';
                const name = document.createElement('span'); name.textContent = 'rill-loop-' + index;
                const track = document.createElement('div');
                const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = (100 * count / most) + '%';
                track.append(bar);
                const value = document.createElement('b'); value.textContent = number(count);
                row.append(name, track, value);
                box.append(row);
              });
            }
            function cell(text) { const td = document.createElement('td'); td.textContent = text; return td; }
            function showChannels() {
              const body = $('channels');
              const hint = $('channelHint');
              if (!latest) return;
              if (latest.channels == null) {
                body.replaceChildren();
                hint.textContent = 'This hub shows channel names only to its publish or metrics token, or to a JWT for the channels it may subscribe to: enter one above.';
                return;
              }
              const filter = $('search').value.trim().toLowerCase();
              const rows = latest.channels.filter(c => !filter || c.name.toLowerCase().includes(filter));
              body.replaceChildren(...rows.map(c => {
                const tr = document.createElement('tr');
                tr.dataset.channel = c.name;
                if (c.name === followed) tr.className = 'followed';
                const history = c.historyEvents == null ? '–' : number(c.historyEvents) + ' · ' + bytes(c.historyBytes);
                tr.append(cell(c.name), cell(number(c.subscribers)), cell(c.eventsPerSecond.toFixed(1)), cell(number(c.published)), cell(history));
                return tr;
              }));
              const shown = rows.length;
              const scope = serverSearch ? ' matching “' + serverSearch + '”' : '';
              hint.textContent = shown === 0
                ? (latest.channelCount === 0 ? 'No channels yet: publish or subscribe to one.' : 'No channel' + scope + ' matches.')
                : 'Showing ' + number(shown) + ' of ' + number(latest.channelCount) + ' channels' + scope + ', busiest first. Click one to follow it.';
            }
            $('channels').addEventListener('click', (event) => {
              const row = event.target.closest('tr');
              if (!row) return;
              $('tailChannel').value = row.dataset.channel;
              $('publishChannel').value = row.dataset.channel;
              follow(row.dataset.channel);
            });

            // --- the /stats stream -----------------------------------------------------------
            function connectStats() {
              if (statsSource) statsSource.close();
              const query = new URLSearchParams({ channels: '100' });
              if (serverSearch) query.set('search', serverSearch);
              if (token) query.set('token', token);
              const source = new EventSource('/stats?' + query);
              statsSource = source;
              // A stream's first sample has no rate yet (0): after a reconnect (a new search or
              // token) it updates the numbers but leaves the chart's line alone.
              let first = samples.length > 0;
              source.onopen = () => { $('state').textContent = 'live'; };
              source.onerror = () => {
                if (source.readyState !== EventSource.CLOSED) { $('state').textContent = 'reconnecting…'; return; }
                // Refused (503: as many dashboards as the hub allows; 4xx): the browser gives up
                // on such an answer, so the page tries again itself.
                $('state').textContent = 'the hub refused the stats stream (too many dashboards open?); retrying in 10 s';
                setTimeout(() => { if (statsSource === source) connectStats(); }, 10000);
              };
              source.onmessage = (event) => {
                const s = JSON.parse(event.data);
                latest = s;
                for (const key of ['connections', 'subscribers', 'published', 'delivered', 'channelCount']) $(key).textContent = s[key];
                showLoops(s.connectionsByLoop || []);
                $('rate').textContent = s.deliveriesPerSecond.toFixed(1);
                $('p50').textContent = milliseconds(s.latencyP50Milliseconds, s.latencyWrites);
                $('p99').textContent = milliseconds(s.latencyP99Milliseconds, s.latencyWrites);
                $('state').textContent = 'live, updated ' + new Date().toLocaleTimeString();
                if (!first) {
                  samples.push(s);
                  if (samples.length > windowSize) samples.shift();
                  draw();
                }
                first = false;
                showChannels();
              };
            }
            // The page filters at once; the server searches all channels after a pause in typing.
            let searchTimer = 0;
            $('search').addEventListener('input', () => {
              showChannels();
              clearTimeout(searchTimer);
              searchTimer = setTimeout(() => {
                const wanted = $('search').value.trim();
                if (wanted !== serverSearch) { serverSearch = wanted; connectStats(); }
              }, 300);
            });
            let tokenTimer = 0;
            $('token').addEventListener('input', () => {
              clearTimeout(tokenTimer);
              tokenTimer = setTimeout(() => { token = $('token').value.trim(); connectStats(); }, 400);
            });

            // --- the tail: fetch and a small text/event-stream parser -----------------------
            let tailAbort = null;
            function authorization() { return token ? { 'Authorization': 'Bearer ' + token } : {}; }
            function showTailEvent(e) {
              const item = document.createElement('li');
              const meta = document.createElement('div'); meta.className = 'meta';
              meta.textContent = new Date().toLocaleTimeString() + (e.id ? ' · id ' + e.id : '') + ' · ' + (e.event || 'message');
              const data = document.createElement('pre'); data.textContent = e.data;  // text, never HTML
              item.append(meta, data);
              const list = $('tail');
              list.prepend(item);
              while (list.children.length > tailSize) list.lastElementChild.remove();
            }
            function stopTail(text) {
              if (tailAbort) tailAbort.abort();
              tailAbort = null;
              followed = '';
              $('tailState').textContent = text;
              showChannels();
            }
            async function follow(channel) {
              channel = channel.trim();
              if (!channel) return;
              if (tailAbort) tailAbort.abort();
              const controller = new AbortController();
              tailAbort = controller;
              followed = channel;
              $('tail').replaceChildren();
              showChannels();
              let lastID = '';
              let received = 0;
              while (!controller.signal.aborted) {
                $('tailState').textContent = 'connecting to ' + channel + '…';
                let retry = 3000;
                try {
                  const headers = { 'Accept': 'text/event-stream', ...authorization() };
                  if (lastID) headers['Last-Event-ID'] = lastID;
                  const response = await fetch('/stream?channel=' + encodeURIComponent(channel), { headers, signal: controller.signal, cache: 'no-store' });
                  if (!response.ok) {
                    const reason = (await response.text()).trim();
                    if (tailAbort === controller) stopTail('cannot follow ' + channel + ': HTTP ' + response.status + (reason ? ' — ' + reason : ''));
                    return;
                  }
                  const update = () => { $('tailState').textContent = 'following ' + channel + ' — ' + received + (received === 1 ? ' event' : ' events') + ' (the last ' + tailSize + ' shown, newest first)'; };
                  update();
                  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
                  let buffer = '';
                  let current = { data: [], event: '', id: '', hasID: false };
                  for (;;) {
                    const { value, done } = await reader.read();
                    if (done) break;
                    buffer += value;
                    for (;;) {
                      const end = buffer.search(/\r\n|\n|\r/);
                      if (end < 0 || (buffer[end] === '\r' && end === buffer.length - 1)) break;  // maybe a \r\n split in two
                      const line = buffer.slice(0, end);
                      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
                      if (line === '') {
                        // An id sets the last id even with no data (the stream's opening position).
                        if (current.hasID) lastID = current.id;
                        if (current.data.length > 0) {
                          received++;
                          showTailEvent({ data: current.data.join('\n'), event: current.event, id: current.id });
                          update();
                        }
                        current = { data: [], event: '', id: '', hasID: false };
                        continue;
                      }
                      if (line.startsWith(':')) continue;  // a heartbeat
                      const colon = line.indexOf(':');
                      const field = colon < 0 ? line : line.slice(0, colon);
                      let text = colon < 0 ? '' : line.slice(colon + 1);
                      if (text.startsWith(' ')) text = text.slice(1);
                      if (field === 'data') current.data.push(text);
                      else if (field === 'event') current.event = text;
                      else if (field === 'id' && !text.includes('\0')) { current.id = text; current.hasID = true; }
                      else if (field === 'retry' && /^\d+$/.test(text)) retry = Number(text);
                    }
                  }
                } catch (error) {
                  if (controller.signal.aborted) return;
                }
                if (controller.signal.aborted) return;
                $('tailState').textContent = 'the stream of ' + channel + ' ended; reconnecting…';
                await new Promise(resolve => setTimeout(resolve, retry));
              }
            }
            $('tailForm').addEventListener('submit', (event) => { event.preventDefault(); follow($('tailChannel').value); });
            $('tailStop').addEventListener('click', () => stopTail('not following'));

            // --- publishing --------------------------------------------------------------
            $('publishForm').addEventListener('submit', async (event) => {
              event.preventDefault();
              const query = new URLSearchParams({ channel: $('publishChannel').value.trim() });
              if ($('publishEvent').value.trim()) query.set('event', $('publishEvent').value.trim());
              if ($('publishID').value.trim()) query.set('id', $('publishID').value.trim());
              const result = $('publishResult');
              result.textContent = 'publishing…';
              try {
                const response = await fetch('/publish?' + query, {
                  method: 'POST', headers: { 'Content-Type': 'text/plain; charset=utf-8', ...authorization() }, body: $('publishData').value
                });
                const text = await response.text();
                if (!response.ok) { result.textContent = 'HTTP ' + response.status + ': ' + text.trim(); return; }
                const answer = JSON.parse(text);
                result.textContent = 'published id ' + answer.id + ' to ' + query.get('channel') + ': ' + answer.subscribers + ' subscriber(s) on this hub';
              } catch (error) {
                result.textContent = 'failed: ' + error.message;
              }
            });

            connectStats();
            draw();
          </script>
        </body>
        </html>
        """#
}
