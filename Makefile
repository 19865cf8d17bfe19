# Two entry points for a fresh clone: `make demo` (tiny CPU pipeline) and `make test`.
# Shell only chains commands here; decisions live in Python.
PY := .venv/bin/python
STAMP := .venv/.installed

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	.venv/bin/medreasoner run recipes/tiny/pipeline.yaml

test: $(STAMP)
	$(PY) -m pytest -q

.PHONY: install demo test
