"""The station's web page: its status, buttons for what a driver does, and the OCPP frames."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ocpp-station</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
button{margin:.1em}.in{color:#05a}.out{color:#a50}
#log{font:12px monospace;white-space:pre-wrap;max-height:24em;overflow:auto;
border:1px solid #ccc;padding:.5em}
</style></head><body>
<h1 id="title">ocpp-station</h1>
<p id="summary"></p>
<p>Card: <input id="tag" value="TAG1" size="20">
<button onclick="post('/api/rfid',{idTag:tag.value})">present</button></p>
<table id="connectors"></table>
<h2>OCPP frames</h2><div id="log"></div>
<script>
let last = 0;
async function post(path, body, method) {
  const r = await fetch(path, {method: method || 'POST',
    body: body ? JSON.stringify(body) : undefined});
  const data = await r.json();
  if (!r.ok) alert(data.error);
  refresh();
}
function button(label, path, method) {
  return `<button onclick="post('${path}',null,'${method || 'POST'}')">${label}</button>`;
}
async function refresh() {
  const s = await (await fetch('/api/status')).json();
  document.getElementById('title').textContent = s.id;
  document.getElementById('summary').textContent =
    `registration ${s.registration}, ${s.connected ? 'connected' : 'offline'},` +
    ` ${s.queuedMessages} queued`;
  let rows = '<tr><th>#</th><th>status</th><th>error</th><th>tx</th><th>idTag</th>' +
    '<th>kWh</th><th>kW</th><th></th></tr>';
  for (const c of s.connectors) {
    const p = `/api/connectors/${c.id}`;
    const acts = c.id === 0 ? '' : button('plug', p + '/plug') + button('unplug', p + '/unplug') +
      button('EV pause', p + '/ev/suspend') + button('EV resume', p + '/ev/resume') +
      `<button onclick="post('/api/rfid',{idTag:tag.value,connectorId:${c.id}})">` +
      'card here</button>' +
      `<button onclick="post('${p}/fault',{errorCode:'GroundFailure'})">fault</button>` +
      button('clear fault', p + '/fault', 'DELETE');
    rows += `<tr><td>${c.id}</td><td>${c.status}</td><td>${c.errorCode}</td>` +
      `<td>${c.transactionId ?? ''}</td><td>${c.idTag ?? ''}</td>` +
      `<td>${c.energyWh === undefined ? '' : (c.energyWh / 1000).toFixed(3)}</td>` +
      `<td>${c.powerW === undefined ? '' : (c.powerW / 1000).toFixed(1)}</td><td>${acts}</td></tr>`;
  }
  document.getElementById('connectors').innerHTML = rows;
  const frames = await (await fetch('/api/messages?after=' + last)).json();
  const log = document.getElementById('log');
  for (const m of frames) {
    last = m.seq;
    const line = document.createElement('div');
    line.className = m.direction;
    line.textContent = (m.direction === 'in' ? '<- ' : '-> ') + JSON.stringify(m.frame);
    log.appendChild(line);
  }
  if (frames.length) log.scrollTop = log.scrollHeight;
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
"""
