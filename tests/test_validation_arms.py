"""The validation recipes weigh the settings reproduce.yaml ships, not copies that drifted from them.

A validation recipe repeats a shipped stage's settings in its own arms (it trains from a reproduce seed's
models, so it cannot reuse the stage). If the shipped recipe changes and the arm does not, the validation
table in docs/results.md describes a setting nobody runs.

Run: .venv/bin/python -m pytest tests/test_validation_arms.py -q
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "tiny"


def stage_config(recipe: str, stage: str) -> dict:
    """The validated config of one stage of a shipped tiny recipe, as plain data."""
    stages = {s.name: s for s in load_recipe(RECIPES / recipe).stages}
    return stages[stage].config.model_dump()


def without(optim: dict, *keys: str) -> dict:
    """An optim section without the checkpoint and logging cadence (which change no model) and ``keys``."""
    return {k: v for k, v in optim.items() if k not in ("logging_steps", "save_steps", *keys)}


def test_sft_sampler_arms_are_the_shipped_sft_with_one_sampler_each():
    shipped = stage_config("reproduce.yaml", "sft")
    for arm, strategy in (("sft_random", "random"), ("sft_grouped", "group_by_length")):
        config = stage_config("sft_sampler_validation.yaml", arm)
        assert config["optim"].pop("train_sampling_strategy") == strategy
        assert config["optim"] == shipped["optim"], arm
        assert {k: v for k, v in config["data"].items() if k != "train"} == \
            {k: v for k, v in shipped["data"].items() if k != "train"}, arm
    # the shipped SFT keeps the transformers default sampler, which the random arm names
    assert "train_sampling_strategy" not in shipped["optim"]


def test_grpo_budget_arms_are_the_shipped_grpo_with_one_change_each():
    shipped = stage_config("reproduce.yaml", "grpo")
    g4 = stage_config("grpo_budget_validation.yaml", "grpo_g4")  # twice the shipped steps
    assert g4["grpo"] == shipped["grpo"] and g4["rewards"] == shipped["rewards"]
    assert (g4["optim"]["max_steps"], shipped["optim"]["max_steps"]) == (40, 20)
    assert without(g4["optim"], "max_steps") == without(shipped["optim"], "max_steps")
    g8 = stage_config("grpo_budget_validation.yaml", "grpo_g8")  # twice the completions per prompt
    assert (g8["grpo"]["num_generations"], shipped["grpo"]["num_generations"]) == (8, 4)
    assert {**g8["grpo"], "num_generations": 4} == shipped["grpo"] and g8["rewards"] == shipped["rewards"]
    assert (g8["optim"]["per_device_train_batch_size"], shipped["optim"]["per_device_train_batch_size"]) == (128, 64)
    assert without(g8["optim"], "per_device_train_batch_size") == without(shipped["optim"], "per_device_train_batch_size")
    # the ablation on random items trains with the same GRPO settings as the shipped stage
    random_arm = stage_config("reproduce.yaml", "grpo_random")
    assert (random_arm["grpo"], random_arm["optim"]) == (shipped["grpo"], shipped["optim"])


def test_grpo_lr_arms_are_the_shipped_grpo_with_their_learning_rate_and_100_steps():
    shipped = stage_config("reproduce.yaml", "grpo")
    for arm, learning_rate in (("grpo_lr1e-4", 1e-4), ("grpo_lr3e-4", 3e-4), ("grpo_lr1e-3", 1e-3)):
        config = stage_config("grpo_lr_validation.yaml", arm)
        assert config["grpo"] == shipped["grpo"] and config["rewards"] == shipped["rewards"], arm
        assert (config["optim"]["learning_rate"], config["optim"]["max_steps"]) == (learning_rate, 100), arm
        assert without(config["optim"], "learning_rate", "max_steps") == \
            without(shipped["optim"], "learning_rate", "max_steps"), arm
        # the step-50 checkpoint stands for a 50-step run only under a constant learning rate
        assert config["optim"]["lr_scheduler_type"] == "constant" and config["optim"]["save_steps"] == 50


def test_rl_pool_arm_is_the_shipped_grpo_for_100_steps_on_the_rl_pool_candidates():
    shipped, reproduce = stage_config("reproduce.yaml", "grpo"), load_recipe(RECIPES / "reproduce.yaml")
    config = stage_config("rl_pool_validation.yaml", "grpo_100")
    assert config["grpo"] == shipped["grpo"] and config["rewards"] == shipped["rewards"]
    assert config["optim"]["max_steps"] == 100 and without(config["optim"], "max_steps") == \
        without(shipped["optim"], "max_steps")
    assert config["optim"]["lr_scheduler_type"] == "constant" and config["optim"]["save_steps"] == 50
    # its candidates are the shipped grpo's: select_rl, which reads rollouts of the RL pool
    assert str(config["data"]["train"]).endswith("/select_rl/data.jsonl")
    stages = {s.name: s.config.model_dump() for s in reproduce.stages}
    assert str(shipped["data"]["train"]).endswith("/select_rl/data.jsonl")
    assert str(stages["select_rl"]["input"]).endswith("/rollouts/data.jsonl")
    assert str(stages["rollouts"]["input"]).endswith("/rl_pool/data.jsonl")


def test_rl_hard_arm_is_the_shipped_select_rl_and_grpo_with_the_cap_at_grpos_prompt_budget():
    shipped_select, shipped_grpo = stage_config("reproduce.yaml", "select_rl"), stage_config("reproduce.yaml", "grpo")
    select, grpo = stage_config("rl_hard_validation.yaml", "select_hard"), stage_config("rl_hard_validation.yaml", "grpo_hard")
    assert select["caps"] == {"clinical": 320}
    budget = shipped_grpo["optim"]["max_steps"] * shipped_grpo["optim"]["per_device_train_batch_size"] \
        // shipped_grpo["grpo"]["num_generations"]
    assert budget == 320  # GRPO's 20 steps of 16 prompts see each kept candidate once
    assert {k: v for k, v in select.items() if k not in ("input", "caps")} == \
        {k: v for k, v in shipped_select.items() if k not in ("input", "caps")}
    assert str(select["input"]).endswith("/rollouts/data.jsonl")
    assert {k: v for k, v in grpo.items() if k != "model" and k != "data"} == \
        {k: v for k, v in shipped_grpo.items() if k != "model" and k != "data"}
    assert {k: v for k, v in grpo["data"].items() if k != "train"} == \
        {k: v for k, v in shipped_grpo["data"].items() if k != "train"}


def test_grpo_temperature_arms_are_the_shipped_grpo_with_their_temperature_and_40_steps():
    shipped = stage_config("reproduce.yaml", "grpo")
    for arm, temperature in (("grpo_t07", 0.7), ("grpo_t05", 0.5)):
        config = stage_config("grpo_temperature_validation.yaml", arm)
        assert config["grpo"] == {**shipped["grpo"], "temperature": temperature}, arm
        assert config["rewards"] == shipped["rewards"], arm
        assert (config["optim"]["max_steps"], shipped["optim"]["max_steps"]) == (40, 20), arm
        assert without(config["optim"], "max_steps") == without(shipped["optim"], "max_steps"), arm
        # the step-20 checkpoint stands for a 20-step run (the shipped budget) only under a constant rate
        assert config["optim"]["lr_scheduler_type"] == "constant" and config["optim"]["save_steps"] == 20


def test_rpo_arms_of_the_second_rule_change_one_setting_of_1e_4_and_the_chosen_one_ships():
    plain = lambda config: {"preference": config["preference"], "data_max_length": config["data"]["max_length"],  # noqa: E731
                            "optim": without(config["optim"])}
    before = plain(stage_config("rpo_variants_validation.yaml", "rpo_lr1e-4"))  # shipped when the rule was written
    changes = {"rpo_lr5e-5": ("optim", "learning_rate", 5e-5), "rpo_lr1e-4_alpha2": ("preference", "rpo_alpha", 2.0),
               "rpo_lr1e-4_beta05": ("preference", "beta", 0.5)}
    for arm, (section, key, value) in changes.items():
        config = plain(stage_config("rpo_variants_validation.yaml", arm))
        assert config[section].pop(key) == value, arm
        assert config == {**before, section: {k: v for k, v in before[section].items() if k != key}}, arm
    # the rule's pick (beta 0.5) is what RPO ships, and the DPO ablation keeps RPO's settings with alpha 0
    chosen = plain(stage_config("rpo_variants_validation.yaml", "rpo_lr1e-4_beta05"))
    assert plain(stage_config("reproduce.yaml", "rpo")) == chosen
    dpo = plain(stage_config("reproduce.yaml", "dpo"))
    assert {**dpo["preference"], "loss": "rpo", "rpo_alpha": 1.0} == chosen["preference"] and dpo["optim"] == chosen["optim"]


def s4_grpo_checked_against() -> dict:
    """The GRPO stage s4.yaml shipped while the S4 validation arms ran (the episode reward's exam terms on, no
    KL), which each arm changes in one setting: s4.yaml's stage with those two settings put back."""
    shipped = stage_config("s4.yaml", "grpo")
    reward = {**shipped["rewards"][0], "params": {"correct_weight": 1.0, "evidence_weight": 0.5, "cost_weight": 0.5,
                                                   "cost_budget": 10.0}}
    return {**shipped, "grpo": {**shipped["grpo"], "beta": 0.0}, "rewards": [reward]}


