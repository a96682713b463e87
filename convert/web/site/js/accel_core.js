// Online accelerometer pipeline, a line-by-line port of edgelite.runtime.accel.stream (DeviceStream):
// device time (s) + xyz → units → drop late/non-finite → linear resampling onto t0 + k/rate (same grid
// arithmetic as the Python Resampler) → windows of n samples every `stride` → model.
// Values are rounded to float32 where the Python side stores float32, so windows are bit-identical.

const f32 = Math.fround;
export const STANDARD_GRAVITY = 9.80665;
export const UNIT_SCALE = {'m/s^2': 1.0, 'm/s2': 1.0, 'ms2': 1.0, 'g': STANDARD_GRAVITY};

/** Online linear interpolation of increasing samples onto t0 + k/rate (mirrors stream.Resampler). */
export class Resampler {
  constructor(rateHz, resetGapS) {
    this.rate = rateHz;
    this.dt = 1.0 / rateHz;
    this.resetGap = resetGapS;
    this.reset();
  }

  reset() {
    this.t0 = null;
    this.k = 0;
    this.tLast = null;
    this.xLast = null;
  }

  /** t: number[] increasing (s); x: [number,number,number][] → [{reset, tg: number[], xg: Float32Array[]}]. */
  push(t, x) {
    const out = [];
    if (t.length === 0) return out;
    const cuts = [];
    for (let i = 1; i < t.length; i++) if (t[i] - t[i - 1] > this.resetGap) cuts.push(i);
    const firstReset = this.tLast === null || t[0] - this.tLast > this.resetGap;
    const bounds = [0, ...cuts, t.length];
    for (let s = 0; s < bounds.length - 1; s++) {
      let ts = t.slice(bounds[s], bounds[s + 1]);
      let xs = x.slice(bounds[s], bounds[s + 1]);
      const reset = s === 0 ? firstReset : true;
      if (reset) {
        this.t0 = ts[0];
        this.k = 0;
      } else {
        ts = [this.tLast, ...ts];
        xs = [this.xLast, ...xs];
      }
      const kMax = Math.floor((ts[ts.length - 1] - this.t0) / this.dt + 1e-9);
      const tg = [];
      const xg = [];
      if (kMax >= this.k) {
        let j = 0;
        for (let k = this.k; k <= kMax; k++) {
          const tk = this.t0 + k * this.dt;
          tg.push(tk);
          xg.push(interp3(tk, ts, xs, j));
          while (j + 1 < ts.length - 1 && ts[j + 1] <= tk) j++;
        }
        this.k = kMax + 1;
      }
      this.tLast = ts[ts.length - 1];
      this.xLast = xs[xs.length - 1].map(f32);
      if (reset || tg.length) out.push({reset, tg, xg});
    }
    return out;
  }
}

/** np.interp at one point for 3 channels (ts increasing, tk inside [ts[0], ts[-1]]); j is a search start. */
function interp3(tk, ts, xs, j) {
  const n = ts.length;
  if (tk >= ts[n - 1]) return Float32Array.from(xs[n - 1]);
  if (tk <= ts[0]) return Float32Array.from(xs[0]);
  while (j + 1 < n && ts[j + 1] <= tk) j++;
  if (ts[j] === tk) return Float32Array.from(xs[j]);
  const out = new Float32Array(3);
  const d = ts[j + 1] - ts[j];
  for (let c = 0; c < 3; c++) {
    const slope = (xs[j + 1][c] - xs[j][c]) / d;
    out[c] = slope * (tk - ts[j]) + xs[j][c];
  }
  return out;
}

/** Windows of n samples every stride samples over a resampled stream (mirrors stream.Windower). */
export class Windower {
  constructor(n, stride) {
    this.n = n;
    this.stride = stride;
    this.reset();
  }

  reset() {
    this.buf = [];  // last ≤ n samples (Float32Array(3))
    this.bufT = [];
    this.total = 0;
    this.nextEnd = this.n;
  }

