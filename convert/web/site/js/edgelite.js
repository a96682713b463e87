// Shared by every page: visible status messages, the site config, LiteRT.js model loading and running.
// Plain ES module, no build step. Runtime files are local (copied by `edgelite export --target web`).
import {loadLiteRt, loadAndCompile, Tensor} from '../runtime/litertjs/core/index.js';

import {showErrors, status} from './ui.js';

export {showErrors, status};

/** The site config written by the export: {task, model, labels, metadata, input_shape, ...}. */
export async function loadConfig(url = 'model/config.json') {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (is this folder an exported edgelite site?)`);
  return r.json();
}

let runtimePromise = null;
/** What loadRuntime chose (for the pages' info line and the benchmark). */
export const runtimeInfo = {threads: false};

/** Load the LiteRT.js wasm once. threads=true needs a cross-origin isolated page (COOP/COEP headers). */
export function loadRuntime(threads = false) {
  if (!runtimePromise) {
    if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly: LiteRT.js cannot run');
    const useThreads = threads && self.crossOriginIsolated === true;
    runtimeInfo.threads = useThreads;  // which wasm build: threaded (SharedArrayBuffer) or single-thread
    runtimePromise = loadLiteRt(new URL('../runtime/litertjs/wasm/', import.meta.url).href, {threads: useThreads});
  }
  return runtimePromise;
}

/** A compiled .tflite with one float32 input of a fixed shape and one probabilities output. */
export class WebModel {
  constructor(compiled, shape, labels) {
    this.compiled = compiled;
    this.shape = shape;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.labels = labels;
  }

  /** Load LiteRT.js and compile cfg.model (a URL relative to the site root). */
  static async load(cfg, {threads = false, numThreads = undefined} = {}) {
    await loadRuntime(threads);
    const opts = {accelerator: 'wasm'};
    if (numThreads) opts.cpuOptions = {numThreads};
    const compiled = await loadAndCompile(new URL(cfg.model, document.baseURI).href, opts);
    return new WebModel(compiled, cfg.input_shape, cfg.labels);
  }

  /** x: Float32Array of this.size values (row-major, this.shape) → Float32Array probabilities [C]. */
  async predict(x) {
    if (x.length !== this.size) throw new Error(`model input needs ${this.size} values (${this.shape}), got ${x.length}`);
    const input = new Tensor(x, this.shape);
    try {
      const outs = await this.compiled.run([input]);
      const out = outs[0];
      const host = await out.moveTo('wasm');
      const probs = Float32Array.from(host.toTypedArray());
      host.delete();
      for (const o of outs) if (!o.deleted) o.delete();
      return probs;
    } finally {
      if (!input.deleted) input.delete();
    }
  }
}

/** [[label, p], ...] best first, like the Python runtime's top entries (stable order on ties). */
export function topEntries(probs, labels, k = 3) {
  const idx = Array.from(probs, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  return idx.slice(0, k).map((i) => [labels[i] ?? String(i), probs[i]]);
}
