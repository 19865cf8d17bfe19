# Two entry points for a fresh clone: `make demo` (tiny CPU pipeline) and `make test`.
# Shell only chains commands here; decisions live in Python.
PY := .venv/bin/python
STAMP := .venv/.installed

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	# DeepSpeed for the 2-process ZeRO-3 test on CPU (docs/distributed.md): built against the torch above,
	# without compiling its CUDA ops (an isolated build would fetch a CUDA torch).
	DS_BUILD_OPS=0 $(PY) -m pip install -q --no-build-isolation deepspeed==0.19.8
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	.venv/bin/medreasoner run recipes/tiny/pipeline.yaml
	.venv/bin/medreasoner report runs/tiny_pipeline --output runs/tiny_pipeline/report

# The three findings with their ablations, 3 seeds, one report (docs/recipes.md).
reproduce: $(STAMP)
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=0 --output runs/reproduce_s0
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=1 --output runs/reproduce_s1
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=2 --output runs/reproduce_s2
	.venv/bin/medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 \
		--findings configs/findings/tiny.yaml --output runs/reproduce_report

# Maintainers: regenerate the README's and docs/recipes.md's figures from the last demo and reproduce runs.
figures: $(STAMP)
	.venv/bin/medreasoner report runs/tiny_pipeline --output runs/tiny_pipeline/report \
		--embed README.md#demo --embed docs/recipes.md#demo
	.venv/bin/medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 \
		--findings configs/findings/tiny.yaml --output runs/reproduce_report \
		--embed README.md#reproduce --embed docs/recipes.md#reproduce
	mkdir -p docs/figures && cp runs/reproduce_report/findings.png docs/figures/reproduce_findings.png

test: $(STAMP)
	$(PY) -m pytest -q

.PHONY: install demo reproduce figures test