def assert_s4_grpo_on(arm: dict, train: str) -> None:
    """``arm`` is s4.yaml's GRPO stage from seed 0's SFT model, trained on ``train``, every other setting equal."""
    shipped = stage_config("s4.yaml", "grpo")
    assert arm["model"] == {**shipped["model"], "path": "runs/tiny_s4/sft"}
    assert arm["data"] == {**shipped["data"], "train": train}
    assert without(arm["optim"]) == without(shipped["optim"])
    assert {k: v for k, v in arm.items() if k not in ("model", "data", "optim")} == \
        {k: v for k, v in shipped.items() if k not in ("model", "data", "optim")}


def test_s4_ships_the_validation_arm_that_lost_least():
    """s4.yaml's GRPO stage is s4_correct_kl_validation.yaml's arm (correctness alone, KL 0.2), from s4.yaml's own
    SFT model and world instead of seed 0's run directory."""
    shipped = stage_config("s4.yaml", "grpo")
    assert_s4_grpo_on(stage_config("s4_correct_kl_validation.yaml", "grpo_correct_kl02"),
                      "runs/tiny_s4/world/env/train.jsonl")
    assert shipped["grpo"]["beta"] == 0.2 and shipped["rewards"][0]["params"]["evidence_weight"] == 0.0


def test_s4_selected_arm_is_the_shipped_s4_grpo_on_the_selected_cases():
    """s4_select_validation.yaml: GRPO is s4.yaml's, from seed 0's SFT model, on the select step's rows; the 400 cases
    it keeps are what the stage consumes (steps x prompts per step); the rollouts are the GRPO group's size and
    temperature on training cases, played like s4.yaml's episodes; the control is s4.yaml's own GRPO model."""
    shipped = stage_config("s4.yaml", "grpo")
    assert_s4_grpo_on(stage_config("s4_select_validation.yaml", "grpo_selected"),
                      "runs/s4_select_validation/select/data.jsonl")
    select = stage_config("s4_select_validation.yaml", "select")
    prompts_per_step = shipped["optim"]["per_device_train_batch_size"] // shipped["grpo"]["num_generations"]
    assert select["max_cases"] == shipped["optim"]["max_steps"] * prompts_per_step
    rollouts, episodes = stage_config("s4_select_validation.yaml", "rollouts"), stage_config("s4.yaml", "episodes_sft")
    assert rollouts["sampling"] == {"num_samples": shipped["grpo"]["num_generations"],
                                    "temperature": shipped["grpo"]["temperature"],
                                    "top_p": 1.0}  # GRPO's rollouts sample the full distribution
    assert rollouts["cases"] == select["cases"] == "runs/tiny_s4/world/env/train.jsonl"
    assert {k: rollouts[k] for k in ("dtype", "max_turns", "max_new_tokens")} == \
        {k: episodes[k] for k in ("dtype", "max_turns", "max_new_tokens")}
    played = {name: stage_config("s4_select_validation.yaml", name)
              for name in ("episodes_sft", "episodes_grpo_random", "episodes_grpo_selected")}
    assert [config["model"] for config in played.values()] == \
        ["runs/tiny_s4/sft", "runs/tiny_s4/grpo", "runs/s4_select_validation/grpo_selected"]
    for config in played.values():  # greedy, every validation case, as s4.yaml plays them
        assert config["cases"] == "runs/tiny_s4/world/env/validation.jsonl"
        assert {k: v for k, v in config.items() if k not in ("model", "cases", "world", "batch_size")} == \
            {k: v for k, v in episodes.items() if k not in ("model", "cases", "world", "batch_size")}


