"""Classify a phone's streamed accelerometer live with an accel .tflite (LiteRT, no TensorFlow).

Samples are resampled from the phone's timestamps to the model's rate (jitter, gaps, duplicates and
late samples handled; a gap longer than a window restarts it), cut into windows of the model's length
every --stride seconds and classified; one JSON line per window goes to stdout (or --output), in the
JSON shape of `edgelite predict`:
  {"input": <replayed PATH, else the device>, "label": "...", "score": 0.97, "top": [{"label": "...", "score": 0.97}, ...],
   "t_start": <s>, "t_end": <s>, "device": "..."}   (t_* = device time of the window, seconds)
The model's metadata says whether it expects gravity included; the matching stream is used
(Sensor Logger: "totalacceleration" includes gravity, "accelerometer" excludes it).

sources:
  sensorlogger     HTTP server for the Sensor Logger app (Settings → Data Streaming → HTTP Push,
                   URL http://THIS-HOST:PORT/ — any path; add ?token=T when --token is set).
                   Listens on --host (127.0.0.1 unless you give a LAN address) --port (8000).
  sensorserver     connects to the SensorServer Android app at --url
                   (default ws://127.0.0.1:8080/sensor/connect?type=android.sensor.accelerometer),
                   reconnecting with back-off.
  udp              "Sensorstream IMU+GPS" app datagrams (CSV time,3,ax,ay,az,...) on --host/--port (5555).
  browser          WebSocket server for the web site's "phone as a sensor" page (sensor.html of
                   `edgelite export --target web`), on --host/--port (8765); beyond 127.0.0.1 it needs
                   --token and speaks wss:// (self-signed certificate: open https://HOST:PORT/ once on the phone).
  replay:PATH      a recording file/folder in any supported format (--fast by default, or --realtime).

Counters of malformed / dropped messages are printed to stderr at the end.

examples:
  edgelite run accel --model runs/uci/model.tflite --source replay:../shared/data/accel/uci-walking/Dataset/7.csv
  edgelite run accel --model runs/uci/model.tflite --source sensorlogger --host 0.0.0.0 --port 8000 --token s3cret
  edgelite run accel --model runs/uci/model.tflite --source sensorserver --url ws://192.168.1.20:8080/sensor/connect?type=android.sensor.accelerometer
  edgelite run accel --model runs/uci/model.tflite --source browser --host 0.0.0.0 --token s3cret
  edgelite run accel --model runs/uci/model.tflite --source udp --port 5555 --record recordings/ --output live.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time

PATH = ("run", "accel")
HELP = "classify a phone's streamed accelerometer live (Sensor Logger, SensorServer, UDP, replay)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="ACCEL.tflite", help="accel model with edgelite metadata")
    p.add_argument("--source", required=True, metavar="SOURCE",
                   help="sensorlogger | sensorserver | udp | replay:PATH")
    p.add_argument("--host", default="127.0.0.1", help="address servers listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (sensorlogger 8000, udp 5555; 0 = any free)")
    p.add_argument("--url", default=None, help="SensorServer WebSocket URL (sensorserver source)")
    p.add_argument("--stride", type=float, default=None, metavar="S",
                   help="seconds between window starts (default: half the model's window)")
    p.add_argument("--record", default=None, metavar="DIR", help="also write the received samples as CSV here")
    p.add_argument("--flush-every", type=float, default=10.0, metavar="S",
                   help="with --record: complete (fsync + rename) each CSV part every S seconds, so a killed "
                        "process loses at most S seconds per stream (default 10)")
    p.add_argument("--output", default=None, metavar="FILE", help="write JSON lines here instead of stdout")
    p.add_argument("--token", default=None, help="require this token from HTTP clients (?token= or Bearer)")
    p.add_argument("--smooth", type=int, default=1, metavar="K",
                   help="report the mean probabilities of the last K windows (default 1 = off)")
    p.add_argument("--top", type=int, default=3, help="entries in 'top' (default 3)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--realtime", action="store_true", help="replay at the recording's pace")
    g.add_argument("--fast", action="store_true", help="replay as fast as possible (default)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--max-message-bytes", type=int, default=1 << 20, help="larger messages are refused (1 MiB)")
    p.add_argument("--units", default="m/s^2", choices=["m/s^2", "g"], help="units the phone sends (m/s^2)")
    p.add_argument("--invert", action="store_true",
                   help="negate x,y,z (iOS Sensor Logger without 'Standardise Units & Frames')")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress/warnings on stderr")


FLAGS = {"stride_s": "--stride", "top_k": "--top", "smooth": "--smooth", "record_dir": "--record",
         "source": "--source", "url": "--url", "num_threads": "--threads", "fmt": "--format"}


def _check_args(args: argparse.Namespace) -> None:
    from edgelite.runtime.core.errors import EdgeliteError

    if args.smooth < 1:
        raise EdgeliteError(f"--smooth must be ≥ 1, got {args.smooth}")
    if args.stride is not None and args.stride <= 0:
        raise EdgeliteError(f"--stride must be > 0 seconds, got {args.stride}")
    if args.url and args.source != "sensorserver":
        raise EdgeliteError("--url is only for --source sensorserver (servers take --host/--port)")
    if args.host not in ("127.0.0.1", "localhost", "::1") and args.source in ("sensorlogger", "udp") and not args.quiet:
        note = ("anyone on the network can push samples; consider --token" if args.source == "sensorlogger" and not args.token
                else "UDP has no authentication: anyone on the network can send samples" if args.source == "udp" else "")
        if note:
            print(f"edgelite: warning: listening on {args.host}: {note}", file=sys.stderr)


def _open_source(args: argparse.Namespace):
    from edgelite.runtime.accel.sources import DEFAULT_URL, SourceOptions, make_source

    opts = SourceOptions(host=args.host, port=args.port, url=args.url or DEFAULT_URL, token=args.token,
                         max_message_bytes=args.max_message_bytes, realtime=args.realtime, units=args.units,
                         invert=args.invert)
    return make_source(args.source, opts), opts


def _where(args: argparse.Namespace, source, opts) -> str:
    if args.source in ("sensorlogger", "udp"):
        scheme = "http" if args.source == "sensorlogger" else "udp"
        return f"{scheme}://{source.address[0]}:{source.address[1]}" + ("/" if scheme == "http" else "")
    if args.source == "browser":
        return source.url
    return opts.url if args.source == "sensorserver" else args.source


def _input_name(source: str) -> str | None:
    """The results' ``input``: the replayed path as given; None for live sources (then the device name)."""
    return source.split(":", 1)[1] if source.startswith("replay:") else None


