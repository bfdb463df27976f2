/// The page `GET /` serves: plain HTML and JavaScript, no CDN, nothing fetched at run time. It
/// follows `GET /stats` with an `EventSource`, shows the numbers (connections also per event
/// loop) and draws connections and deliveries per second on a `<canvas>` line chart.
public enum HubDashboard {
    /// The samples the chart keeps (two minutes at one per second).
    static let windowSamples = 120

    public static let html = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>Rill hub</title>
          <style>
            body { font: 15px/1.4 system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
            h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
            #state { font-size: .85rem; color: #666; }
            .numbers { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
            .numbers div { background: #f4f6fa; border-radius: 6px; padding: .5rem .9rem; min-width: 8rem; }
            .numbers b { display: block; font-size: 1.4rem; }
            .legend span { margin-right: 1rem; }
            canvas { width: 100%; height: 320px; border: 1px solid #dde; border-radius: 6px; }
          </style>
        </head>
        <body>
          <h1>Rill hub</h1>
          <p id="state">connecting…</p>
          <div class="numbers">
            <div>connections<b id="connections">–</b></div>
            <div title="open connections on rill-loop-0 / rill-loop-1 / …">per loop<b id="loops">–</b></div>
            <div>subscribers<b id="subscribers">–</b></div>
            <div>published<b id="published">–</b></div>
            <div>delivered<b id="delivered">–</b></div>
            <div>deliveries/s<b id="rate">–</b></div>
          </div>
          <p class="legend"><span style="color:#2a6fdb">■ connections</span><span style="color:#d9480f">■ deliveries per second</span></p>
          <canvas id="chart" width="900" height="320"></canvas>
          <script>
            const windowSize = \(windowSamples);
            const samples = [];
            const canvas = document.getElementById('chart');
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
            const source = new EventSource('/stats');
            source.onopen = () => { document.getElementById('state').textContent = 'live'; };
            source.onerror = () => { document.getElementById('state').textContent = 'reconnecting…'; };
            source.onmessage = (event) => {
              const s = JSON.parse(event.data);
              for (const key of ['connections', 'subscribers', 'published', 'delivered']) {
                document.getElementById(key).textContent = s[key];
              }
              document.getElementById('loops').textContent = (s.connectionsByLoop || []).join(' / ') || '–';
              document.getElementById('rate').textContent = s.deliveriesPerSecond.toFixed(1);
              document.getElementById('state').textContent = 'live, updated ' + new Date().toLocaleTimeString();
              samples.push(s);
              if (samples.length > windowSize) samples.shift();
              draw();
            };
            draw();
          </script>
        </body>
        </html>
        """
}