def test_s4_arms_are_the_checked_s4_grpo_with_one_change_each():
    """s4_validation.yaml's arms start from s4.yaml's SFT model; each is the GRPO stage they were checked against
    with one change."""
    shipped = s4_grpo_checked_against()
    reward = shipped["rewards"][0]["params"]
    changes = {"grpo_nocost": ({"cost_weight": 0.0}, {}, {}),
               "grpo_lr3e-5": ({}, {"learning_rate": 3e-5}, {}),
               "grpo_correct_only": ({"evidence_weight": 0.0, "cost_weight": 0.0}, {}, {}),  # correctness alone
               # 12 rollouts per case, still 4 cases a step
               "grpo_g12": ({}, {"per_device_train_batch_size": 48}, {"num_generations": 12})}
    assert shipped["optim"]["per_device_train_batch_size"] // shipped["grpo"]["num_generations"] == 48 // 12
    for arm, (reward_change, optim_change, grpo_change) in changes.items():
        config = stage_config("s4_validation.yaml", arm)
        assert (config["grpo"], config["environment"]) == ({**shipped["grpo"], **grpo_change}, shipped["environment"]), arm
        assert config["rewards"] == [{**shipped["rewards"][0], "params": {**reward, **reward_change}}], arm
        assert without(config["optim"]) == {**without(shipped["optim"]), **optim_change}, arm
        assert config["data"]["train"].endswith("/world/env/train.jsonl") and shipped["data"]["train"].endswith(
            "/env/train.jsonl")
        assert {k: v for k, v in config["data"].items() if k != "train"} == \
            {k: v for k, v in shipped["data"].items() if k != "train"}, arm
        assert config["model"]["path"] == "runs/tiny_s4/sft", arm


