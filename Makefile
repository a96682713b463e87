# edgelite: two commands on a fresh machine (see README):
#   make demo   set up .venv with [train,runtime], train on the shared UCI walking data, convert, predict
#   make test   install what the tests need ([all]) into .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(if $(EDGELITE_SHARED),$(EDGELITE_SHARED),../shared)
RUN ?= runs/uci-walking

.PHONY: setup compat-env demo test bench fuzz clean web-deps

# Two install levels: the demo needs training + runtime only; the tests also need camera (mediapipe,
# opencv) and dev (pytest, hypothesis), i.e. [all].
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[train,runtime]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[all,scale]'
	touch $@ $(VENV)/.installed-demo

setup: $(VENV)/.installed-demo

# A separate python3.11 venv with tflite-runtime 2.14 + numpy<2 (what many Pis run) in ~/.cache/edgelite,
# used by the compatibility checks of `edgelite convert` and its tests; building it uses the network.
# Outside CI a failure is a note (those tests skip); under CI=true it fails the run.
compat-env: $(VENV)/.installed-test
	$(PY) -c "import os, sys; from edgelite.convert.compat import ensure_tflite214_env as e; py, note = e(build=True); print('tflite-runtime 2.14 env:', note); sys.exit(1 if py is None and os.environ.get('CI') == 'true' else 0)"

# The last DEMO_TAIL seconds of every user are never trained on (--holdout-tail): the shipped model is
# tested on them (report.json "test"), they are written to $(RUN)/holdout/<user>.csv, and the demo
# predicts user 7's unseen tail. (A robust model: add --seeds 3 = the mean of 3 final fits, 3x the training.)
DEMO_TAIL ?= 10
demo: setup
	$(VENV)/bin/edgelite train accel --data $(SHARED)/data/accel/uci-walking/Dataset --format continuous --epochs 30 --holdout-tail $(DEMO_TAIL) --out $(RUN)
	$(VENV)/bin/edgelite convert $(RUN) --variants fp32,fp16,int8-dynamic,int4-weights,int8,int16x8 --out $(RUN)/convert
	@echo "predicting $(RUN)/holdout/7.csv: the last $(DEMO_TAIL) s of user 7, which no model of the run was trained on (true label: 7)"
	$(VENV)/bin/edgelite predict $(RUN)/model.tflite $(RUN)/holdout/7.csv --aggregate
	$(VENV)/bin/edgelite inspect $(RUN)/model.tflite

# The web target's pinned JavaScript runtime (LiteRT.js, MediaPipe tasks-vision) from npm, installed from the
# checked-in lockfile into the cache that `edgelite export --target web` copies from (needs node + npm).
WEB_DEPS ?= $(if $(EDGELITE_CACHE),$(EDGELITE_CACHE),$(HOME)/.cache/edgelite)/web
web-deps:
	mkdir -p $(WEB_DEPS)
	cp convert/web/package.json convert/web/package-lock.json $(WEB_DEPS)/
	npm ci --prefix $(WEB_DEPS) --no-audit --no-fund --ignore-scripts

test: $(VENV)/.installed-test compat-env
	$(PY) -m pytest -q

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run_all.py

# Fuzz every reader, the model reader and the stream parsers with mutated real files (../shared):
# FUZZ_CASES per target, each in a forked child with memory/CPU/time caps; table → benchmarks/results/fuzz.{md,json}
FUZZ_CASES ?= 1000
fuzz: setup
	$(PY) benchmarks/fuzz.py --cases $(FUZZ_CASES)

clean:
	rm -rf $(VENV) runs build *.egg-info

# Emulated Raspberry Pi (arm64 bookworm root from mmdebstrap, run with qemu-user-static, cached in
# ~/.cache/edgelite/pi-root): the Pi bundle installed offline for both runtimes, device `edgelite predict`
# on real recordings == host. Needs `apt-get install mmdebstrap qemu-user-static`; CI=true fails without them.
.PHONY: pi-check
pi-check: setup
	$(PY) -m pytest -q -s -m pi tests/test_pi.py

