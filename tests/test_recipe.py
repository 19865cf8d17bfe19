"""Recipe loading: YAML line numbers, field paths, references and key=value overrides.

Run: .venv/bin/python -m pytest tests/test_recipe.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medreasoner.errors import InputError
from medreasoner.recipe import load_recipe, parse_override

# Line numbers in the assertions below refer to this text (line 1 = "name: demo").
RECIPE = """\
name: demo
seed: 3
stages:
  - name: base
    kind: tiny_model
    config:
      tokenizer:
        corpus: [corpus.jsonl]
        max_rows_per_file: 100
        vocab_size: 1e3
      model:
        size: tiny-0.5m
        max_position_embeddings: 64
  - name: second
    kind: tiny_model
    config:
      tokenizer:
        corpus: ["${base}/corpus.jsonl"]
        max_rows_per_file: 100
        vocab_size: 300
      model: {size: tiny-0.5m, max_position_embeddings: 64}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, overrides=(), ) -> InputError:
    with pytest.raises(InputError) as caught:
        load_recipe(write(tmp_path, text), overrides)
    return caught.value


def test_valid_recipe_resolves_references_and_yaml12_floats(tmp_path):
    recipe = load_recipe(write(tmp_path, RECIPE), run_dir=tmp_path / "run")
    assert [s.name for s in recipe.stages] == ["base", "second"]
    assert recipe.seed == 3 and recipe.report_to == ("tensorboard",)
    # `1e3` is a float in YAML 1.2 (PyYAML alone reads it as a string); the int field accepts 1000.0.
    assert recipe.stages[0].config.tokenizer.vocab_size == 1000
    assert recipe.stages[1].config.tokenizer.corpus == [str(tmp_path / "run" / "base" / "corpus.jsonl")]
    assert recipe.stages[1].references == ("base",)
    assert recipe.stages[0].references == ()


def test_default_run_dir_is_runs_slash_name(tmp_path):
    recipe = load_recipe(write(tmp_path, RECIPE))
    assert recipe.run_dir == Path("runs/demo")
    assert recipe.stages[1].config.tokenizer.corpus == ["runs/demo/base/corpus.jsonl"]


def test_unknown_key_names_line_field_and_suggestion(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("        vocab_size: 1e3", "        vocab_sise: 1e3"))
    assert error.path == str(tmp_path / "recipe.yaml")
    assert error.line == 10
    assert error.field == "stages[0].config.tokenizer.vocab_sise"
    assert "unknown key 'vocab_sise'" in error.message and "did you mean 'vocab_size'" in error.message


def test_missing_key_names_the_key_and_its_section_line(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("        max_rows_per_file: 100\n        vocab_size: 1e3\n",
                                              "        vocab_size: 1e3\n"))
    assert error.field == "stages[0].config.tokenizer.max_rows_per_file"
    assert "missing required key 'max_rows_per_file'" in error.message
    assert error.line == 7  # the `tokenizer:` mapping that lacks it


def test_bad_type_names_line_and_value(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("max_position_embeddings: 64\n  - name", "max_position_embeddings: lots\n  - name"))
    assert (error.line, error.field) == (13, "stages[0].config.model.max_position_embeddings")
    assert "'lots'" in error.message


def test_stage_field_validator_error_points_at_the_field(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("size: tiny-0.5m\n        max", "size: huge\n        max"))
    assert error.line == 12 and error.field == "stages[0].config.model.size"
    assert "tiny-0.5m" in error.message and "'huge'" in error.message  # lists the allowed sizes


def test_top_level_errors(tmp_path):
    assert error_of(tmp_path, RECIPE.replace("seed: 3\n", "")).field == "seed"
    error = error_of(tmp_path, RECIPE.replace("seed: 3\n", "seed: 3\nseeds: 4\n"))
    assert (error.line, error.field) == (3, "seeds")
    error = error_of(tmp_path, RECIPE.replace("kind: tiny_model\n    config:\n      tokenizer:\n        corpus: [c",
                                              "kind: tiny_modle\n    config:\n      tokenizer:\n        corpus: [c"))
    assert (error.line, error.field) == (5, "stages[0].kind") and "unknown stage kind 'tiny_modle'" in error.message


def test_duplicate_and_reserved_stage_names(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("name: second", "name: base"))
    assert (error.line, error.field) == (14, "stages[1].name") and "used twice" in error.message
    assert "reserved" in error_of(tmp_path, RECIPE.replace("name: second", "name: seed")).message


def test_duplicate_yaml_key_is_an_error(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("seed: 3\n", "seed: 3\nseed: 4\n"))
    assert error.line == 3 and "appears twice" in error.message


def test_yaml_syntax_error_has_a_line(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("model: {size: tiny-0.5m,", "model: {size: [tiny-0.5m,"))
    assert error.line == 21 and "not valid YAML" in error.message


@pytest.mark.parametrize("reference, why", [
    ("${second}", "runs at or after this stage"),   # itself
    ("${nope}", "no such stage (earlier stages: base)"),
])
def test_bad_references(tmp_path, reference, why):
    error = error_of(tmp_path, RECIPE.replace("${base}", reference))
    assert (error.line, error.field) == (18, "stages[1].config.tokenizer.corpus[0]")
    assert why in error.message


