"""Quiet, predictable logs: library and native (C++) chatter is hidden unless asked for.

TensorFlow, LiteRT and MediaPipe write INFO lines straight to file descriptor 2 from C++
("Created TensorFlow Lite XNNPACK delegate for CPU", absl ``I0000 …`` lines, "Sparsity tensors…",
``fully_quantize: 0…``, oneDNN notes) and ignore most environment switches once loaded. Python
libraries add retracing warnings and absl duplicates through :mod:`logging`.

- :func:`quiet_environment` sets the environment switches (before TF/LiteRT are imported);
- :func:`quiet_python_loggers` lowers the TensorFlow/absl/Keras Python loggers to errors;
- :func:`install_warning_format` prints each Python warning as one ``edgelite: warning: …`` line;
- :class:`StderrFilter` replaces fd 2 with a pipe whose reader thread drops known noise lines
  (:func:`is_noise`) and forwards everything else (progress bars included) unchanged;
- :func:`setup` does all of it (``verbose=True``: only the warning format).

No TensorFlow or LiteRT import here.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import select
import sys
import threading
import warnings

#: Native/library lines hidden unless verbose. Real errors (absl ``E``/``F`` lines, tracebacks) pass.
NOISE_PATTERNS = (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\]",  # absl/glog INFO and WARNING lines
    r"INFO: ",  # TFLite minimal logging: XNNPACK delegate, runtime initialised
    r"Sparsity tensors",
    r"fully_quantize: \d",
    r"To enable the following instructions: ",
    r"WARNING:(tensorflow|absl):",
    r".*TensorFlow binary is optimized to use available CPU instructions",
    r".*oneDNN custom operations are on",
    r".*[Aa]ccelerator(s)? (registry|registered)",
    r".*triggered tf\.function retracing",
)
_NOISE = re.compile("|".join(f"(?:{p})" for p in NOISE_PATTERNS))

#: Python loggers that repeat native lines or print retracing warnings.
CHATTY_LOGGERS = ("tensorflow", "absl", "keras", "h5py", "jax")


def is_noise(line: str) -> bool:
    """True when one stderr line (without its newline) is library chatter."""
    return bool(_NOISE.match(line.lstrip()))


def quiet_environment(verbose: bool = False) -> None:
    """Environment switches read by TensorFlow, absl and MediaPipe when they load."""
    level = "0" if verbose else "3"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = level
    os.environ.setdefault("GLOG_minloglevel", "0" if verbose else "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "0" if verbose else "2")


def quiet_python_loggers() -> None:
    """TensorFlow/absl/Keras Python loggers at ERROR (retracing warnings, absl duplicates)."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*triggered tf\.function retracing.*")


def format_warning(message, category, filename, lineno, line=None) -> str:
    """One line: ``edgelite: warning: <message>`` (newlines folded)."""
    text = " ".join(str(message).split())
    return f"edgelite: warning: {text}\n"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    stream = file or sys.stderr
    try:
        stream.write(format_warning(message, category, filename, lineno, line))
    except (OSError, ValueError):
        pass


def install_warning_format() -> None:
    """Route :func:`warnings.warn` through :func:`format_warning`."""
    warnings.showwarning = _show_warning
    warnings.formatwarning = format_warning


class StderrFilter:
    """Filter fd 2 through a pipe: lines matching :func:`is_noise` are dropped, the rest forwarded.

    Partial lines (progress bars ending in ``\\r``) are forwarded at once; a pending fragment with no
    newline is flushed after ``flush_s`` seconds. :meth:`close` restores fd 2 and drains the pipe.
    """

    def __init__(self, flush_s: float = 0.05):
        self.flush_s = flush_s
        self._saved = os.dup(2)
        r, w = os.pipe()
        self._read = r
        sys.stderr.flush()
        os.dup2(w, 2)
        os.close(w)
        self._thread = threading.Thread(target=self._pump, name="edgelite-stderr-filter", daemon=True)
        self._thread.start()
        self._closed = False

    def _emit(self, data: bytes) -> None:
        try:
            os.write(self._saved, data)
        except OSError:
            pass

    def _filter(self, pending: bytes, final: bool = False) -> bytes:
        """Forward complete lines (dropping noise) and ``\\r``-terminated fragments; return the rest."""
        *lines, rest = pending.split(b"\n")
        out = [ln + b"\n" for ln in lines if not is_noise(ln.decode("utf-8", "replace"))]
        if b"\r" in rest:
            cut = rest.rindex(b"\r") + 1
            out.append(rest[:cut])
            rest = rest[cut:]
        if final and rest and not is_noise(rest.decode("utf-8", "replace")):
            out.append(rest)
            rest = b""
        if out:
            self._emit(b"".join(out))
        return rest

    def _pump(self) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([self._read], [], [], self.flush_s)
            if not ready:
                if pending:
                    pending = self._filter(pending, final=True)
                continue
            chunk = os.read(self._read, 65536)
            if not chunk:
                self._filter(pending, final=True)
                return
            pending = self._filter(pending + chunk)

    def close(self) -> None:
        """Restore the original fd 2 and forward what is left in the pipe."""
        if self._closed:
            return
        self._closed = True
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._saved, 2)  # closes the pipe's last write end held by us
        self._thread.join(timeout=2.0)
        os.close(self._read)


_filter: StderrFilter | None = None


def setup(verbose: bool = False, process_wide: bool = True) -> None:
    """Quiet everything (unless ``verbose``); warnings print as one ``edgelite: warning:`` line.

    ``process_wide``: also replace :func:`warnings.showwarning` and filter native lines on fd 2 for
    the rest of the process (the ``edgelite`` command does this; a caller that owns the process,
    e.g. pytest or a notebook, passes False and only gets the environment and logger levels).
    """
    global _filter
    if process_wide:
        install_warning_format()
    if verbose:
        quiet_environment(verbose=True)
        return
    quiet_environment()
    quiet_python_loggers()
    if process_wide and _filter is None and os.name != "nt":  # select() on pipes is POSIX-only
        try:
            _filter = StderrFilter()
        except OSError:  # no fd 2 (daemonised): nothing to filter
            _filter = None
            return
        atexit.register(_filter.close)