def test_s4_temperature_arms_are_the_checked_s4_grpo_with_their_temperature():
    shipped = s4_grpo_checked_against()
    for arm, temperature in (("grpo_t07", 0.7), ("grpo_t05", 0.5)):
        config = stage_config("s4_temperature_validation.yaml", arm)
        assert config["grpo"] == {**shipped["grpo"], "temperature": temperature}, arm
        assert (config["environment"], config["rewards"]) == (shipped["environment"], shipped["rewards"]), arm
        assert without(config["optim"]) == without(shipped["optim"]), arm
        assert {k: v for k, v in config["data"].items() if k != "train"} == \
            {k: v for k, v in shipped["data"].items() if k != "train"}, arm
        assert config["model"]["path"] == "runs/tiny_s4/sft", arm


def test_s4_kl_arms_are_the_checked_s4_grpo_with_their_kl_coefficient():
    shipped = s4_grpo_checked_against()
    for arm, beta in (("grpo_kl004", 0.04), ("grpo_kl02", 0.2)):
        config = stage_config("s4_kl_validation.yaml", arm)
        assert config["grpo"] == {**shipped["grpo"], "beta": beta}, arm
        assert (config["environment"], config["rewards"]) == (shipped["environment"], shipped["rewards"]), arm
        assert without(config["optim"]) == without(shipped["optim"]), arm
        assert config["model"]["path"] == "runs/tiny_s4/sft", arm


