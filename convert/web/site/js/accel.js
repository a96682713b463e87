// Accelerometer page: DeviceMotionEvent → AccelStream (resample + windows, as the Python runtime) → LiteRT.js.
import {WebModel, loadConfig, showErrors, status, topEntries} from './edgelite.js';
import {AccelStream} from './accel_core.js';

showErrors();
const $ = (id) => document.getElementById(id);
const api = {results: [], events: 0, cfg: null, model: null, stream: null};
window.edgelite = api;

const chart = {data: [], max: 300};
let queue = Promise.resolve();

/** Feed samples (t in s, xyz in m/s²) and classify the completed windows, in order. Used by the page and tests. */
api.feed = (t, xyz, opts = {}) => {
  const windows = api.stream.push(t, xyz, opts);
  queue = queue.then(async () => {
    for (const w of windows) {
      const probs = await api.model.predict(w.window);
      let best = 0;
      probs.forEach((p, i) => { if (p > probs[best]) best = i; });
      const r = {t: w.tEnd, label: api.cfg.labels[best], score: probs[best], top: topEntries(probs, api.cfg.labels, 3), probs: Array.from(probs)};
      api.results.push(r);
      show(r);
    }
  });
  return queue;
};
api.idle = () => queue;

function show(r) {
  $('label').textContent = r.label;
  $('score').textContent = `score ${r.score.toFixed(3)} · window ending at ${r.t.toFixed(2)} s`;
  $('top').innerHTML = r.top.map(([l, p]) => `<tr><td>${l}</td><td>${p.toFixed(3)}</td></tr>`).join('');
}

function drawChart() {
  const c = $('chart');
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const d = chart.data;
  if (d.length > 1) {
    let m = 1;
    for (const v of d) for (const a of v) m = Math.max(m, Math.abs(a));
    ['#f55', '#5f5', '#59f'].forEach((col, ch) => {
      g.strokeStyle = col;
      g.beginPath();
      d.forEach((v, i) => {
        const x = (i / (chart.max - 1)) * c.width;
        const y = c.height / 2 - (v[ch] / m) * (c.height / 2 - 4);
        i ? g.lineTo(x, y) : g.moveTo(x, y);
      });
      g.stroke();
    });
    g.fillStyle = '#aaa';
    g.fillText(`x y z (±${m.toFixed(1)} ${api.cfg.stream.units})`, 6, 12);
  }
  requestAnimationFrame(drawChart);
}

function onMotion(e) {
  const wantGravity = api.cfg.stream.gravity !== false;
  let a = wantGravity ? e.accelerationIncludingGravity : e.acceleration;
  let convertGravity = false;
  if (!wantGravity && (!a || a.x === null)) {  // no linear acceleration on this device: filter gravity out
    a = e.accelerationIncludingGravity;
    convertGravity = true;
  }
  if (!a || a.x === null || a.x === undefined) return;
  api.events++;
  const xyz = [a.x, a.y, a.z];
  chart.data.push(xyz);
  if (chart.data.length > chart.max) chart.data.shift();
  api.feed([e.timeStamp / 1000], [xyz], {units: 'm/s^2', convertGravity});
}

async function start() {
  $('start').disabled = true;
  if (typeof DeviceMotionEvent === 'undefined') {
    status('unsupported browser: no DeviceMotionEvent (use a phone browser: Chrome on Android, Safari on iOS)', 'error');
    return;
  }
  if (!window.isSecureContext) {
    status('motion sensors need a secure page: open it over https:// (edgelite serve web DIR --https) or on localhost', 'error');
    return;
  }
  if (typeof DeviceMotionEvent.requestPermission === 'function') {  // iOS 13+: must come from this click
    let answer;
    try {
      answer = await DeviceMotionEvent.requestPermission();
    } catch (err) {
      answer = `failed (${err.message})`;
    }
    if (answer !== 'granted') {
      status(`motion permission ${answer === 'denied' ? 'denied' : answer}: allow Motion & Orientation access for this site and reload`, 'error');
      $('start').disabled = false;
      return;
    }
  }
  window.addEventListener('devicemotion', onMotion);
  status('listening to motion… move the phone', 'ok');
  setTimeout(() => {
    if (api.events === 0) status('no motion events after 3 s: this device or browser gives no accelerometer data', 'error');
  }, 3000);
}

async function main() {
  status('loading model…');
  api.cfg = await loadConfig();
  if (api.cfg.task !== 'accel') throw new Error(`this site holds a ${api.cfg.task} model, not an accelerometer model`);
  const threads = new URLSearchParams(location.search).get('threads') === '1';
  api.model = await WebModel.load(api.cfg, {threads});
  api.stream = new AccelStream(api.cfg.stream);
  const s = api.cfg.stream;
  $('info').textContent = `${api.cfg.labels.length} classes · ${s.rate_hz} Hz · window ${s.window_samples} samples ` +
    `(${(s.window_samples / s.rate_hz).toFixed(2)} s) every ${s.stride} · ${s.gravity === false ? 'without' : 'with'} gravity · LiteRT.js wasm`;
  $('start').disabled = false;
  $('start').onclick = start;
  status('model loaded: press Start', 'ok');
  drawChart();
  api.ready = true;
  if (new URLSearchParams(location.search).get('autostart') === '1') start();
}

api.loaded = main().catch((e) => { status(`error: ${e.message}`, 'error'); throw e; });
