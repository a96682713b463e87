// Sign page: camera → MediaPipe HandLandmarker (VIDEO mode) → [543,3] frames → Recognizer (segments, as the
// Python runtime) or, in continuous mode, the Spotter (signs back to back) → LiteRT.js → label overlay with FPS.
// The live camera (getUserMedia) is the default source; api.runFrames is a frame-stepped diagnostic source
// (decoded video frames with exact indices and timestamps, used by the parity tests).
import {WebModel, loadConfig, showErrors, status} from './edgelite.js';
import {Recognizer, handsToFrame, padFrames, N_LANDMARKS} from './signs_core.js';
import {Spotter} from './spotting.js';

showErrors();
const $ = (id) => document.getElementById(id);
const api = {mode: 'segment', spotter: null, trace: null, results: [], frames: 0, handFrames: 0, dropped: 0, cameraFrames: 0, cfg: null, model: null, recognizer: null, handMs: [], fps: 0};
window.edgelite = api;

/** [T,543,3] frames (array of Float32Array(1629)) → probabilities, through the fixed-length web model. */
api.classify = async (frames) => {
  const tFixed = api.cfg.input_shape[0];
  return api.model.predict(padFrames(frames, tFixed));
};

/** A spotted sign in the recognizer's result shape (start/end: frame indices, end exclusive). */
const spotResult = (s) => ({...s, top: [[s.label, s.score]], accepted: true, frames: s.end - s.start + 1,
  end: s.end + 1, probs: null});

/** 'segment' (one sign between pauses: Segmenter + classifier) or 'continuous' (the spotter); resets both. */
api.setMode = (mode) => {
  if (mode === 'continuous' && !api.spotter) throw new Error('this site has no continuous-signing model (spotter.tflite)');
  if (!['segment', 'continuous'].includes(mode)) throw new Error(`mode ${mode}: expected 'segment' or 'continuous'`);
  api.mode = mode;
  api.recognizer = new Recognizer(api.classify, api.cfg.labels, api.cfg.recognizer || {}, api.cfg.segmenter || {});
  api.spotter?.reset();
  api.transcript = [];
  if ($('transcript')) $('transcript').textContent = '';
  const box = $('continuous');
  if (box) box.checked = mode === 'continuous';
};

/** One frame into the recognizer or the spotter (also used by tests with recorded landmark frames). */
api.feedFrame = async (frame, t) => {
  api.frames++;
  const out = api.mode === 'continuous' ? (await api.spotter.feed(frame, t)).map(spotResult)
    : await api.recognizer.update(frame, t);
  for (const r of out) {
    api.results.push(r);
    show(r);
  }
  return out;
};
/** End of the stream: close an open segment / candidate. dt: the frame step the spotter pads with (s). */
api.flush = async (dt = 1 / 30) => {
  const out = api.mode === 'continuous' ? (await api.spotter.flush(dt)).map(spotResult) : await api.recognizer.flush();
  api.results.push(...out);
  out.forEach(show);
  return out;
};

function show(r) {
  if (api.mode === 'continuous') {  // signs back to back: keep the sentence so far (last 12 signs)
    api.transcript = [...(api.transcript || []), r.label].slice(-12);
    $('transcript').textContent = api.transcript.join(' ');
  }
  $('label').textContent = r.label;
  $('score').textContent = `score ${r.score.toFixed(3)} · ${r.frames} frames`;
  $('top').innerHTML = r.top.map(([l, p]) => `<tr><td>${l}</td><td>${p.toFixed(3)}</td></tr>`).join('');
}

/** Tracked points on the overlay canvas: over the mirrored live video (selfie view), or on a stepped frame as is. */
function drawHands(res, {mirrored = true, clear = true} = {}) {
  const c = $('overlay');
  if (mirrored) {
    c.width = $('video').videoWidth;
    c.height = $('video').videoHeight;
  }
  const g = c.getContext('2d');
  if (clear) g.clearRect(0, 0, c.width, c.height);
  g.fillStyle = '#3f8';
  for (const hand of res.landmarks || []) {
    for (const p of hand) {
      g.beginPath();
      g.arc((mirrored ? 1 - p.x : p.x) * c.width, p.y * c.height, 4, 0, 2 * Math.PI);
      g.fill();
    }
  }
}

