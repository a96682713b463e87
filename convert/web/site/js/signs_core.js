// Sign recognition on landmark frames, a port of edgelite.runtime.vision.frames (hands → [543,3] frame)
// and edgelite.runtime.signs.recognize (Segmenter, Recognizer). A frame is a Float32Array(543*3),
// NaN where a part is not tracked; rows: face 0–467, left_hand 468–488, pose 489–521, right_hand 522–542.

export const N_LANDMARKS = 543;
export const PARTS = {face: [0, 468], left_hand: [468, 489], pose: [489, 522], right_hand: [522, 543]};
export const NO_SIGN = 'no sign';
export const HAND_ROWS = [];
for (let r = 468; r < 489; r++) HAND_ROWS.push(r);
for (let r = 522; r < 543; r++) HAND_ROWS.push(r);
// pose points whose left/right meaning swaps in a mirrored image (runtime/layout.py POSE_PAIRS)
const POSE_PAIRS = [[1, 4], [2, 5], [3, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16], [17, 18],
  [19, 20], [21, 22], [23, 24], [25, 26], [27, 28], [29, 30], [31, 32]];
export const POSE_MIRROR = (() => {
  const p = Array.from({length: 33}, (_, i) => i);
  for (const [a, b] of POSE_PAIRS) [p[a], p[b]] = [b, p[a]];
  return p;
})();

export function emptyFrame() {
  return new Float32Array(N_LANDMARKS * 3).fill(NaN);
}

/** MediaPipe handedness label → slot (frames.hand_slot): raw frames keep the label, mirrored ones swap it. */
export function handSlot(label, mirrored = false) {
  const l = String(label).toLowerCase();
  if (l !== 'left' && l !== 'right') throw new Error(`hand handedness ${label}: expected 'Left' or 'Right'`);
  const signer = mirrored ? (l === 'left' ? 'right' : 'left') : l;
  return `${signer}_hand`;
}

/** HandLandmarker result (landmarks [[{x,y,z}×21]], handedness [[{categoryName}]]) and optional pose
 *  ([{x,y,z}×33]) → one [543*3] frame (frames.hands_to_frame). */
export function handsToFrame(result, mirrored = false, pose = null) {
  const frame = emptyFrame();
  const placed = [];
  const hands = (result?.landmarks || []).slice(0, 2);
  hands.forEach((lm, i) => {
    const xyz = new Float32Array(63);
    lm.forEach((p, k) => {
      xyz[k * 3] = mirrored ? 1.0 - Math.fround(p.x) : p.x;
      xyz[k * 3 + 1] = p.y;
      xyz[k * 3 + 2] = p.z;
    });
    const cats = (result.handedness || result.handednesses || [])[i] || [];
    placed.push([handSlot(cats[0]?.categoryName ?? 'Right', mirrored), xyz]);
  });
  if (placed.length === 2 && placed[0][0] === placed[1][0]) {
    const meanX = (a) => { let s = 0; for (let k = 0; k < 21; k++) s += a[k * 3]; return s / 21; };
    const firstRight = meanX(placed[0][1]) <= meanX(placed[1][1]);
    placed[0][0] = firstRight ? 'right_hand' : 'left_hand';
    placed[1][0] = firstRight ? 'left_hand' : 'right_hand';
  }
  for (const [slot, xyz] of placed) frame.set(xyz, PARTS[slot][0] * 3);
  if (pose) {
    const s = PARTS.pose[0];
    for (let i = 0; i < 33; i++) {
      const p = pose[mirrored ? POSE_MIRROR[i] : i];
      frame[(s + i) * 3] = mirrored ? 1.0 - Math.fround(p.x) : p.x;
      frame[(s + i) * 3 + 1] = p.y;
      frame[(s + i) * 3 + 2] = p.z;
    }
  }
  return frame;
}

export function handsPresent(frame) {
  return HAND_ROWS.some((r) => Number.isFinite(frame[r * 3]));
}

/** Mean displacement of hand points present in both frames (x, y); NaN if none (recognize.hand_motion). */
export function handMotion(prev, cur) {
  if (!prev) return NaN;
  let s = 0;
  let n = 0;
  for (const r of HAND_ROWS) {
    const ax = prev[r * 3], ay = prev[r * 3 + 1], bx = cur[r * 3], by = cur[r * 3 + 1];
    if (Number.isFinite(ax) && Number.isFinite(ay) && Number.isFinite(bx) && Number.isFinite(by)) {
      // float32 differences like NumPy's float32 arrays, norm accumulated in double
      const dx = Math.fround(ax - bx), dy = Math.fround(ay - by);
      s += Math.fround(Math.sqrt(Math.fround(Math.fround(dx * dx) + Math.fround(dy * dy))));
      n++;
    }
  }
  return n ? s / n : NaN;
}

export const SEGMENTER_DEFAULTS = {rest_frames: 8, motion_threshold: 0.002, min_frames: 4, max_frames: 192, pad_frames: 0};

/** Hands appear and move → hands rest or leave (recognize.Segmenter). update(index, frame, t) → segment|null. */
export class Segmenter {
  constructor(opts = {}) {
    this.o = {...SEGMENTER_DEFAULTS, ...opts};
    this.reset();
  }

  reset() {
    Object.assign(this, {active: false, start: 0, tStart: 0, lastActive: 0, tLast: 0, quiet: 0, handFrames: 0, prev: null});
  }

