"""Chat templates: the shipped reasoning-aware templates, the probe every conversational stage runs, and
the recipe key ``model.chat_template``. No training: tokenizers only (trained locally in well under a second).

Run: OMP_NUM_THREADS=1 .venv/bin/pytest tests/test_chat_templates.py -q
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from trl.chat_template_utils import (
    is_chat_template_prefix_preserving,
    llama3_chat_template,
    qwen2_5_chat_template,
    qwen3_chat_template,
    supports_tool_calling,
)

from medreasoner.cli import main
from medreasoner.errors import InputError
from medreasoner.model import build_tiny_model, load_tokenizer, train_tokenizer
from medreasoner.recipe import load_recipe
from medreasoner.stages import grpo, preference, reward_model, sft
from medreasoner.stages.template_probe import REASONING_SENTINEL, probe_problem, trainer_template, use_chat_template
from medreasoner.templates import RESPONSE_TEMPLATES, TEMPLATES, shipped_template
from stage_testing import cpu_optim, make_ctx, write_world

REPO = Path(__file__).resolve().parents[1]
SYSTEM, USER1, USER2 = "You are a physician.", "Case one: fever. Diagnosis?", "Case two: wheeze. Diagnosis?"
R1, A1, R2, A2 = "fever and cough suggest pneumonia", "\\boxed{pneumonia}", "wheeze suggests asthma", "\\boxed{asthma}"
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": USER1},
    {"role": "assistant", "content": A1, "reasoning_content": R1},
    {"role": "user", "content": USER2},
    {"role": "assistant", "content": A2, "reasoning_content": R2},
]
TOOL = {"type": "function", "function": {"name": "order_test", "description": "Order a test.",
                                         "parameters": {"type": "object", "properties": {"test": {"type": "string"}}}}}
TOOL_CONVERSATION = [
    {"role": "user", "content": USER1},
    {"role": "assistant", "content": "", "reasoning_content": R1,
     "tool_calls": [{"type": "function", "function": {"name": "order_test", "arguments": {"test": "chest x-ray"}}}]},
    {"role": "tool", "name": "order_test", "content": "consolidation in the right lower lobe"},
    {"role": "assistant", "content": A1, "reasoning_content": R2},
]
# Which locally built tokenizer stands in for each template's model family, and its end-of-turn token.
FAMILY = {"qwen2.5-think": "qwen", "qwen3-think": "qwen", "llama3-think": "llama3", "plain-fewshot": "base"}
END_OF_TURN = {"qwen": "<|im_end|>", "llama3": "<|eot_id|>", "base": "<|endoftext|>"}
LLAMA3_TOKENS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


@pytest.fixture(scope="module")
def families(tmp_path_factory) -> dict[str, Path]:
    """Tokenizer directories for the Qwen ChatML, Llama 3 and base-model (no chat template) families."""
    root = tmp_path_factory.mktemp("tokenizers")
    corpus = [SYSTEM, USER1, USER2, R1, A1, R2, A2, "<think> </think> <tool_call> order_test chest x-ray"]
    dirs = {}
    qwen = train_tokenizer(corpus, vocab_size=600)  # <|im_start|>/<|im_end|> special, <think> a plain added token
    llama = train_tokenizer(corpus, vocab_size=600)
    llama.add_special_tokens({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                              "additional_special_tokens": LLAMA3_TOKENS})
    llama.chat_template = llama3_chat_template
    base = train_tokenizer(corpus, vocab_size=600)
    base.eos_token, base.chat_template = "<|endoftext|>", None  # like Qwen2.5-72B base
    for name, tokenizer in (("qwen", qwen), ("llama3", llama), ("base", base)):
        dirs[name] = root / name
        tokenizer.save_pretrained(dirs[name])
    return dirs


def fresh(families, family: str, chat_template: str | None = None):
    tokenizer = load_tokenizer(families[family], padding_side="right")
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def split_by_mask(tokenizer, messages, template) -> tuple[str, str]:
    encoded = tokenizer.apply_chat_template(messages, chat_template=template, return_dict=True,
                                            return_assistant_tokens_mask=True)
    pairs = list(zip(encoded["input_ids"], encoded["assistant_masks"]))
    return (tokenizer.decode([t for t, m in pairs if m]), tokenizer.decode([t for t, m in pairs if not m]))


# --- the shipped templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_assistant_mask_is_exactly_think_block_answer_and_end_of_turn(families, name):
    tokenizer = fresh(families, FAMILY[name])
    end = END_OF_TURN[FAMILY[name]]
    masked, unmasked = split_by_mask(tokenizer, CONVERSATION, shipped_template(name))
    assert masked == f"<think>\n{R1}\n</think>\n\n{A1}{end}<think>\n{R2}\n</think>\n\n{A2}{end}"
    for text in (SYSTEM, USER1, USER2):
        assert text in unmasked and text not in masked
    assert R1 not in unmasked and A2 not in unmasked


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_every_conversation_prefix_is_a_token_prefix(families, name):
    """Rendering the turns before an assistant turn with the generation prompt gives a token prefix of the
    whole conversation (what DPO's prompt/completion split and GRPO's multi-turn rollouts rely on)."""
    tokenizer = fresh(families, FAMILY[name])
    template = shipped_template(name)
    conversations = [CONVERSATION] + ([TOOL_CONVERSATION] if name in ("qwen2.5-think", "qwen3-think") else [])
    for messages in conversations:
        tools = [TOOL] if messages is TOOL_CONVERSATION else None
        full = tokenizer.apply_chat_template(messages, chat_template=template, tools=tools, return_dict=True)["input_ids"]
        for cut in [i for i, m in enumerate(messages) if m["role"] == "assistant"]:
            prompt = tokenizer.apply_chat_template(messages[:cut], chat_template=template, tools=tools,
                                                   add_generation_prompt=True, return_dict=True)["input_ids"]
            assert full[:len(prompt)] == prompt, (name, cut)


@pytest.mark.parametrize("name", ["qwen2.5-think", "qwen3-think"])
def test_qwen_templates_render_tools_and_pass_trl_prefix_check(families, name):
    tokenizer = fresh(families, "qwen", shipped_template(name))
    assert supports_tool_calling(tokenizer) and is_chat_template_prefix_preserving(tokenizer)
    text = tokenizer.apply_chat_template(TOOL_CONVERSATION, tools=[TOOL], tokenize=False)
    assert '"name": "order_test"' in text.split("<|im_end|>")[0]  # the tool schema is in the system turn
    assert '<tool_call>\n{"name": "order_test", "arguments": {"test": "chest x-ray"}}\n</tool_call><|im_end|>' in text
    assert "<|im_start|>user\n<tool_response>\nconsolidation in the right lower lobe\n</tool_response><|im_end|>" in text


def test_trl_qwen3_template_is_not_prefix_preserving_for_contrast(families):
    # Qwen3's own template drops the think block of turns before the last query: the check can fail.
    assert not is_chat_template_prefix_preserving(fresh(families, "qwen", qwen3_chat_template))


@pytest.mark.parametrize("name", ["llama3-think", "plain-fewshot"])
def test_templates_without_tool_format_refuse_tools(families, name):
    tokenizer = fresh(families, FAMILY[name], shipped_template(name))
    assert not supports_tool_calling(tokenizer)  # refused with an error, not silently dropped
    with pytest.raises(Exception, match="no tool"):
        tokenizer.apply_chat_template(CONVERSATION, tools=[TOOL], tokenize=False)


def test_plain_fewshot_is_the_igakuqa_completion_layout_without_chat_tokens(families):
    tokenizer = fresh(families, "base")
    prompts = yaml.safe_load((REPO / "src/medreasoner/eval/prompts/igakuqa_explain.yaml").read_text(encoding="utf-8"))
    join, reply = prompts["completion_join"], prompts["completion_reply_join"]
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER1},
                {"role": "assistant", "content": A1}, {"role": "user", "content": USER2}]
    text = tokenizer.apply_chat_template(messages, chat_template=shipped_template("plain-fewshot"), tokenize=False,
                                         add_generation_prompt=True)
    eos = tokenizer.eos_token
    assert text == SYSTEM + join + USER1 + reply + A1 + eos + join + USER2 + reply
    ids = tokenizer.apply_chat_template(messages, chat_template=shipped_template("plain-fewshot"),
                                        add_generation_prompt=True, return_dict=True)["input_ids"]
    special = set(tokenizer.all_special_ids)
    assert [t for t in ids if t in special] == [tokenizer.eos_token_id]  # only the answer's end
    for token in tokenizer.all_special_tokens + ["<|im_start|>", "<|im_end|>"]:
        assert token == eos or token not in text


def test_qwen3_think_without_reasoning_renders_an_empty_think_block(families):
    tokenizer = fresh(families, "qwen")
    text = tokenizer.apply_chat_template(CONVERSATION[:2] + [{"role": "assistant", "content": A1}],
                                         chat_template=shipped_template("qwen3-think"), tokenize=False)
    assert text.endswith(f"<|im_start|>assistant\n<think>\n\n</think>\n\n{A1}<|im_end|>\n")
    prompt = tokenizer.apply_chat_template(CONVERSATION[:2], chat_template=shipped_template("qwen3-think"),
                                           tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


# --- the probe -------------------------------------------------------------------------------------------

TRAINERS = ["sft", "preference", "reward_model", "grpo"]


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("source, family, passes", [
    (qwen2_5_chat_template, "qwen", False),  # ignores reasoning_content
    (llama3_chat_template, "llama3", False),  # renders content only
    (qwen3_chat_template, "qwen", True),  # renders the last turn's think block (TRL's training copy too)
])
def test_probe_on_trl_shipped_templates(families, trainer, source, family, passes):
    tokenizer = fresh(families, family, source)
    problem = probe_problem(tokenizer, trainer=trainer, assistant_only_loss=True, tools=False)
    assert (problem is None) == passes, problem
    if not passes:
        assert "drops the assistant's reasoning_content" in problem


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("name", list(TEMPLATES))
def test_probe_passes_every_shipped_template_and_sets_it(families, tmp_path, trainer, name):
    tokenizer = fresh(families, FAMILY[name])
    use_chat_template(tokenizer, name, stage_dir=tmp_path / "stage", trainer=trainer, assistant_only_loss=True)
    assert tokenizer.chat_template == shipped_template(name)
    tokenizer.save_pretrained(tmp_path / "saved")  # what the stage's checkpoint then carries
    assert (tmp_path / "saved" / "chat_template.jinja").read_text(encoding="utf-8") == shipped_template(name)
    reloaded = load_tokenizer(tmp_path / "saved", padding_side="left")
    assert getattr(reloaded, "response_template", None) == RESPONSE_TEMPLATES.get(name)  # tool-call parser


def test_probe_catches_a_mask_that_misses_the_reasoning(families, tmp_path):
    # Reasoning rendered, but {% generation %} opens only at the answer: fine without assistant_only_loss,
    # wrong with it.
    broken = shipped_template("qwen2.5-think").replace("{%- generation %}", "").replace(
        "{{- content }}", "{%- generation %}{{- content }}", 1)
    assert broken.count("{%- generation %}") == 1
    path = tmp_path / "late_mask.jinja"
    path.write_text(broken, encoding="utf-8")
    use_chat_template(fresh(families, "qwen"), str(path), stage_dir=tmp_path / "sft", trainer="sft",
                      assistant_only_loss=False)
    with pytest.raises(InputError, match="out of the assistant mask") as error:
        use_chat_template(fresh(families, "qwen"), str(path), stage_dir=tmp_path / "sft", trainer="sft",
                          assistant_only_loss=True)
    assert REASONING_SENTINEL not in error.value.message.split("masked tokens: ")[1]


def test_model_choice_on_a_base_tokenizer_is_a_clear_error(families, tmp_path):
    with pytest.raises(InputError, match="no chat template.*plain-fewshot") as error:
        use_chat_template(fresh(families, "base"), "model", stage_dir=tmp_path / "rpo", trainer="preference")
    assert error.value.field == "model.chat_template"


def test_grpo_environment_gets_a_parser_that_reads_back_the_shipped_format(families, tmp_path):
    tokenizer = fresh(families, "qwen")
    use_chat_template(tokenizer, "qwen2.5-think", stage_dir=tmp_path / "grpo", trainer="grpo", tools=True)
    prompt = tokenizer.apply_chat_template(TOOL_CONVERSATION[:1], tools=[TOOL], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(TOOL_CONVERSATION[:2], tools=[TOOL], tokenize=False)
    parsed = tokenizer.parse_response(full[len(prompt):], prefix=prompt)
    assert parsed["reasoning_content"].strip() == R1
    assert parsed["tool_calls"][0]["function"] == {"name": "order_test", "arguments": {"test": "chest x-ray"}}


def test_s1_recipe_stops_on_trl_qwen2_5_template_before_the_model_loads(families, tmp_path):
    """The issue's case: WiNGPT S1 (assistant_only_loss) on Qwen2.5's own template trains on the answer only."""
    model_dir = tmp_path / "qwen2.5-tokenizer-only"  # no weights: getting past the probe would fail to load
    fresh(families, "qwen", qwen2_5_chat_template).save_pretrained(model_dir)
    train = tmp_path / "sft.jsonl"
    train.write_text(json.dumps({"messages": CONVERSATION}) + "\n", encoding="utf-8")
    overrides = [f"sft.model.path={model_dir}", f"sft.data.train={train}"]
    shipped = next(s for s in load_recipe(REPO / "recipes/wingpt3/s1_sft.yaml", overrides, run_dir=tmp_path / "run").stages
                   if s.kind == "sft")
    assert shipped.config.model.chat_template == "qwen2.5-think" and shipped.config.data.assistant_only_loss

    stage = next(s for s in load_recipe(REPO / "recipes/wingpt3/s1_sft.yaml", [*overrides, "sft.model.chat_template=model"],
                                        run_dir=tmp_path / "run").stages if s.kind == "sft")
    with pytest.raises(InputError) as error:
        sft.run(stage.config, make_ctx(tmp_path / "run" / "sft", []))
    message = str(error.value)
    assert "\n" not in message and "field 'model.chat_template'" in message and "stage 'sft'" in message
    assert "drops the assistant's reasoning_content" in message and "qwen2.5-think" in message
    assert repr("\\boxed{X}<|im_end|>\n") in message  # what TRL's training variant would have trained on

    tokenizer = load_tokenizer(model_dir, padding_side="right")
    use_chat_template(tokenizer, shipped.config.model.chat_template, stage_dir=tmp_path / "run" / "sft",
                      trainer="sft", assistant_only_loss=True)
    assert tokenizer.chat_template == shipped_template("qwen2.5-think")


@pytest.mark.parametrize("kind", ["preference", "reward_model", "grpo"])
def test_every_conversational_stage_probes_before_loading_the_model(families, tmp_path, kind):
    model_dir = tmp_path / "qwen2.5-tokenizer-only"
    fresh(families, "qwen", qwen2_5_chat_template).save_pretrained(model_dir)
    files = write_world(tmp_path / "world", num_rows=4)
    model = {"path": str(model_dir), "dtype": "float32", "chat_template": "model"}
    if kind == "preference":
        config = preference.Config.model_validate({
            "model": model, "data": {"train": str(files["preference"]), "max_length": 64}, "optim": cpu_optim(),
            "preference": {"loss": "dpo", "beta": 0.1, "precompute_ref_log_probs": False}})
    elif kind == "reward_model":
        config = reward_model.Config.model_validate({
            "model": model, "data": {"train": str(files["preference"]), "max_length": 64}, "optim": cpu_optim(),
            "reward": {"loss": "bradley_terry"}})
    else:
        config = grpo.Config.model_validate({
            "model": model, "data": {"train": str(files["grpo"]), "max_prompt_length": 64, "limit": None},
            "grpo": {"num_generations": 4, "beta": 0.0, "epsilon": 0.2, "temperature": 1.0, "max_completion_length": 8,
                     "steps_per_generation": 1, "loss_type": "grpo", "scale_rewards": "group", "use_vllm": False},
            "rewards": [{"name": "format_reward", "weight": 1.0, "params": {"think_opened_by_template": False}}],
            "optim": cpu_optim(per_device_train_batch_size=4)})
    module = {"preference": preference, "reward_model": reward_model, "grpo": grpo}[kind]
    with pytest.raises(InputError, match="drops the assistant's reasoning_content"):
        module.run(config, make_ctx(tmp_path / "run" / kind, []))


# --- the recipe key --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, why", [
    ("qwen9-think", "unknown chat template 'qwen9-think'"),
    ("templates/missing.jinja", "chat template file 'templates/missing.jinja' does not exist"),
])
def test_validate_rejects_unknown_template_and_missing_file(tmp_path, capsys, value, why):
    recipe = tmp_path / "s1.yaml"
    text = (REPO / "recipes/wingpt3/s1_sft.yaml").read_text(encoding="utf-8")
    recipe.write_text(re.sub(r"chat_template: qwen2\.5-think.*", f"chat_template: {value}", text), encoding="utf-8")
    line = 1 + recipe.read_text(encoding="utf-8").split("\n").index(f"        chat_template: {value}")
    assert main(["validate", str(recipe)]) == 2
    errors = [row for row in capsys.readouterr().err.splitlines() if row.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {recipe}:{line}: field 'stages[1].config.model.chat_template'") and why in errors[0]


def test_a_jinja_file_is_a_valid_choice_and_the_key_is_required(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # recipe paths are relative to the working directory
    Path("mine.jinja").write_text(shipped_template("qwen3-think"), encoding="utf-8")
    section = {"path": "m", "dtype": "float32", "chat_template": "mine.jinja"}
    data = {"train": "t.jsonl", "max_length": 8, "packing": False, "assistant_only_loss": True}
    assert sft.Config.model_validate({"model": section, "data": data, "optim": cpu_optim()}).model.chat_template == "mine.jinja"
    with pytest.raises(Exception, match="chat_template"):
        sft.Config.model_validate({"model": {"path": "m", "dtype": "float32"}, "data": data, "optim": cpu_optim()})


def test_grpo_environment_refuses_a_template_without_tool_calls():
    with pytest.raises(InputError) as error:
        load_recipe(REPO / "recipes/tiny/s4.yaml", ["grpo.model.chat_template=plain-fewshot"])
    assert error.value.field == "stages[4].config.model.chat_template"
    assert "renders no tool calls" in str(error.value)


# --- the probe renders with the template the TRL trainer really uses --------------------------------------


def order_test(test: str) -> str:
    """Order a diagnostic test.

    Args:
        test: the test's name.
    """
    return f"{test}: normal"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    return build_tiny_model(root / "model", size="tiny-0.5m", corpus=[SYSTEM, USER1, R1, A1], seed=0,
                            vocab_size=600, max_position_embeddings=256)


@pytest.mark.parametrize("choice", ["model", "qwen3-think"])  # TRL's Qwen3 (swapped by TRL) vs ours (kept)
def test_trainer_template_is_the_one_trl_trainers_use(tiny_model, tmp_path, choice):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

    common = {"use_cpu": True, "report_to": [], "save_strategy": "no", "max_steps": 1}
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    use_chat_template(tokenizer, choice, stage_dir=tmp_path / "sft", trainer="sft", assistant_only_loss=True)
    trainer = SFTTrainer(model=str(tiny_model), processing_class=tokenizer,
                         args=SFTConfig(output_dir=str(tmp_path / "sft"), assistant_only_loss=True, max_length=128,
                                        per_device_train_batch_size=1, **common),
                         train_dataset=Dataset.from_list([{"messages": CONVERSATION}]))
    expected = trainer_template(tokenizer, trainer="sft", assistant_only_loss=True, tools=False)
    assert (trainer.chat_template or tokenizer.chat_template) == expected
    assert (trainer.chat_template is None) == (choice != "model")

    tokenizer = load_tokenizer(tiny_model, padding_side="left")
    use_chat_template(tokenizer, choice, stage_dir=tmp_path / "grpo", trainer="grpo", tools=True)
    trainer = GRPOTrainer(model=str(tiny_model), reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
                          processing_class=tokenizer, tools=[order_test],
                          args=GRPOConfig(output_dir=str(tmp_path / "grpo"), per_device_train_batch_size=2,
                                          num_generations=2, max_completion_length=8, beta=0.0, **common),
                          train_dataset=Dataset.from_list([{"prompt": CONVERSATION[:2]}] * 2))
    expected = trainer_template(tokenizer, trainer="grpo", assistant_only_loss=False, tools=True)
    assert (trainer.chat_template or tokenizer.chat_template) == expected
    assert (trainer.chat_template is None) == (choice != "model")  # ours is prefix-preserving: no swap