  /** → [{tEnd, window: Float32Array(n*3)}] completed by these samples. */
  push(tg, xg) {
    const out = [];
    for (let i = 0; i < tg.length; i++) {
      this.buf.push(xg[i]);
      this.bufT.push(tg[i]);
      if (this.buf.length > this.n) {
        this.buf.shift();
        this.bufT.shift();
      }
      this.total++;
      if (this.total === this.nextEnd) {
        const w = new Float32Array(this.n * 3);
        this.buf.forEach((v, r) => w.set(v, r * 3));
        out.push({tEnd: this.bufT[this.bufT.length - 1], window: w});
        this.nextEnd += this.stride;
      }
    }
    return out;
  }
}

/** Removes a low-pass gravity estimate (mirrors stream.GravityRemover), for gravity-free models on phones
 *  that only give accelerationIncludingGravity. */
export class GravityRemover {
  constructor(rateHz, tauS = 0.5) {
    const dt = 1.0 / rateHz;
    this.alpha = tauS / (tauS + dt);
    this.g = null;
  }

  apply(xg) {
    const a = this.alpha;
    return xg.map((x) => {
      if (this.g === null) this.g = Array.from(x);
      this.g = this.g.map((g, c) => a * g + (1 - a) * x[c]);
      return Float32Array.from(x, (v, c) => v - this.g[c]);
    });
  }
}

/** One device's stream: options from the site config's `stream` ({rate_hz, window_samples, stride,
 *  reset_gap_s, units, gravity}). push(t[], xyz[][], {gravity}) → [{tEnd, window}]. */
export class AccelStream {
  constructor(opts) {
    this.o = opts;
    this.resampler = new Resampler(opts.rate_hz, opts.reset_gap_s);
    this.windower = new Windower(opts.window_samples, opts.stride);
    this.converter = null;
    this.counts = {late: 0, non_finite: 0, gap_reset: 0, clock_jump: 0};
  }

  reset() {
    this.resampler.reset();
    this.windower.reset();
    if (this.converter) this.converter.g = null;
  }

  push(t, xyz, {units = 'm/s^2', convertGravity = false} = {}) {
    const scale = f32(UNIT_SCALE[units] / UNIT_SCALE[this.o.units]);
    let ts = [];
    let xs = [];
    for (let i = 0; i < t.length; i++) {
      let v = xyz[i].map(f32);
      if (scale !== 1) v = v.map((a) => f32(a * scale));
      if (!Number.isFinite(t[i]) || !v.every(Number.isFinite)) {
        this.counts.non_finite++;
        continue;
      }
      ts.push(t[i]);
      xs.push(v);
    }
    // sort + drop duplicates (stable), as DeviceStream.accept
    if (ts.some((v, i) => i > 0 && v <= ts[i - 1])) {
      const order = ts.map((_, i) => i).sort((a, b) => ts[a] - ts[b] || a - b);
      const t2 = [];
      const x2 = [];
      for (const i of order) {
        if (t2.length && ts[i] <= t2[t2.length - 1]) continue;
        t2.push(ts[i]);
        x2.push(xs[i]);
      }
      ts = t2;
      xs = x2;
    }
    let last = this.resampler.tLast;
    if (last !== null && ts.length && ts[ts.length - 1] < last - this.o.reset_gap_s) {
      this.counts.clock_jump++;
      this.reset();
      last = null;
    }
    if (last !== null && ts.length && ts[0] <= last) {
      const keep = ts.map((v) => v > last);
      this.counts.late += keep.filter((k) => !k).length;
      xs = xs.filter((_, i) => keep[i]);
      ts = ts.filter((_, i) => keep[i]);
    }
    const windows = [];
    for (const seg of this.resampler.push(ts, xs)) {
      let xg = seg.xg;
      if (seg.reset) {
        if (this.windower.total) this.counts.gap_reset++;
        this.windower.reset();
        if (this.converter) this.converter.g = null;
      }
      if (convertGravity && xg.length) {
        if (!this.converter) this.converter = new GravityRemover(this.o.rate_hz);
        xg = this.converter.apply(xg);
      }
      windows.push(...this.windower.push(seg.tg, xg));
    }
    return windows;
  }
}