  update(index, frame, t) {
    const present = handsPresent(frame);
    const motion = present ? handMotion(this.prev, frame) : NaN;
    this.prev = present ? frame : null;
    if (!this.active) {
      const appeared = present && !Number.isFinite(motion);
      if (present && (appeared || motion >= this.o.motion_threshold)) {
        Object.assign(this, {active: true, start: Math.max(0, index - this.o.pad_frames), tStart: t,
          lastActive: index, tLast: t, quiet: 0, handFrames: 1});
      }
      return null;
    }
    const moving = present && (!Number.isFinite(motion) || motion >= this.o.motion_threshold);
    if (present) this.handFrames++;
    if (moving) {
      this.lastActive = index;
      this.tLast = t;
      this.quiet = 0;
    } else {
      this.quiet++;
    }
    const tooLong = index - this.start + 1 >= this.o.max_frames;
    if (this.quiet >= this.o.rest_frames || tooLong) {
      return this.close(tooLong ? index : this.lastActive, tooLong ? t : this.tLast);
    }
    return null;
  }

  flush() {
    return this.active ? this.close(this.lastActive, this.tLast) : null;
  }

  close(last, tLast) {
    const seg = {start: this.start, end: last + 1, tStart: this.tStart, tEnd: tLast};
    const ok = this.handFrames >= this.o.min_frames;
    const prev = this.prev;
    this.reset();
    this.prev = prev;
    return ok ? seg : null;
  }
}

/** Fixed-length model input: the segment's frames first, NaN after (the in-graph preprocessing drops
 *  hand-less frames, so this equals the dynamic model on the segment alone). Longer: the last tFixed frames. */
export function padFrames(frames, tFixed) {
  const x = new Float32Array(tFixed * N_LANDMARKS * 3).fill(NaN);
  const use = frames.slice(Math.max(0, frames.length - tFixed));
  use.forEach((f, i) => x.set(f, i * N_LANDMARKS * 3));
  return x;
}

export const RECOGNIZER_DEFAULTS = {mode: 'segment', threshold: 0.5, top_k: 3, window: 32, stride: 8, smoothing: 0.5, buffer_frames: 512};

/** Frames in, recognitions out (recognize.Recognizer). classify: async (frames[]) → Float32Array probs. */
export class Recognizer {
  constructor(classify, labels, opts = {}, segmenterOpts = {}) {
    this.o = {...RECOGNIZER_DEFAULTS, ...opts};
    if (!['segment', 'sliding'].includes(this.o.mode)) throw new Error(`recognition mode ${this.o.mode}: expected 'segment' or 'sliding'`);
    this.classify = classify;
    this.labels = labels;
    this.segmenter = new Segmenter(segmenterOpts);
    this.capacity = Math.max(this.o.buffer_frames, this.segmenter.o.max_frames + 8, this.o.window + 8);
    this.frames = [];  // [{frame, t}] ring of the last `capacity`
    this.total = 0;
    this.ema = null;
    this.lastLabel = null;
    this.since = 0;
    this.lastProbs = null;
  }

  range(start, stop) {
    const first = this.total - this.frames.length;
    const s = Math.max(start, first, 0);
    const e = Math.min(stop, this.total);
    return e <= s ? [] : this.frames.slice(s - first, e - first);
  }

  result(probs, seg, n) {
    const idx = Array.from(probs, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b).slice(0, this.o.top_k);
    const top = idx.map((i) => [this.labels[i] ?? `class_${i}`, probs[i]]);
    const [best, score] = top.length ? top[0] : [NO_SIGN, 0];
    const ok = score >= this.o.threshold;
    return {tStart: seg.tStart, tEnd: seg.tEnd, label: ok ? best : NO_SIGN, score, top, accepted: ok, frames: n,
      start: seg.start, end: seg.end, probs: Array.from(probs)};
  }

  async classifySegment(seg) {
    const items = this.range(seg.start, seg.end);
    const probs = await this.classify(items.map((f) => f.frame));
    this.lastProbs = probs;
    return this.result(probs, seg, items.length);
  }

  /** Add one frame at time t (s); → recognitions completed by it. */
  async update(frame, t) {
    const idx = this.total++;
    this.frames.push({frame, t});
    if (this.frames.length > this.capacity) this.frames.shift();
    const seg = this.segmenter.update(idx, frame, t);
    if (this.o.mode === 'segment') return seg ? [await this.classifySegment(seg)] : [];
    if (!handsPresent(frame)) {
      if (++this.since > this.segmenter.o.rest_frames) {
        this.ema = null;
        this.lastLabel = null;
      }
      return [];
    }
    this.since = 0;
    if ((idx + 1) % Math.max(1, this.o.stride)) return [];
    const items = this.range(this.total - this.o.window, this.total);
    const probs = await this.classify(items.map((f) => f.frame));
    const a = this.o.smoothing;
    this.ema = this.ema === null || this.ema.length !== probs.length ? probs : this.ema.map((v, i) => a * v + (1 - a) * probs[i]);
    this.lastProbs = this.ema;
    const r = this.result(this.ema, {start: idx - items.length + 1, end: idx + 1, tStart: items[0].t, tEnd: items[items.length - 1].t}, items.length);
    if (r.accepted && r.label !== this.lastLabel) {
      this.lastLabel = r.label;
      return [r];
    }
    return [];
  }

  async flush() {
    const seg = this.segmenter.flush();
    return seg && this.o.mode === 'segment' ? [await this.classifySegment(seg)] : [];
  }
}