def test_s4_sft_arms_are_the_shipped_s4_sft_with_one_change_each():
    """s4_sft_validation.yaml's arms are s4.yaml's SFT stage on s4.yaml's world with one change each: twice the
    steps from the shipped base model, or the tiny-5m base built like s4.yaml's base; every model is played
    on the validation episodes only."""
    shipped, base = stage_config("s4.yaml", "sft"), stage_config("s4.yaml", "base")
    for arm, path, optim_change in (("sft_steps2400", "runs/tiny_s4/base", {"max_steps": 2400}),
                                    ("sft_5m", "runs/s4_sft_validation/base_5m", {})):
        config = stage_config("s4_sft_validation.yaml", arm)
        assert config["model"] == {**shipped["model"], "path": path}, arm
        assert config["data"] == {**shipped["data"], "train": "runs/tiny_s4/world/env/sft_train.jsonl"}, arm
        assert without(config["optim"]) == {**without(shipped["optim"]), **optim_change}, arm
    base_5m = stage_config("s4_sft_validation.yaml", "base_5m")
    assert base_5m["model"] == {**base["model"], "size": "tiny-5m"}
    assert {k: v for k, v in base_5m["tokenizer"].items() if k != "corpus"} == \
        {k: v for k, v in base["tokenizer"].items() if k != "corpus"}
    assert base_5m["tokenizer"]["corpus"] == base["tokenizer"]["corpus"]  # s4.yaml's, resolved into runs/tiny_s4
    episodes = [stage_config("s4_sft_validation.yaml", s)
                for s in ("episodes_sft", "episodes_sft_5m", "episodes_sft_steps2400")]
    shipped_episodes = stage_config("s4.yaml", "episodes_sft")
    for config in episodes:
        assert config["cases"] == "runs/tiny_s4/world/env/validation.jsonl"
        assert {k: v for k, v in config.items() if k not in ("model", "cases", "world")} == \
            {k: v for k, v in shipped_episodes.items() if k not in ("model", "cases", "world")}


def test_s4_dagger_arms_continue_the_shipped_sft_alike_and_grpo_is_the_checked_grpo():
    """s4_dagger_validation.yaml: both continued SFT arms start from the shipped SFT model with one optim section,
    the DAgger arm on the dagger step's aggregate and the control on the demonstrations alone; the dagger step
    plays the shipped SFT model on s4.yaml's training cases like the episodes stage; GRPO is the stage the S4 arms
    were checked against, from the DAgger model."""
    shipped_sft, shipped_grpo = stage_config("s4.yaml", "sft"), s4_grpo_checked_against()
    dagger_sft, more = stage_config("s4_dagger_validation.yaml", "sft_dagger"), stage_config("s4_dagger_validation.yaml", "sft_more")
    assert dagger_sft["model"] == more["model"] == {**shipped_sft["model"], "path": "runs/tiny_s4/sft"}
    assert dagger_sft["optim"] == more["optim"]
    assert dagger_sft["data"] == {**shipped_sft["data"], "train": "runs/s4_dagger_validation/dagger/data.jsonl"}
    assert more["data"] == {**shipped_sft["data"], "train": "runs/tiny_s4/world/env/sft_train.jsonl"}
    dagger = stage_config("s4_dagger_validation.yaml", "dagger")
    episodes = stage_config("s4.yaml", "episodes_sft")
    assert dagger["input"] == "runs/tiny_s4/world/env/train.jsonl" and dagger["model"] == "runs/tiny_s4/sft"
    assert dagger["demonstrations"] == more["data"]["train"]
    assert {k: dagger[k] for k in ("dtype", "max_turns", "max_new_tokens")} == \
        {k: episodes[k] for k in ("dtype", "max_turns", "max_new_tokens")}
    grpo = stage_config("s4_dagger_validation.yaml", "grpo_dagger")
    assert grpo["model"] == {**shipped_grpo["model"], "path": "runs/s4_dagger_validation/sft_dagger"}
    assert grpo["data"] == {**shipped_grpo["data"], "train": "runs/tiny_s4/world/env/train.jsonl"}
    assert without(grpo["optim"]) == without(shipped_grpo["optim"])
    assert {k: v for k, v in grpo.items() if k not in ("model", "data", "optim")} == \
        {k: v for k, v in shipped_grpo.items() if k not in ("model", "data", "optim")}


