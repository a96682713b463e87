"""Sources of streamed accelerometer samples, each speaking a real phone app's protocol (stdlib only).

- ``sensorlogger``: HTTP server for the Sensor Logger app's "HTTP push": POST JSON
  ``{messageId, sessionId, deviceId, payload: [{name, time (ns), values: {x, y, z}}, ...]}`` on any
  path; ``name`` "accelerometer" = without gravity, "totalacceleration" = with gravity (m/s²).
- ``sensorserver``: WebSocket client of the SensorServer Android app
  (``ws://PHONE:8080/sensor/connect?type=android.sensor.accelerometer``, messages
  ``{"values": [x, y, z], "timestamp": ns, "accuracy": n}``), reconnecting with back-off.
  A minimal RFC 6455 client (socket + base64 + hashlib), so a Raspberry Pi needs no extra package.
- ``udp``: datagrams of the "Sensorstream IMU+GPS" app, CSV ``time_s, 3, ax, ay, az, 4, gx, gy, gz, ...``
  (sensor id 3 = accelerometer with gravity, m/s²); one device per sender address.
- ``browser``: WebSocket server for the exported web site's "phone as a sensor" page (JSON batches of
  DeviceMotion samples); token required and TLS (wss) when bound beyond 127.0.0.1.
- ``replay:PATH``: any recording the readers of :mod:`edgelite.runtime.accel.io` support, as fast as
  possible or in real time.

Every source yields *messages*: lists of :class:`edgelite.runtime.accel.stream.Batch`. Network sources run a
thread and hand messages over through a bounded queue (a flood beyond it is dropped and counted).
Servers bind 127.0.0.1 unless told otherwise and can require a token; message sizes are capped;
malformed messages are counted, logged once per kind and skipped — the server keeps serving.
"""

from __future__ import annotations

from edgelite.runtime.accel.sources.base import (
    DEFAULT_PORTS,
    DEFAULT_URL,
    Message,
    Source,
    SourceOptions,
    pump,
)
from edgelite.runtime.accel.sources.browser import BrowserSource, parse_browser
from edgelite.runtime.accel.sources.http import SensorLoggerSource, parse_sensorlogger
from edgelite.runtime.accel.sources.replay import ReplaySource
from edgelite.runtime.accel.sources.udp import UDPSource, parse_sensorstream
from edgelite.runtime.accel.sources.websocket import (
    SensorServerSource,
    WebSocketClient,
    WebSocketError,
    parse_sensorserver,
)
from edgelite.runtime.accel.stream import Batch, Counters
from edgelite.runtime.core.errors import DataError, EdgeliteError


def make_source(spec: str, opts: SourceOptions, counters: Counters | None = None) -> Source:
    """``sensorlogger`` | ``sensorserver`` | ``udp`` | ``replay:PATH`` → an unstarted source."""
    if spec.startswith("replay:"):
        path = spec[len("replay:"):]
        if not path:
            raise EdgeliteError("source 'replay:PATH' needs a recording file or folder after the colon")
        return ReplaySource(path, opts, counters or Counters("replay"))
    classes = {"sensorlogger": SensorLoggerSource, "sensorserver": SensorServerSource, "udp": UDPSource,
               "browser": BrowserSource}
    if spec not in classes:
        raise EdgeliteError(f"source {spec!r}: expected sensorlogger, sensorserver, udp, browser or replay:PATH")
    return classes[spec](opts, counters or Counters(spec))


__all__ = [
    "BrowserSource", "DEFAULT_PORTS", "DEFAULT_URL", "Message", "parse_browser", "ReplaySource", "SensorLoggerSource", "SensorServerSource",
    "Source", "SourceOptions", "UDPSource", "WebSocketClient", "WebSocketError", "make_source",
    "parse_sensorlogger", "parse_sensorserver", "parse_sensorstream", "pump",
]
