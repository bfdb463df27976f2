/// The page `GET /` serves: plain HTML and a module script on `/rill.js` (served by the example), no CDN.
enum NotificationsPage {
    static func html(channel: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>Rill notifications</title>
          <style>
            body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
            h1 { font-size: 1.4rem; }
            form { display: flex; gap: .5rem; }
            input { flex: 1; padding: .5rem; font: inherit; }
            button { padding: .5rem 1rem; font: inherit; }
            #state, #tabs { font-size: .85rem; color: #666; margin: .25rem 0; }
            #notifications { list-style: none; padding: 0; }
            #notifications li { border-left: 4px solid #3a7; background: #f4faf6; margin: .5rem 0; padding: .5rem .75rem; }
            #error { color: #b22; min-height: 1.2em; }
          </style>
        </head>
        <body>
          <h1>Rill notifications</h1>
          <p id="state">connecting…</p>
          <p id="tabs"></p>
          <form id="send">
            <input id="message" name="message" placeholder="Type a notification" autocomplete="off">
            <button type="submit">Send</button>
          </form>
          <p id="error"></p>
          <ul id="notifications"></ul>
          <script type="module">
            // rill.js: the tabs of this origin share one stream (a leader tab holds it, the
            // others get its events over a BroadcastChannel); a reload resumes after the last id.
            import { subscribe } from '/rill.js';
            const channel = \(jsonString(channel));
            const list = document.getElementById('notifications');
            const state = document.getElementById('state');
            const tabs = document.getElementById('tabs');
            const show = (event) => {
              if (event.type !== 'notify') return;
              const item = document.createElement('li');
              item.textContent = JSON.parse(event.data).message;
              item.dataset.id = event.id;
              list.prepend(item);
            };
            window.rillStream = subscribe('/stream', {
              channels: [channel],
              onEvent: show,
              onGap: () => { state.textContent = 'some notifications were missed'; },
              onStatus: (status) => {
                state.textContent = status.state === 'open' ? 'connected to channel ' + channel
                  : status.state === 'closed' ? 'disconnected' + (status.error ? ' (' + status.error + ')' : '') : status.state + '…';
                tabs.textContent = status.tabs > 1 ? 'shared with ' + status.tabs + ' tabs' + (status.leader ? ' (this one holds the stream)' : '') : 'one tab';
                document.body.dataset.leader = String(status.leader);
              }
            });
            document.getElementById('send').addEventListener('submit', async (event) => {
              event.preventDefault();
              const input = document.getElementById('message');
              const error = document.getElementById('error');
              const response = await fetch('/send_notification', {
                method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({message: input.value})
              });
              const outcome = await response.json();
              error.textContent = outcome.status === 'success' ? '' : outcome.message;
              if (outcome.status === 'success') input.value = '';
            });
          </script>
        </body>
        </html>
        """
    }

    /// `value` as a JavaScript string literal, safe inside a `<script>` element.
    private static func jsonString(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "<": result += "\\u003c"
            case "\n": result += "\\n"
            default:
                if scalar.value < 0x20 {
                    result += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
