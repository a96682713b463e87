"""Classify a phone's streamed accelerometer live with an accel .tflite (LiteRT, no TensorFlow).

Samples are resampled from the phone's timestamps to the model's rate (jitter, gaps, duplicates and
late samples handled; a gap longer than a window restarts it), cut into windows of the model's length
every --stride seconds and classified; one JSON line per window goes to stdout (or --output):
  {"device": "...", "t": <device time of the window's last sample, s>, "label": "...", "score": 0.97,
   "top": [["label", p], ...]}   (top like `edgelite predict`)
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


def run(args: argparse.Namespace) -> int:
    from edgelite.runtime.core.errors import EdgeliteError
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.accel.recording import Recorder
    from edgelite.runtime.accel.sources import DEFAULT_URL, SourceOptions, make_source, pump
    from edgelite.runtime.accel.stream import Counters, JsonLinesWriter, StreamClassifier

    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING, format="edgelite: %(message)s",
                        stream=sys.stderr)
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
    model = EdgeModel.open(args.model, num_threads=args.threads)
    if model.metadata.get("task") != "accel":
        raise EdgeliteError(f"{args.model}: metadata task is {model.metadata.get('task')!r}, expected 'accel'")
    counters = Counters("stream")
    opts = SourceOptions(host=args.host, port=args.port, url=args.url or DEFAULT_URL, token=args.token,
                         max_message_bytes=args.max_message_bytes, realtime=args.realtime, units=args.units,
                         invert=args.invert)
    source = make_source(args.source, opts)
    out = open(args.output, "a", encoding="utf-8") if args.output else sys.stdout
    writer = JsonLinesWriter(out)
    clf = StreamClassifier.for_model(model, stride_s=args.stride, emit=writer, counters=counters,
                                     smooth=args.smooth, top_k=args.top)
    recorder = Recorder(args.record) if args.record else None
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        except ValueError:
            pass

    def on_message(msg):
        if recorder is not None:
            recorder.write_many(msg)
        clf.push_many(msg)

    o = clf.opts
    t0 = time.monotonic()
    try:
        source.start()
        if not args.quiet:
            where = {"sensorlogger": lambda: f"http://{source.address[0]}:{source.address[1]}/",
                     "udp": lambda: f"udp://{source.address[0]}:{source.address[1]}",
                     "sensorserver": lambda: opts.url,
                     "browser": lambda: source.url}.get(args.source, lambda: args.source)()
            print(f"edgelite: {args.source} → {args.model}: {o.window_samples} samples @ {o.rate_hz:g} Hz, "
                  f"stride {o.stride}, gravity={o.gravity}; {where}; Ctrl-C stops", file=sys.stderr)
        try:
            pump(source, on_message, max_seconds=args.max_seconds, stop=stop)
        except KeyboardInterrupt:
            pass
    finally:
        source.close()
        if recorder is not None:
            recorder.close()
        if args.output:
            out.close()
    dt = time.monotonic() - t0
    if not args.quiet:
        summary = {"samples": clf.samples_in, "windows": clf.windows_out, "seconds": round(dt, 3),
                   "devices": len(clf.devices), "counters": {**counters.as_dict(), **source.counters.as_dict()}}
        if recorder is not None:
            summary["recorded_files"] = len(recorder.files)
        print("edgelite: " + json.dumps(summary), file=sys.stderr)
    return 0
