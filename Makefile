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

# The three findings with their ablations, 3 seeds, one report (docs/results.md).
reproduce: $(STAMP)
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=0 --output runs/reproduce_s0
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=1 --output runs/reproduce_s1
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=2 --output runs/reproduce_s2
	.venv/bin/medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 \
		--findings configs/findings/tiny.yaml --output runs/reproduce_report

# Three more seeds of the same recipe and one report over all six (about 40 minutes after `reproduce`). The
# six-seed table in docs/results.md is of the recipe before its RL pool (2026-12-02), whose rule is in
# configs/findings/tiny.yaml; `make figures` no longer rewrites it, since seeds 3-5 ran that earlier recipe.
# Run today, it adds seeds of the RL-pool recipe, which that file's rule excludes from rows 1-1c.
reproduce-more: $(STAMP)
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=3 --output runs/reproduce_s3
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=4 --output runs/reproduce_s4
	.venv/bin/medreasoner run recipes/tiny/reproduce.yaml seed=5 --output runs/reproduce_s5
	.venv/bin/medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 runs/reproduce_s3 \
		runs/reproduce_s4 runs/reproduce_s5 --findings configs/findings/tiny.yaml --output runs/reproduce6_report

# The reproduce seeds' models on 2,000 more held-out cases of the same world, one report (about 25 minutes after
# `reproduce`; recipes/tiny/reproduce_heldout.yaml has the rule, fixed before its runs).
HELDOUT_EVALS := sft nocpt_sft rpo dpo grpo grpo_random grpo_sftpool
HELDOUT_PROBES := base cpt sft nocpt_sft
define reproduce_heldout
	.venv/bin/medreasoner run recipes/tiny/reproduce_heldout.yaml seed=$(1) \
		$(foreach m,$(HELDOUT_EVALS),eval_$(m).model=runs/reproduce_s$(1)/$(m)) \
		$(foreach m,$(HELDOUT_PROBES),probe_$(m).model.path=runs/reproduce_s$(1)/$(m)) --output runs/heldout_s$(1)

endef
heldout: $(STAMP)
	$(call reproduce_heldout,0)
	$(call reproduce_heldout,1)
	$(call reproduce_heldout,2)
	.venv/bin/medreasoner report runs/heldout_s0 runs/heldout_s1 runs/heldout_s2 \
		--findings configs/findings/heldout.yaml --output runs/heldout_report

# Finding 2's RPO sampling temperature, scored once on a fresh block of 2,000 held-out cases after the choice on
# another block (run after `validation`, only if recipes/tiny/rpo_temperature_validation.yaml's rule chose an arm:
# `make rpo_temperature_final CHOSEN=yes`).
define rpo_temperature_final
	.venv/bin/medreasoner run recipes/tiny/rpo_temperature_final.yaml seed=$(1) \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_rpo.model=runs/reproduce_s$(1)/rpo \
		eval_rpo_t07.model=runs/validation/rpo_temperature_s$(1)/rpo_t07 \
		eval_rpo_t05.model=runs/validation/rpo_temperature_s$(1)/rpo_t05 \
		eval_rpo_n8.model=runs/validation/rpo_temperature_s$(1)/rpo_n8 \
		eval_rpo_n8_cap4.model=runs/validation/rpo_temperature_s$(1)/rpo_n8_cap4 --output runs/rpo_temperature_final_s$(1)

endef
rpo_temperature_final: $(STAMP)
	@test "$(CHOSEN)" = yes || { echo "rpo_temperature_final reads a block that stays unread until \
	recipes/tiny/rpo_temperature_validation.yaml's rule chooses an arm; then: make rpo_temperature_final CHOSEN=yes"; exit 1; }
	$(call rpo_temperature_final,0)
	$(call rpo_temperature_final,1)
	$(call rpo_temperature_final,2)
	.venv/bin/medreasoner report runs/rpo_temperature_final_s0 runs/rpo_temperature_final_s1 \
		runs/rpo_temperature_final_s2 --findings configs/findings/rpo_temperature_final.yaml \
		--output runs/rpo_temperature_final_report

# The S4 checks on seed 0's validation episodes, in the order they ran; each is recipes/tiny/<check>.yaml with
# configs/findings/<check>.yaml, reported in runs/<check>/report and quoted in docs/sim.md#<check>.
S4_CHECKS := s4_validation s4_sft_validation s4_dagger_validation s4_temperature_validation s4_kl_validation \
	s4_passk_validation s4_correct_kl_validation s4_correct_kl_long_validation s4_select_validation
define s4_check_report
	.venv/bin/medreasoner report runs/$(1) --findings configs/findings/$(1).yaml --output runs/$(1)/report $(2)

