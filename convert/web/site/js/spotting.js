// Continuous signing (signs back to back): a port of edgelite.runtime.signs.spotting (SpotDecoder, Spotter).
// The spotter model (model/spotter.tflite, fixed [window,543,3]) runs on the last `window` frames every `stride`
// frames; the window ending at frame i describes frame i - label_offset. The decoder turns the posteriors into
// signs: causal moving average over `smoothing` steps → active steps (top label, not blank, ≥ threshold) →
// candidates (survive gaps of ≤ merge_steps steps) → close, drop short ones (< min_steps), non-maximum
// suppression over time → drop (or report as unknown_label) weak ones (peak < min_score), out-of-vocabulary ones
// (mean own-label probability < min_mean: the model's spotting.reject.threshold, written by the export) and those a
// reject rule refuses. Arithmetic follows NumPy's float32 where the Python decoder works in float32.

import {HAND_ROWS, N_LANDMARKS} from './signs_core.js';

/** SpotterOptions defaults (runtime/signs/spotting.py); the export writes the Python values into config.json. */
export const SPOTTER_DEFAULTS = {threshold: 0.5, smoothing: 2, min_steps: 2, merge_steps: 1, nms_overlap: 0.5,
  min_score: 0.6, unknown_label: null, min_mean: null, openset: true};

/** The optional reject hook (Python's SpotterOptions.reject): a function (label, meanProbs) → true to refuse. The
 *  model's own out-of-vocabulary threshold needs no hook: it is options.min_mean. */
export function makeReject(spec) {
  if (!spec) return null;
  if (typeof spec !== 'function') throw new Error('spotter reject: expected a function (label, meanProbs) → boolean');
  return spec;
}

const f32 = Math.fround;

/** One candidate sign (steps are model runs; i0/i1 frame indices; t0/t1 seconds). */
class Candidate {
  constructor(label, step, idx, t) {
    Object.assign(this, {label, first: step, last: step, i0: idx, i1: idx, t0: t, t1: t, peak: 0, mass: 0, steps: 0, psum: null});
  }

  add(step, idx, t, p) {
    Object.assign(this, {last: step, i1: idx, t1: t});
    this.peak = Math.max(this.peak, p[this.label]);
    this.mass += p[this.label];
    this.steps++;
    this.psum = this.psum === null ? Float32Array.from(p) : this.psum.map((v, i) => f32(v + p[i]));
  }
}

/** Posteriors in (push one [C] vector per step), signs out: {label, score, tStart, tEnd, tEmit, start, end, emit}
 *  (end = inclusive index of the last frame covered, as SpottedSign.end_index). */
export class SpotDecoder {
  constructor(labels, blank, opts = {}) {
    if (!(blank >= 0 && blank < labels.length)) throw new Error(`spotter: blank index ${blank} outside the ${labels.length} labels`);
    this.labels = labels;
    this.blank = blank;
    this.o = {...SPOTTER_DEFAULTS, ...opts};
    this.reject = makeReject(this.o.reject);
    this.reset();
  }

  reset() {
    this.hist = [];
    this.open = [];
    this.step = -1;
  }

  /** Causal moving average of the last `smoothing` posteriors (float32, summed in order like np.mean). */
  smooth(p) {
    this.hist.push(Float32Array.from(p));
    if (this.hist.length > Math.max(1, this.o.smoothing | 0)) this.hist.shift();
    const n = this.hist.length;
    return this.hist[0].map((_, c) => {
      let s = this.hist[0][c];
      for (let k = 1; k < n; k++) s = f32(s + this.hist[k][c]);
      return f32(s / n);
    });
  }

  /** Add the posteriors describing frame `index` (time t); return the signs this step closes. */
  push(probs, index, t, tNow = null, nowIndex = null) {
    this.step++;
    const sm = this.smooth(probs);
    let c = 0;
    for (let i = 1; i < sm.length; i++) if (sm[i] > sm[c]) c = i;
    if (c !== this.blank && sm[c] >= this.o.threshold) {
      let cur = this.open.find((k) => k.label === c && this.step - k.last - 1 <= this.o.merge_steps);
      if (!cur) {
        cur = new Candidate(c, this.step, index, t);
        this.open.push(cur);
      }
      cur.add(this.step, index, t, sm);
    }
    const done = this.open.filter((k) => this.step - k.last > this.o.merge_steps);
    return this.close(done, tNow ?? t, nowIndex ?? index);
  }