def test_s4_dagger_second_iteration_repeats_the_first_from_its_models():
    """The second DAgger iteration and its control continue the first iteration's two models with the same optim;
    dagger2 is the dagger step played by sft_dagger, aggregating the first iteration's rows."""
    first, more = stage_config("s4_dagger_validation.yaml", "sft_dagger"), stage_config("s4_dagger_validation.yaml", "sft_more")
    second, more2 = stage_config("s4_dagger_validation.yaml", "sft_dagger2"), stage_config("s4_dagger_validation.yaml", "sft_more2")
    assert second["optim"] == more2["optim"] == first["optim"]
    assert second["model"] == {**first["model"], "path": "runs/s4_dagger_validation/sft_dagger"}
    assert more2["model"] == {**more["model"], "path": "runs/s4_dagger_validation/sft_more"}
    assert second["data"] == {**first["data"], "train": "runs/s4_dagger_validation/dagger2/data.jsonl"}
    assert more2["data"] == more["data"]
    dagger, dagger2 = stage_config("s4_dagger_validation.yaml", "dagger"), stage_config("s4_dagger_validation.yaml", "dagger2")
    assert dagger2 == {**dagger, "model": "runs/s4_dagger_validation/sft_dagger",
                       "demonstrations": "runs/s4_dagger_validation/dagger/data.jsonl"}
    # the diagnostic rerun of the first iteration's step is that step
    assert stage_config("s4_dagger_validation.yaml", "dagger_agreement") == dagger


def test_rpo_iter_arm_is_the_shipped_explanations_preferences_and_rpo_from_the_rpo_model():
    # Pang et al.'s iteration t+1: the same sampling, pairing and training, from and against model t
    shipped = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "reproduce.yaml").stages}
    arms = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "rpo_iter_validation.yaml").stages}
    for stage, arm, moved in (("explanations", "explanations_rpo2", ("model", "input")),
                              ("preferences", "preferences_rpo2", ("input",)),
                              ("rpo", "rpo2", ("model", "data"))):
        assert {k: v for k, v in arms[arm].items() if k not in moved} == \
            {k: v for k, v in shipped[stage].items() if k not in moved}, arm
    rpo, shipped_rpo, explanations = arms["rpo2"], shipped["rpo"], arms["explanations_rpo2"]
    assert {k: v for k, v in rpo["model"].items() if k != "path"} == \
        {k: v for k, v in shipped_rpo["model"].items() if k != "path"}
    assert rpo["data"]["max_length"] == shipped_rpo["data"]["max_length"]
    assert str(rpo["model"]["path"]).endswith("/rpo")  # initialised from (so referenced to) iteration 1
    assert str(rpo["data"]["train"]).endswith("/preferences_rpo2/data.jsonl")
    assert str(explanations["model"]).endswith("/rpo")
    assert str(explanations["input"]).endswith("/pool/data.jsonl")


