"""Merge stage: exact weighted average, refusals. Run: .venv/bin/python -m pytest tests/test_stage_merge.py -q"""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file

from medreasoner.errors import InputError
from medreasoner.stages import merge
from stage_testing import build_model, generate, make_ctx, write_world


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    files = write_world(root, num_rows=8)
    return root, build_model(root, files, seed=0), build_model(root, files, seed=1)


def _config(*pairs):
    return merge.Config.model_validate({"models": [{"path": str(p), "weight": w} for p, w in pairs]})


def test_merge_is_the_exact_weighted_average(models, tmp_path):
    root, a, b = models
    out = tmp_path / "merged"
    metrics = merge.run(_config((a, 0.5), (b, 0.5)), make_ctx(out, []))
    ta, tb, merged = (load_file(str(d / "model.safetensors")) for d in (a, b, out))
    assert metrics["num_tensors"] == len(ta) and metrics["num_parameters"] == sum(t.numel() for t in ta.values())
    assert sum(not torch.equal(ta[n], tb[n]) for n in ta) >= len(ta) // 2  # the seeds really differ (biases are 0)
    for name in ta:
        assert torch.equal(merged[name], 0.5 * ta[name] + 0.5 * tb[name]), name
    assert (out / "tokenizer.json").read_bytes() == (a / "tokenizer.json").read_bytes()
    generate(out)  # loads with AutoModelForCausalLM

    out = tmp_path / "weighted"
    merge.run(_config((a, 0.25), (b, 0.75)), make_ctx(out, []))
    name = "model.layers.0.mlp.up_proj.weight"
    expected = (0.25 * ta[name].float() + 0.75 * tb[name].float()).to(ta[name].dtype)
    assert torch.equal(load_file(str(out / "model.safetensors"))[name], expected)


def test_mismatched_models_are_refused_by_tensor_name(models, tmp_path):
    root, a, b = models
    bigger = build_model(tmp_path, {"x": a / "tokenizer.json"}, size="tiny-3m")
    with pytest.raises(InputError, match=r"tensor names differ .* extra \['model\.layers\.2\.") as error:
        merge.run(_config((a, 0.5), (bigger, 0.5)), make_ctx(tmp_path / "out0", []))
    assert str(bigger) in str(error.value)

    half = tmp_path / "half"
    half.mkdir()
    tensors = load_file(str(b / "model.safetensors"))
    tensors["model.norm.weight"] = tensors["model.norm.weight"][:64].clone()
    save_file(tensors, str(half / "model.safetensors"))
    with pytest.raises(InputError, match=r"tensor 'model\.norm\.weight' is \(64,\) torch\.float32, but \(128,\)"):
        merge.run(_config((a, 0.5), (half, 0.5)), make_ctx(tmp_path / "out1", []))
    assert list((tmp_path / "out1").iterdir()) == []  # the half-written merge was removed

    tensors["model.norm.weight"] = load_file(str(b / "model.safetensors"))["model.norm.weight"].to(torch.bfloat16)
    save_file(tensors, str(half / "model.safetensors"))
    with pytest.raises(InputError, match=r"tensor 'model\.norm\.weight' is \(128,\) torch\.bfloat16"):
        merge.run(_config((a, 0.5), (half, 0.5)), make_ctx(tmp_path / "out2", []))

    del tensors["model.norm.weight"]
    save_file(tensors, str(half / "model.safetensors"))
    with pytest.raises(InputError, match=r"tensor names differ .* missing \['model\.norm\.weight'\]"):
        merge.run(_config((a, 0.5), (half, 0.5)), make_ctx(tmp_path / "out3", []))
    assert not (tmp_path / "out3" / "model.safetensors").exists()


def test_weights_must_be_positive_and_sum_to_one(models):
    _, a, b = models
    with pytest.raises(ValidationError, match="sum to 1"):
        _config((a, 1.0), (b, 1.0))
    with pytest.raises(ValidationError, match="positive"):
        _config((a, 1.5), (b, -0.5))
    with pytest.raises(ValidationError, match="at least two"):
        _config((a, 1.0))