  /** End of stream: close every open candidate. */
  flush(tNow, nowIndex) {
    const out = this.close([...this.open], tNow, nowIndex, true);
    this.reset();
    return out;
  }

  close(done, tNow, nowIndex, final = false) {
    if (!done.length) return [];
    // wait while a still-open candidate overlaps one that is done (NMS needs both)
    const still = this.open.filter((k) => !done.includes(k));
    const ready = done.filter((k) => final || !still.some((o) => o.first <= k.last && k.first <= o.last));
    this.open = this.open.filter((k) => !ready.includes(k));
    const kept = [];
    const byMass = ready.filter((k) => k.steps >= this.o.min_steps).sort((a, b) => b.mass - a.mass);  // stable
    const len = (k) => k.last - k.first + 1;
    for (const k of byMass) {
      const ok = kept.every((o) => Math.min(k.last, o.last) - Math.max(k.first, o.first) + 1 <= this.o.nms_overlap * Math.min(len(k), len(o)));
      if (ok) kept.push(k);
    }
    const out = [];
    for (const k of kept.sort((a, b) => a.first - b.first)) {
      let label = this.labels[k.label];
      const mean = k.psum.map((v) => f32(v / Math.max(k.steps, 1)));
      const own = mean[k.label];
      const weak = this.o.min_mean !== null && this.o.min_mean !== undefined && own < this.o.min_mean;
      if (k.peak < this.o.min_score || weak || (this.reject && this.reject(label, mean))) {
        if (this.o.unknown_label === null || this.o.unknown_label === undefined) continue;
        label = this.o.unknown_label;
      }
      out.push({label, score: k.peak, tStart: k.t0, tEnd: k.t1, tEmit: tNow, start: k.i0, end: k.i1, emit: nowIndex});
    }
    return out;
  }
}

/** Online spotter: feed(frame [543*3], t) → signs; flush() at the end. predict: async (Float32Array
 *  [window*543*3]) → posteriors [C]. cfg: {labels, spotting: {window, stride, label_offset, blank}, options}. */
export class Spotter {
  constructor(predict, cfg) {
    const sp = cfg.spotting || {};
    for (const k of ['window', 'stride', 'label_offset', 'blank']) if (!(k in sp)) throw new Error(`spotter config has no spotting.${k}`);
    this.labels = cfg.labels;
    if (!this.labels.includes(sp.blank)) throw new Error(`spotting blank label ${sp.blank} is not among the labels`);
    this.predict = predict;
    this.window = sp.window | 0;
    this.stride = Math.max(1, sp.stride | 0);
    this.offset = sp.label_offset | 0;
    this.decoder = new SpotDecoder(this.labels, this.labels.indexOf(sp.blank), cfg.options || {});
    this.lastProbs = null;
    this.reset();
  }

  reset() {
    this.buf = new Float32Array(this.window * N_LANDMARKS * 3).fill(NaN);
    this.times = [];
    this.n = 0;
    this.decoder.reset();
  }

  async feed(frame, t) {
    const F = N_LANDMARKS * 3;
    if (frame.length !== F) throw new Error(`spotter: expected a [543,3] frame, got ${frame.length} values`);
    this.buf.copyWithin(0, F);
    this.buf.set(frame, (this.window - 1) * F);
    this.times.push(t);
    if (this.times.length > this.window) this.times.shift();
    this.n++;
    if (this.n % this.stride) return [];
    const k = Math.min(this.offset, this.times.length - 1);
    this.lastProbs = await this.predict(Float32Array.from(this.buf));
    return this.decoder.push(this.lastProbs, this.n - 1 - k, this.times[this.times.length - 1 - k], t, this.n - 1);
  }

  /** End of stream: feed label_offset hand-less frames (so the last frames get described), close all. */
  async flush(dt = 1 / 30) {
    const F = N_LANDMARKS * 3;
    const out = [];
    const t = this.times.length ? this.times[this.times.length - 1] : 0;
    const last = this.buf.slice((this.window - 1) * F);
    for (const r of HAND_ROWS) last.fill(NaN, r * 3, r * 3 + 3);
    const n0 = this.n;
    for (let i = 0; i < this.offset; i++) out.push(...await this.feed(last, t + (i + 1) * dt));
    out.push(...this.decoder.flush(t + this.offset * dt, n0 - 1 + this.offset));
    return out;
  }
}