def test_rpo_temperature_arms_are_the_shipped_explanations_preferences_and_rpo_with_the_temperature_moved():
    shipped = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "reproduce.yaml").stages}
    recipe = load_recipe(RECIPES / "rpo_temperature_validation.yaml")
    arms = {s.name: s.config.model_dump() for s in recipe.stages}
    for tag, temperature in (("t07", 0.7), ("t05", 0.5)):
        explanations = arms[f"explanations_{tag}"]
        assert {k: v for k, v in explanations.items() if k not in ("model", "input", "generation")} == \
            {k: v for k, v in shipped["explanations"].items() if k not in ("model", "input", "generation")}
        assert explanations["generation"] == {**shipped["explanations"]["generation"], "temperature": temperature}
        assert str(explanations["model"]).endswith("/sft") and str(explanations["input"]).endswith("/pool/data.jsonl")
        preferences = arms[f"preferences_{tag}"]
        assert {k: v for k, v in preferences.items() if k != "input"} == \
            {k: v for k, v in shipped["preferences"].items() if k != "input"}
        assert str(preferences["input"]).endswith(f"/explanations_{tag}/data.jsonl")
        rpo = arms[f"rpo_{tag}"]
        assert {k: v for k, v in rpo.items() if k not in ("model", "data", "optim")} == \
            {k: v for k, v in shipped["rpo"].items() if k not in ("model", "data", "optim")}
        assert without(rpo["optim"]) == without(shipped["rpo"]["optim"])
        assert {**rpo["model"], "path": None} == {**shipped["rpo"]["model"], "path": None}
        assert str(rpo["model"]["path"]).endswith("/sft")
        assert str(rpo["data"]["train"]).endswith(f"/preferences_{tag}/data.jsonl")
        assert rpo["data"]["max_length"] == shipped["rpo"]["data"]["max_length"]
    # the second round: the shipped sampling with 8 samples, paired with the shipped cap or a cap of 4
    assert arms["explanations_n8"] == {**shipped["explanations"], "num_samples": 8,
                                       "model": arms["explanations_n8"]["model"], "input": arms["explanations_n8"]["input"]}
    assert {k: v for k, v in arms["preferences_n8"].items() if k != "input"} == \
        {k: v for k, v in shipped["preferences"].items() if k != "input"}
    assert {k: v for k, v in arms["preferences_n8_cap4"].items() if k != "input"} == \
        {**{k: v for k, v in shipped["preferences"].items() if k != "input"}, "max_pairs_per_item": 4}
    assert {arms[name]["input"].rsplit("/", 2)[-2] for name in ("preferences_n8", "preferences_n8_cap4")} == \
        {"explanations_n8"}
    for arm in ("rpo_n8", "rpo_n8_cap4"):
        assert {**arms[arm], "data": None} == {**arms["rpo_t07"], "data": None}
        assert str(arms[arm]["data"]["train"]).endswith(f"/preferences_{arm[4:]}/data.jsonl")
    # the choice is made on a block of held-out cases the final block and `make heldout`'s set do not hold
    blocks = {recipe_name: {s.name: s.config for s in load_recipe(RECIPES / recipe_name).stages if s.kind == "heldout"}
              for recipe_name in ("reproduce_heldout.yaml", "rpo_temperature_validation.yaml", "rpo_temperature_final.yaml")}
    spans = sorted((c.skip, c.skip + c.num_cases) for stages in blocks.values() for c in stages.values())
    assert spans == [(0, 2000), (2000, 4000), (4000, 6000)]


def test_rpo_grounded_arms_are_the_shipped_preferences_and_rpo_with_the_evidence_check():
    shipped = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "reproduce.yaml").stages}
    arms = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "rpo_grounded_validation.yaml").stages}
    moved = ("input", "grounding_world", "pairs", "margins")
    for name in ("preferences_grounded", "preferences_grounded_chosen"):
        arm = arms[name]
        assert {k: v for k, v in arm.items() if k not in moved} == \
            {k: v for k, v in shipped["preferences"].items() if k not in moved}, name
        assert shipped["preferences"]["grounding_world"] is None and str(arm["grounding_world"]).endswith("/world")
        assert str(arm["input"]).endswith("/explanations/data.jsonl")  # the shipped RPO's own samples
        assert {k: v for k, v in arm["margins"].items() if k in shipped["preferences"]["pairs"]} == \
            shipped["preferences"]["margins"]
    assert arms["preferences_grounded_chosen"]["pairs"] == shipped["preferences"]["pairs"]
    assert arms["preferences_grounded"]["pairs"] == [*shipped["preferences"]["pairs"], "reference>ungrounded",
                                                     "correct>ungrounded"]
    for name in ("rpo_grounded", "rpo_grounded_chosen"):
        rpo = arms[name]
        assert {k: v for k, v in rpo.items() if k not in ("model", "data", "optim")} == \
            {k: v for k, v in shipped["rpo"].items() if k not in ("model", "data", "optim")}
        assert without(rpo["optim"]) == without(shipped["rpo"]["optim"])
        assert {**rpo["model"], "path": None} == {**shipped["rpo"]["model"], "path": None}
        assert str(rpo["model"]["path"]).endswith("/sft")
        assert str(rpo["data"]["train"]).endswith(f"/preferences_{name[4:]}/data.jsonl")
        assert rpo["data"]["max_length"] == shipped["rpo"]["data"]["max_length"]
    # the second round: rpo_grounded with one setting moved each
    grounded = arms["rpo_grounded"]
    assert arms["rpo_grounded_beta1"] == {**grounded, "preference": {**grounded["preference"], "beta": 1.0}}
    assert arms["rpo_grounded_lr5e-5"] == {**grounded, "optim": {**grounded["optim"], "learning_rate": 5e-5}}
    # chosen on the selection block the earlier RPO rounds used, never on the final one
    selection = load_recipe(RECIPES / "rpo_temperature_validation.yaml").stages[0].config.model_dump()
    assert arms["selection"] == selection


