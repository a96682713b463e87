// Visible status messages and error catching, shared by every page (no runtime imports: the sensor page uses it alone).

const statusEl = () => document.getElementById('status');

/** Show a message on the page (kind: 'info' | 'ok' | 'error'); errors are also logged. */
export function status(msg, kind = 'info') {
  const el = statusEl();
  if (el) {
    el.textContent = msg;
    el.className = `status ${kind}`;
  }
  if (kind === 'error') console.error(msg);
}

/** Catch any unhandled failure and show it: never a blank page. */
export function showErrors() {
  window.addEventListener('error', (e) => status(`error: ${e.message}`, 'error'));
  window.addEventListener('unhandledrejection', (e) => status(`error: ${e.reason?.message || e.reason}`, 'error'));
}