endef
define s4_check_run
	.venv/bin/medreasoner run recipes/tiny/$(1).yaml
$(call s4_check_report,$(1))
endef

# Finding 1 in the WiNGPT-3.0 S4 environment (docs/sim.md, "S4 at tiny scale"): SFT on expert episodes, GRPO in
# the environment, both played on held-out episodes (greedy, then 8 sampled per case), 3 seeds in one report
# (about 40 minutes a seed); then, on the validation episodes from seed 0's SFT model, the GRPO changes (reward,
# rate, group size, rollout temperature, KL, cases selected by the SFT model's own episodes), two SFT changes and
# DAgger data. About 8 hours on 2 cores.
s4: $(STAMP)
	.venv/bin/medreasoner run recipes/tiny/s4.yaml
	.venv/bin/medreasoner run recipes/tiny/s4.yaml seed=1 --output runs/tiny_s4_s1
	.venv/bin/medreasoner run recipes/tiny/s4.yaml seed=2 --output runs/tiny_s4_s2
	.venv/bin/medreasoner report runs/tiny_s4 runs/tiny_s4_s1 runs/tiny_s4_s2 --findings configs/findings/s4.yaml \
		--output runs/tiny_s4/report
	$(foreach check,$(S4_CHECKS),$(call s4_check_run,$(check)))

# The validation checks behind the reproduce run's SFT batch sampler, GRPO budget, learning rate and temperature,
# RPO settings, iteration, pairs' sampling and evidence check, RL pool and RL cap, CPT replay in SFT and the CPT margin check
# (docs/results.md, "How the settings were chosen"), from each reproduce seed's models, on the validation items
# (the pairs' sampling, CPT replay and the CPT margin on further held-out cases): run after `reproduce`.
define sft_sampler_validation
	.venv/bin/medreasoner run recipes/tiny/sft_sampler_validation.yaml seed=$(1) \
		sft_random.model.path=runs/reproduce_s$(1)/cpt sft_grouped.model.path=runs/reproduce_s$(1)/cpt \
		--output runs/validation/sft_sampler_s$(1)
endef
define grpo_budget_validation
	.venv/bin/medreasoner run recipes/tiny/grpo_budget_validation.yaml seed=$(1) \
		rollouts_400.model=runs/reproduce_s$(1)/sft grpo_demo.model.path=runs/reproduce_s$(1)/sft \
		grpo_g4.model.path=runs/reproduce_s$(1)/sft grpo_g4.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		grpo_g8.model.path=runs/reproduce_s$(1)/sft grpo_g8.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		grpo_400.model.path=runs/reproduce_s$(1)/sft rollouts_4.model=runs/reproduce_s$(1)/sft \
		grpo_rollouts4.model.path=runs/reproduce_s$(1)/sft \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_grpo.model=runs/reproduce_s$(1)/grpo_sftpool \
		--output runs/validation/grpo_budget_s$(1)
endef
define rpo_variants_validation
	.venv/bin/medreasoner run recipes/tiny/rpo_variants_validation.yaml seed=$(1) \
		explanations.model=runs/reproduce_s$(1)/sft rpo_1300.model.path=runs/reproduce_s$(1)/sft \
		rpo_lr3e-5.model.path=runs/reproduce_s$(1)/sft rpo_lr3e-5.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_steps320.model.path=runs/reproduce_s$(1)/sft rpo_steps320.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_lr1e-4.model.path=runs/reproduce_s$(1)/sft rpo_lr1e-4.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_alpha2.model.path=runs/reproduce_s$(1)/sft rpo_alpha2.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_lr1e-4_steps320.model.path=runs/reproduce_s$(1)/sft \
		rpo_lr1e-4_steps320.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_lr5e-5.model.path=runs/reproduce_s$(1)/sft rpo_lr5e-5.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_lr1e-4_alpha2.model.path=runs/reproduce_s$(1)/sft \
		rpo_lr1e-4_alpha2.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		rpo_lr1e-4_beta05.model.path=runs/reproduce_s$(1)/sft \
		rpo_lr1e-4_beta05.data.train=runs/reproduce_s$(1)/preferences/data.jsonl \
		eval_sft.model=runs/reproduce_s$(1)/sft --output runs/validation/rpo_variants_s$(1)