def test_cpt_replay_arm_is_the_shipped_sft_on_the_replay_mix_from_the_cpt_model():
    shipped = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "reproduce.yaml").stages}
    arms = {s.name: s.config for s in load_recipe(RECIPES / "cpt_replay_validation.yaml").stages}
    arm = arms["sft_replay"].model_dump()
    assert without(arm["optim"]) == without(shipped["sft"]["optim"])
    assert {**arm["data"], "train": None} == {**shipped["sft"]["data"], "train": None}
    assert {**arm["model"], "path": None} == {**shipped["sft"]["model"], "path": None}
    assert str(arm["model"]["path"]).endswith("/cpt") and str(arm["data"]["train"]).endswith("/replay/data.jsonl")
    # the mix: the shipped SFT's own (decontaminated) conversations and CPT corpus
    assert str(shipped["sft"]["data"]["train"]).endswith("/clean_sft/data.jsonl")
    assert str(arms["replay"].input).endswith("/clean_sft/data.jsonl")
    assert str(arms["replay"].text).endswith("/clean_cpt/data.jsonl")
    # weighed on the same selection block as the RPO pairs' sampling, never on the final one
    selection = load_recipe(RECIPES / "rpo_temperature_validation.yaml").stages[0].config
    assert arms["selection"] == selection


def test_cpt_japanese_evaluates_as_reproduce_does_on_a_block_no_other_recipe_reads():
    shipped = {s.name: s.config.model_dump() for s in load_recipe(RECIPES / "reproduce.yaml").stages}
    recipe = load_recipe(RECIPES / "cpt_japanese_validation.yaml")
    stages = {s.name: s.config.model_dump() for s in recipe.stages if s.kind == "eval"}
    assert set(stages) == {"eval_sft", "eval_nocpt_sft"}
    for name, config in stages.items():  # reproduce's greedy eval, answer-only, with the same model stage
        same = ("model", "benchmarks", "mode")
        assert {k: v for k, v in config.items() if k not in same} == {k: v for k, v in shipped[name].items() if k not in same}
        assert config["mode"] == "answer" and Path(config["model"]).name == Path(shipped[name]["model"]).name
        assert {b["name"]: Path(b["data"]).name for b in config["benchmarks"]} == {
            "items_ja": "heldout_ja_diagnosis.jsonl", "items": "heldout_diagnosis.jsonl",
            "cpt_only_ja": "heldout_ja_diagnosis_cpt_only.jsonl", "cpt_only": "heldout_diagnosis_cpt_only.jsonl"}
    # its cases: a block of the held-out draw that no other recipe's heldout stage reads
    block = next(s.config for s in recipe.stages if s.kind == "heldout")
    assert block.japanese and (block.skip, block.num_cases) == (8000, 2000)
    others = [s.config for path in RECIPES.glob("*.yaml") if path.name != "cpt_japanese_validation.yaml"
              for s in load_recipe(path).stages if s.kind == "heldout"]
    assert len(others) >= 6 and all(not o.japanese for o in others)
    assert all(o.skip + o.num_cases <= block.skip or o.skip >= block.skip + block.num_cases for o in others)
