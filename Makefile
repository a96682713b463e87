# edgelite: two commands on a fresh machine (see README):
#   make demo   set up .venv, train on the shared UCI walking data, convert, predict
#   make test   set up .venv (if needed) and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(if $(EDGELITE_SHARED),$(EDGELITE_SHARED),../shared)
RUN ?= runs/uci-walking

.PHONY: setup compat-env demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all]'
	touch $@

setup: $(VENV)/.installed

# Optional: a separate python3.11 venv with tflite-runtime 2.14 + numpy<2 (what many Pis run), used by the
# compatibility checks of `edgelite convert` and its tests. Skipped with a note when it cannot be built.
compat-env: setup
	-$(PY) -c "from edgelite.convert.compat import ensure_tflite214_env as e; print('tflite-runtime 2.14 env:', e(build=True)[1])"

demo: setup
	$(VENV)/bin/edgelite train accel --data $(SHARED)/data/accel/uci-walking/Dataset --format continuous --epochs 30 --out $(RUN)
	$(VENV)/bin/edgelite convert $(RUN) --variants fp32,fp16,int8-dynamic,int8 --out $(RUN)/convert
	$(VENV)/bin/edgelite predict $(RUN)/model.tflite $(SHARED)/data/accel/uci-walking/Dataset/7.csv --aggregate
	$(VENV)/bin/edgelite inspect $(RUN)/model.tflite

test: setup compat-env
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs build *.egg-info

# Emulated Raspberry Pi (arm64 bookworm root from mmdebstrap, run with qemu-user-static, cached in
# ~/.cache/edgelite/pi-root): the Pi bundle installed offline for both runtimes, device `edgelite predict`
# on real recordings == host. Needs `apt-get install mmdebstrap qemu-user-static`; CI=true fails without them.
.PHONY: pi-check
pi-check: setup
	$(PY) -m pytest -q -s -m pi tests/test_pi.py