async function loadTrackers() {
  status('loading hand tracker (MediaPipe tasks-vision)…');
  const {FilesetResolver, HandLandmarker, PoseLandmarker} = await import('../runtime/tasks-vision/vision_bundle.mjs');
  const fileset = await FilesetResolver.forVisionTasks(new URL('../runtime/tasks-vision/wasm', import.meta.url).href);
  const common = {runningMode: 'VIDEO'};
  api.hands = await HandLandmarker.createFromOptions(fileset, {
    ...common, baseOptions: {modelAssetPath: api.cfg.hand_model, delegate: 'CPU'},
    numHands: 2, minHandDetectionConfidence: 0.5, minHandPresenceConfidence: 0.5, minTrackingConfidence: 0.5,
  });
  if (api.cfg.pose_model) {
    api.pose = await PoseLandmarker.createFromOptions(fileset, {...common, baseOptions: {modelAssetPath: api.cfg.pose_model, delegate: 'CPU'}});
  }
}

/** Track one video frame at time tMs (ms, increasing) → [543*3] frame (raw camera view, not mirrored). */
api.track = (source, tMs) => {
  const t0 = performance.now();
  const res = api.hands.detectForVideo(source, tMs);
  const pose = api.pose ? api.pose.detectForVideo(source, tMs).landmarks?.[0] || null : null;
  api.handMs.push(performance.now() - t0);
  if (api.handMs.length > 1000) api.handMs.shift();
  api.lastResult = res;
  if (res.landmarks?.length) api.handFrames++;
  if (api.trace) {
    api.trace.push((res.landmarks || []).map((lm, i) => ({handedness: res.handedness?.[i]?.[0]?.categoryName,
      score: res.handedness?.[i]?.[0]?.score, xy: lm.flatMap((p) => [p.x, p.y])})));
  }
  return handsToFrame(res, false, pose);
};

/** Python's round() (half to even), for the tracker timestamps: int(round(t * 1000)) in runtime/vision/webcam.py. */
const roundHalfEven = (x) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 ? r - 1 : r;
};

/** Frame-stepped diagnostic source: raw RGB24 frames (count × height × width × 3 bytes at `url`, e.g. decoded
 *  from a video by the same reader as `edgelite run webcam --video`), frame i at t = i / fps s, tracker timestamp
 *  round(1000 t) ms, as the Python loop does; every frame processed, none dropped. trace=true keeps the
 *  per-frame hand landmarks (api.trace). Returns the results (flushed at the end). */
api.runFrames = async (url, {width, height, fps, trace = false}) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const rgb = new Uint8Array(await r.arrayBuffer());
  const size = width * height * 3;
  if (!size || rgb.length % size) throw new Error(`${url}: ${rgb.length} bytes is not a whole number of ${width}x${height} RGB frames`);
  api.trace = trace ? [] : null;
  api.results.length = 0;
  document.querySelector('.stage').classList.add('stepped');
  const c = $('overlay');
  Object.assign(c, {width, height});
  const g = c.getContext('2d');
  const img = new ImageData(width, height);
  let shown = null;
  for (let i = 0; i < rgb.length / size; i++) {
    const src = rgb.subarray(i * size, (i + 1) * size);
    for (let p = 0, q = 0; p < size; p += 3, q += 4) {
      img.data[q] = src[p];
      img.data[q + 1] = src[p + 1];
      img.data[q + 2] = src[p + 2];
      img.data[q + 3] = 255;
    }
    const t = i / fps;
    const frame = api.track(img, roundHalfEven(t * 1000));
    g.putImageData(img, 0, 0);
    drawHands(api.lastResult, {mirrored: false, clear: false});
    if (api.lastResult.landmarks?.length) shown = {img: new ImageData(Uint8ClampedArray.from(img.data), width, height), res: api.lastResult};
    status(`frame-stepped source: frame ${i + 1}/${rgb.length / size} at ${t.toFixed(3)} s`, 'ok');
    await api.feedFrame(frame, t);
  }
  if (shown) {  // leave the last frame with hands on screen
    g.putImageData(shown.img, 0, 0);
    drawHands(shown.res, {mirrored: false, clear: false});
  }
  await api.flush(1 / fps);
  return api.results;
};