endef
define grpo_lr_validation
	.venv/bin/medreasoner run recipes/tiny/grpo_lr_validation.yaml seed=$(1) \
		grpo_lr1e-4.model.path=runs/reproduce_s$(1)/sft grpo_lr1e-4.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		grpo_lr3e-4.model.path=runs/reproduce_s$(1)/sft grpo_lr3e-4.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		grpo_lr1e-3.model.path=runs/reproduce_s$(1)/sft grpo_lr1e-3.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		eval_sft.model=runs/reproduce_s$(1)/sft --output runs/validation/grpo_lr_s$(1)
endef
define grpo_temperature_validation
	.venv/bin/medreasoner run recipes/tiny/grpo_temperature_validation.yaml seed=$(1) \
		grpo_t07.model.path=runs/reproduce_s$(1)/sft grpo_t07.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		grpo_t05.model.path=runs/reproduce_s$(1)/sft grpo_t05.data.train=runs/reproduce_s$(1)/select_rl_sftpool/data.jsonl \
		eval_sft.model=runs/reproduce_s$(1)/sft --output runs/validation/grpo_temperature_s$(1)
endef
define rl_pool_validation
	.venv/bin/medreasoner run recipes/tiny/rl_pool_validation.yaml seed=$(1) \
		grpo_100.model.path=runs/reproduce_s$(1)/sft grpo_100.data.train=runs/reproduce_s$(1)/select_rl/data.jsonl \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_grpo20.model=runs/reproduce_s$(1)/grpo \
		eval_grpo_sftpool.model=runs/reproduce_s$(1)/grpo_sftpool eval_grpo_random.model=runs/reproduce_s$(1)/grpo_random \
		--output runs/validation/rl_pool_s$(1)
endef
define rl_hard_validation
	.venv/bin/medreasoner run recipes/tiny/rl_hard_validation.yaml seed=$(1) \
		select_hard.input=runs/reproduce_s$(1)/rollouts/data.jsonl grpo_hard.model.path=runs/reproduce_s$(1)/sft \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_grpo20.model=runs/reproduce_s$(1)/grpo \
		--output runs/validation/rl_hard_s$(1)
endef
define rpo_iter_validation
	.venv/bin/medreasoner run recipes/tiny/rpo_iter_validation.yaml seed=$(1) \
		explanations_rpo2.model=runs/reproduce_s$(1)/rpo rpo2.model.path=runs/reproduce_s$(1)/rpo \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_rpo.model=runs/reproduce_s$(1)/rpo \
		--output runs/validation/rpo_iter_s$(1)
endef
define rpo_temperature_validation
	.venv/bin/medreasoner run recipes/tiny/rpo_temperature_validation.yaml seed=$(1) \
		explanations_t07.model=runs/reproduce_s$(1)/sft rpo_t07.model.path=runs/reproduce_s$(1)/sft \
		explanations_t05.model=runs/reproduce_s$(1)/sft rpo_t05.model.path=runs/reproduce_s$(1)/sft \
		explanations_n8.model=runs/reproduce_s$(1)/sft rpo_n8.model.path=runs/reproduce_s$(1)/sft \
		rpo_n8_cap4.model.path=runs/reproduce_s$(1)/sft \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_rpo.model=runs/reproduce_s$(1)/rpo \
		--output runs/validation/rpo_temperature_s$(1)
endef
define rpo_grounded_validation
	.venv/bin/medreasoner run recipes/tiny/rpo_grounded_validation.yaml seed=$(1) \
		preferences_grounded.input=runs/reproduce_s$(1)/explanations/data.jsonl \
		preferences_grounded_chosen.input=runs/reproduce_s$(1)/explanations/data.jsonl \
		rpo_grounded.model.path=runs/reproduce_s$(1)/sft rpo_grounded_chosen.model.path=runs/reproduce_s$(1)/sft \
		rpo_grounded_beta1.model.path=runs/reproduce_s$(1)/sft rpo_grounded_lr5e-5.model.path=runs/reproduce_s$(1)/sft \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_rpo.model=runs/reproduce_s$(1)/rpo \
		--output runs/validation/rpo_grounded_s$(1)
endef
define cpt_replay_validation
	.venv/bin/medreasoner run recipes/tiny/cpt_replay_validation.yaml seed=$(1) \
		sft_replay.model.path=runs/reproduce_s$(1)/cpt eval_sft.model=runs/reproduce_s$(1)/sft \
		eval_nocpt_sft.model=runs/reproduce_s$(1)/nocpt_sft probe_cpt.model.path=runs/reproduce_s$(1)/cpt \
		probe_sft.model.path=runs/reproduce_s$(1)/sft probe_nocpt_sft.model.path=runs/reproduce_s$(1)/nocpt_sft \
		--output runs/validation/cpt_replay_s$(1)
