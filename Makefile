# edgelite: two commands on a fresh machine (see README):
#   make demo   set up .venv, train on the shared UCI walking data, convert, predict
#   make test   set up .venv (if needed) and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(if $(EDGELITE_SHARED),$(EDGELITE_SHARED),../shared)
RUN ?= runs/uci-walking

.PHONY: setup demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/edgelite train accel --data $(SHARED)/data/accel/uci-walking/Dataset --format continuous --epochs 30 --out $(RUN)
	$(VENV)/bin/edgelite convert $(RUN) --variants fp32,fp16,int8-dynamic,int8 --out $(RUN)/convert
	$(VENV)/bin/edgelite predict $(RUN)/model.tflite $(SHARED)/data/accel/uci-walking/Dataset/7.csv --aggregate
	$(VENV)/bin/edgelite inspect $(RUN)/model.tflite

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs build *.egg-info
