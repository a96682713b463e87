"""Deploying edgelite to a device (TensorFlow-free code only; runs wherever the runtime runs).

- :mod:`.wheels`   build the edgelite wheel from this checkout; download aarch64/cp311 wheels of a runtime
- :mod:`.loadable` refuse a model the chosen runtime cannot load (op versions, convert.json, a real load)
- :mod:`.pibundle` the Raspberry Pi bundle: wheels/, install.sh, run_model.py, README.md
- :mod:`.piroot`   an emulated arm64 Debian bookworm root (mmdebstrap + qemu-user-static)
- :mod:`.picheck`  install a bundle offline in that root and compare its ``edgelite predict`` with the host's
- :mod:`.ssh`      copy a bundle to a device over SSH, install it, run ``edgelite bench`` there
"""