def _stop_event() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        except ValueError:
            pass
    return stop


def run(args: argparse.Namespace) -> int:
    from edgelite.commands._flags import cli_names

    with cli_names(FLAGS):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from edgelite.runtime.accel.classifier import AccelClassifier, AccelClassifierOptions
    from edgelite.runtime.accel.recording import Recorder
    from edgelite.runtime.accel.sources import pump
    from edgelite.runtime.accel.stream import Counters, JsonLinesWriter, StreamClassifier

    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING, format="edgelite: %(message)s",
                        stream=sys.stderr)
    _check_args(args)
    model = AccelClassifier.create_from_options(AccelClassifierOptions(args.model, num_threads=args.threads,
                                                                       top_k=args.top))
    counters = Counters("stream")
    source, opts = _open_source(args)
    out = open(args.output, "a", encoding="utf-8") if args.output else sys.stdout
    clf = StreamClassifier.for_model(model, stride_s=args.stride, emit=JsonLinesWriter(out), counters=counters,
                                     input_name=_input_name(args.source), smooth=args.smooth, top_k=args.top)
    recorder = Recorder(args.record, flush_every_s=args.flush_every) if args.record else None
    stop = _stop_event()

    def on_message(msg):
        if recorder is not None:
            recorder.write_many(msg)
        clf.push_many(msg)

    o = clf.opts
    t0 = time.monotonic()
    try:
        source.start()
        if not args.quiet:
            print(f"edgelite: {args.source} → {args.model}: {o.window_samples} samples @ {o.rate_hz:g} Hz, "
                  f"stride {o.stride / o.rate_hz:g} s ({o.stride} samples), gravity={o.gravity}; {_where(args, source, opts)}; "
                  "Ctrl-C stops", file=sys.stderr)
        try:
            pump(source, on_message, max_seconds=args.max_seconds, stop=stop)
        except KeyboardInterrupt:
            pass
    finally:
        source.close()
        model.close()
        if recorder is not None:
            recorder.close()
        if args.output:
            out.close()
    if not args.quiet:
        summary = {"samples": clf.samples_in, "windows": clf.windows_out, "seconds": round(time.monotonic() - t0, 3),
                   "devices": len(clf.devices), "counters": {**counters.as_dict(), **source.counters.as_dict()}}
        if recorder is not None:
            summary["recorded_files"] = len(recorder.files)
        print("edgelite: " + json.dumps(summary), file=sys.stderr)
    return 0