/** Process every presented camera frame (requestVideoFrameCallback where the browser has it); a frame that
 *  arrives while the previous one is still being processed is dropped (counted in api.dropped). */
function loop() {
  const v = $('video');
  const rvfc = 'requestVideoFrameCallback' in HTMLVideoElement.prototype;
  let busy = false;
  let lastT = -1;
  let lastWall = performance.now();
  const step = async (_now, meta) => {
    schedule();
    if (meta?.presentedFrames) api.cameraFrames = meta.presentedFrames;  // frames the camera delivered
    if (api.paused) return;  // tests/screenshots: freeze on the last processed frame
    if (v.readyState < 2 || (!rvfc && v.currentTime === lastT)) return;
    if (busy) {
      api.dropped++;
      return;
    }
    busy = true;
    try {
      lastT = v.currentTime;
      const now = performance.now();
      const frame = api.track(v, now);
      drawHands(api.lastResult);
      await api.feedFrame(frame, now / 1000);
      const inst = 1000 / Math.max(1, now - lastWall);
      lastWall = now;
      api.fps = api.fps ? 0.9 * api.fps + 0.1 * inst : inst;
      $('fps').textContent = `${api.fps.toFixed(1)} FPS · hands ${api.handMs[api.handMs.length - 1].toFixed(1)} ms`;
    } finally {
      busy = false;
    }
  };
  const schedule = () => (rvfc ? v.requestVideoFrameCallback(step) : requestAnimationFrame(step));
  schedule();
}

async function start() {
  $('start').disabled = true;
  if (!navigator.mediaDevices?.getUserMedia) {
    status(window.isSecureContext ? 'unsupported browser: no camera access (getUserMedia)' :
      'the camera needs a secure page: open it over https:// (edgelite serve web DIR --https) or on localhost', 'error');
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'user'}, audio: false});
  } catch (e) {
    const why = e.name === 'NotAllowedError' ? 'camera permission denied: allow the camera for this site and reload'
      : e.name === 'NotFoundError' ? 'no camera found' : `camera error: ${e.name}: ${e.message}`;
    status(why, 'error');
    $('start').disabled = false;
    return;
  }
  const v = $('video');
  v.srcObject = stream;
  await v.play();
  status('camera on: sign in view of the camera', 'ok');
  loop();
}

/** The continuous-signing model (fixed [window,543,3] web variant) and its toggle on the page. */
async function loadSpotter(threads) {
  status('loading continuous-signing model…');
  const sc = api.cfg.spotter;
  api.spotterModel = await WebModel.load({...sc, labels: sc.labels}, {threads});
  api.spotter = new Spotter((x) => api.spotterModel.predict(x), sc);
  $('modebox').hidden = false;
  $('continuous').onchange = (e) => api.setMode(e.target.checked ? 'continuous' : 'segment');
}

async function main() {
  status('loading model…');
  api.cfg = await loadConfig();
  if (api.cfg.task !== 'signs') throw new Error(`this site holds a ${api.cfg.task} model, not a sign model`);
  if (api.cfg.input_shape.length !== 3 || api.cfg.input_shape[1] !== N_LANDMARKS) throw new Error(`sign model input ${api.cfg.input_shape}: expected [T,543,3]`);
  const threads = new URLSearchParams(location.search).get('threads') === '1';
  api.model = await WebModel.load(api.cfg, {threads});
  const params = new URLSearchParams(location.search);
  if (api.cfg.spotter) await loadSpotter(threads);
  api.setMode(params.get('mode') === 'continuous' ? 'continuous' : 'segment');
  api.ready = true;
  if (params.get('tracker') !== '0') await loadTrackers();
  $('info').textContent = `${api.cfg.labels.length} signs · landmarks ${api.cfg.landmark_set} · up to ${api.cfg.input_shape[0]} frames per sign · LiteRT.js wasm + MediaPipe HandLandmarker${api.spotter ? ` · continuous signing: ${api.spotter.labels.length - 1} signs, window ${api.spotter.window} frames, every ${api.spotter.stride}` : ''}`;
  $('start').disabled = false;
  $('start').onclick = start;
  status('models loaded: press Start camera', 'ok');
  if (params.get('autostart') === '1') start();
}

api.loaded = main().catch((e) => { status(`error: ${e.message}`, 'error'); throw e; });