endef
define cpt_margin_validation
	.venv/bin/medreasoner run recipes/tiny/cpt_margin_validation.yaml seed=$(1) \
		probe_base.model.path=runs/reproduce_s$(1)/base probe_cpt.model.path=runs/reproduce_s$(1)/cpt \
		--output runs/validation/cpt_margin_s$(1)
endef
define cpt_japanese_validation
	.venv/bin/medreasoner run recipes/tiny/cpt_japanese_validation.yaml seed=$(1) \
		eval_sft.model=runs/reproduce_s$(1)/sft eval_nocpt_sft.model=runs/reproduce_s$(1)/nocpt_sft \
		--output runs/validation/cpt_japanese_s$(1)
endef
validation: $(STAMP)
	$(call sft_sampler_validation,0)
	$(call sft_sampler_validation,1)
	$(call sft_sampler_validation,2)
	$(call grpo_budget_validation,0)
	$(call grpo_budget_validation,1)
	$(call grpo_budget_validation,2)
	$(call rpo_variants_validation,0)
	$(call rpo_variants_validation,1)
	$(call rpo_variants_validation,2)
	$(call grpo_lr_validation,0)
	$(call grpo_lr_validation,1)
	$(call grpo_lr_validation,2)
	$(call grpo_temperature_validation,0)
	$(call grpo_temperature_validation,1)
	$(call grpo_temperature_validation,2)
	$(call rl_pool_validation,0)
	$(call rl_pool_validation,1)
	$(call rl_pool_validation,2)
	$(call rl_hard_validation,0)
	$(call rl_hard_validation,1)
	$(call rl_hard_validation,2)
	$(call rpo_iter_validation,0)
	$(call rpo_iter_validation,1)
	$(call rpo_iter_validation,2)
	$(call rpo_temperature_validation,0)
	$(call rpo_temperature_validation,1)
	$(call rpo_temperature_validation,2)
	$(call cpt_replay_validation,0)
	$(call cpt_replay_validation,1)
	$(call cpt_replay_validation,2)
	$(call cpt_margin_validation,0)
	$(call cpt_margin_validation,1)
	$(call cpt_margin_validation,2)
	$(call rpo_grounded_validation,0)
	$(call rpo_grounded_validation,1)
	$(call rpo_grounded_validation,2)
	$(call cpt_japanese_validation,0)
	$(call cpt_japanese_validation,1)
	$(call cpt_japanese_validation,2)

# Each validation recipe's report over its three seeds (runs/validation/<check>_s0..2, with
# configs/findings/<check>_validation.yaml), quoted in docs/results.md#<check>.
VALIDATION_REPORTS := grpo_budget rpo_variants sft_sampler grpo_lr grpo_temperature rl_pool rl_hard rpo_iter \
	rpo_temperature cpt_replay cpt_margin rpo_grounded cpt_japanese
define validation_report
	.venv/bin/medreasoner report $(foreach seed,0 1 2,runs/validation/$(1)_s$(seed)) \
		--findings configs/findings/$(1)_validation.yaml --output runs/validation/$(1)_report \
		--embed docs/results.md#$(1)

endef

# Maintainers: regenerate the figures of the README, docs/recipes.md, docs/results.md and docs/sim.md from the last demo,
# reproduce, heldout, s4 and validation runs.
figures: $(STAMP)
	.venv/bin/medreasoner report runs/tiny_pipeline --output runs/tiny_pipeline/report \
		--embed README.md#demo --embed docs/recipes.md#demo
	.venv/bin/medreasoner report runs/reproduce_s0 runs/reproduce_s1 runs/reproduce_s2 \
		--findings configs/findings/tiny.yaml --output runs/reproduce_report \
		--embed README.md#reproduce --embed docs/results.md#reproduce
	mkdir -p docs/figures && cp runs/reproduce_report/findings.png docs/figures/reproduce_findings.png
	.venv/bin/medreasoner report runs/heldout_s0 runs/heldout_s1 runs/heldout_s2 \
		--findings configs/findings/heldout.yaml --output runs/heldout_report --embed docs/results.md#heldout
	$(foreach check,$(VALIDATION_REPORTS),$(call validation_report,$(check)))
	.venv/bin/medreasoner report runs/tiny_s4 runs/tiny_s4_s1 runs/tiny_s4_s2 --findings configs/findings/s4.yaml \
		--output runs/tiny_s4/report --embed docs/sim.md#s4
	$(foreach check,$(S4_CHECKS),$(call s4_check_report,$(check),--embed docs/sim.md#$(check)))

test: $(STAMP)
	$(PY) -m pytest -q

.PHONY: install demo reproduce reproduce-more heldout rpo_temperature_final s4 validation figures test