def test_later_stage_reference_is_refused(tmp_path):
    error = error_of(tmp_path, RECIPE.replace("corpus: [corpus.jsonl]", "corpus: ['${second}/x.jsonl']"))
    assert error.line == 8 and "runs at or after this stage" in error.message


@pytest.mark.parametrize("text, parts, value", [
    ("sft.optim.learning_rate=1e-4", ["sft", "optim", "learning_rate"], 1e-4),
    ("seed=7", ["seed"], 7),
    ("logging.report_to=[tensorboard, wandb]", ["logging", "report_to"], ["tensorboard", "wandb"]),
    ("grpo.grpo.use_vllm=true", ["grpo", "grpo", "use_vllm"], True),
    ("sft.data.validation=null", ["sft", "data", "validation"], None),
    ("world.path=a=b", ["world", "path"], "a=b"),  # only the first '=' splits
])
def test_parse_override(text, parts, value):
    assert parse_override(Path("r.yaml"), text) == (parts, value)


@pytest.mark.parametrize("text", ["seed", "=3", "sft..lr=1", "a.b=[1,"])
def test_malformed_overrides(text):
    with pytest.raises(InputError, match="override"):
        parse_override(Path("r.yaml"), text)


def test_overrides_apply_before_validation(tmp_path):
    path = write(tmp_path, RECIPE)
    recipe = load_recipe(path, ["second.tokenizer.vocab_size=1e4", "seed=11",
                                "stages.base.config.model.max_position_embeddings=128",
                                "stages.1.config.model.size=tiny-3m", "logging.report_to=[]"])
    assert recipe.seed == 11 and recipe.report_to == ()
    assert recipe.stages[1].config.tokenizer.vocab_size == 10000
    assert recipe.stages[0].config.model.max_position_embeddings == 128
    assert recipe.stages[1].config.model.size == "tiny-3m"


def test_an_override_changes_only_the_stage_it_names_when_stages_share_an_alias(tmp_path):
    # `tokenizer: *tok` makes both stages hold one mapping; `model: {<<: *m}` merges a shared nested one.
    text = """\
name: demo
seed: 3
stages:
  - name: base
    kind: tiny_model
    config:
      tokenizer: &tok {corpus: [corpus.jsonl], max_rows_per_file: 100, vocab_size: 300}
      model: &m {size: tiny-0.5m, max_position_embeddings: 64}
  - name: second
    kind: tiny_model
    config:
      tokenizer: *tok
      model: {<<: *m}
"""
    path = write(tmp_path, text)
    recipe = load_recipe(path, ["second.tokenizer.vocab_size=500", "base.model.max_position_embeddings=128"])
    assert [s.config.tokenizer.vocab_size for s in recipe.stages] == [300, 500]
    assert [s.config.model.max_position_embeddings for s in recipe.stages] == [128, 64]


def test_bad_override_values_name_the_override(tmp_path):
    error = error_of(tmp_path, RECIPE, ["base.tokenizer.vocab_size=many"])
    assert error.field == "stages[0].config.tokenizer.vocab_size" and error.line is None
    assert "base.tokenizer.vocab_size=many" in error.message
    error = error_of(tmp_path, RECIPE, ["base.optim.learning_rate=1e-4"])
    assert error.field == "stages[0].config.optim" and "unknown key 'optim'" in error.message
    assert "no stage named 'sft'" in error_of(tmp_path, RECIPE, ["sft.optim.learning_rate=1"]).message


def test_nested_training_config_error_paths(tmp_path):
    """A real training stage (sft): the path reaches into optim and names the YAML line."""
    text = RECIPE + """\
  - name: sft
    kind: sft
    config:
      model: {path: "${second}", dtype: float32, chat_template: model}
      data: {train: train.jsonl, max_length: 64, packing: false, assistant_only_loss: true}
      optim:
        learning_rate: fast
"""
    error = error_of(tmp_path, text)
    assert (error.line, error.field) == (28, "stages[2].config.optim.learning_rate")


def test_yaml_merge_keys_share_sections_and_keep_line_numbers(tmp_path):
    """`<<: *anchor` reuses a section; keys given next to it win; errors point at the real line."""
    text = RECIPE.replace("      model:\n        size: tiny-0.5m\n        max_position_embeddings: 64\n",
                          "      model: &model\n        size: tiny-0.5m\n        max_position_embeddings: 64\n", 1)
    text = text.replace("      model: {size: tiny-0.5m, max_position_embeddings: 64}",
                        "      model:\n        <<: *model\n        max_position_embeddings: 32")
    recipe = load_recipe(write(tmp_path, text))
    assert recipe.stages[1].config.model.max_position_embeddings == 32
    assert recipe.stages[1].config.model.size == "tiny-0.5m"
    error = error_of(tmp_path, text.replace("size: tiny-0.5m\n        max_position_embeddings: 64",
                                            "size: tiny-0.5m\n        max_position_embedding: 64"))
    # The typo sits in the anchored section (line 13); stage 0 is reported first.
    assert (error.line, error.field) == (13, "stages[0].config.model.max_position_embedding")
