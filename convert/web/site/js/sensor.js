// Phone as a sensor: DeviceMotion samples → WebSocket → `edgelite run accel --source browser` (host-side model).
// Message (JSON text, one per ~100 ms): {"device", "session", "gravity": true|false, "units": "m/s^2",
//   "t": [s...], "xyz": [[x,y,z]...]}; the host replies {"label", "score", "top"} lines, shown here.
import {showErrors, status} from './ui.js';

showErrors();
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('url').value = params.get('server') || localStorage.getItem('edgelite.server') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname || '127.0.0.1'}:8765/`;
$('token').value = params.get('token') || localStorage.getItem('edgelite.token') || '';
const api = {sent: 0, replies: []};
window.edgelite = api;

function connect(url, token) {
  const u = new URL(url);
  if (token) u.searchParams.set('token', token);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u.href);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`cannot connect to ${url} (is the server running? a https page needs a wss:// server)`));
    ws.onclose = (e) => status(`connection closed${e.reason ? ': ' + e.reason : ''} (code ${e.code})`, 'error');
    ws.onmessage = (e) => {
      try {
        const r = JSON.parse(e.data);
        api.replies.push(r);
        if (r.label) $('info').textContent = `host says: ${r.label} (${Number(r.score).toFixed(3)})`;
        if (r.error) status(`server: ${r.error}`, 'error');
      } catch (err) { /* not JSON: ignore */ }
    };
  });
}

async function start() {
  $('start').disabled = true;
  if (typeof DeviceMotionEvent === 'undefined') return status('unsupported browser: no DeviceMotionEvent', 'error');
  if (typeof DeviceMotionEvent.requestPermission === 'function') {
    const a = await DeviceMotionEvent.requestPermission().catch((e) => `failed (${e.message})`);
    if (a !== 'granted') {
      $('start').disabled = false;
      return status(`motion permission ${a}: allow Motion & Orientation access and reload`, 'error');
    }
  }
  localStorage.setItem('edgelite.server', $('url').value);
  localStorage.setItem('edgelite.token', $('token').value);
  let ws;
  try {
    ws = await connect($('url').value, $('token').value);
  } catch (e) {
    $('start').disabled = false;
    return status(e.message, 'error');
  }
  const session = Math.random().toString(36).slice(2, 10);
  const device = params.get('device') || `browser-${session}`;
  let batch = {t: [], xyz: []};
  window.addEventListener('devicemotion', (e) => {
    const a = e.accelerationIncludingGravity;
    if (!a || a.x === null) return;
    batch.t.push(e.timeStamp / 1000);
    batch.xyz.push([a.x, a.y, a.z]);
  });
  api.streaming = true;
  setInterval(() => {
    if (!batch.t.length || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({device, session, gravity: true, units: 'm/s^2', ...batch}));
    api.sent += batch.t.length;
    batch = {t: [], xyz: []};
    status(`streaming: ${api.sent} samples sent`, 'ok');
  }, 100);
}

$('start').onclick = start;
if (params.get('autostart') === '1') start();
