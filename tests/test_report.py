"""`medreasoner report`: Table-1-style Markdown/HTML and plots from eval outputs with known answers.

A scripted backend (answers chosen per question) drives the real runner, so every number in the
report is known: MedQA 6/8 in both modes with 2 flips each way, IgakuQA 6/7 points answer-only.
The HTML is rendered in headless Chromium when it is installed (skipped with a reason otherwise).

Run: .venv/bin/python -m pytest tests/test_report.py -q
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
from eval_support import ScriptedBackend, write_igakuqa, write_medqa

from medreasoner.cli import main
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.runner import EvalRequest, run_eval

SETTINGS = GenerationSettings(max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0, thinking_budget=None, batch_size=2)
GOLD = "ABCD"


def medqa_script(answer_right: range, explain_right: range) -> dict:
    script = {}
    for k in range(8):
        question = f"A {20 + 3 * k}-year-old"
        wrong = GOLD[(k + 1) % 4]
        explained = GOLD[k % 4] if k in explain_right else wrong
        script[(question, "First explain")] = f"Option A is unlikely.\nAnswer: {explained}"
        script[(question, "Reply with only")] = f"Answer: {GOLD[k % 4] if k in answer_right else wrong}"
    return script


IGAKUQA_SCRIPT = {
    ("発熱をきたす", "解説"): "a 正しい。\n答え: a",  # wrong and a prohibited choice
    ("咳をきたす", "解説"): "答え: a,b", ("BMIを求めよ", "解説"): "答え: 15", ("脱水時", "解説"): "答え: c",
    ("胸痛", "解説"): "答え: a",
    "発熱をきたす": "b", "咳をきたす": "a,b", "BMIを求めよ": "15", "脱水時": "a", "胸痛": "a",
}


def evaluate(output, benchmark, data, script):
    request = EvalRequest(benchmark=benchmark, data=data, mode="both", limit=None, output=output, prompt_style="chat",
                          igakuqa_prompts=None, grading="normalized", settings=SETTINGS, num_samples=1)
    return run_eval(request, ScriptedBackend(script), show_progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    medqa, igakuqa = write_medqa(root / "medqa.jsonl", 8), write_igakuqa(root / "IgakuQA")
    base = evaluate(root / "base", "medqa", medqa, medqa_script(range(0, 6), range(2, 8)))
    base_igakuqa = evaluate(root / "base", "igakuqa", igakuqa, IGAKUQA_SCRIPT)
    evaluate(root / "rpo", "medqa", medqa, medqa_script(range(0, 7), range(0, 7)))
    return root, base, base_igakuqa


def test_scripted_answers_give_the_expected_metrics(runs):
    _, base, igakuqa = runs
    assert base["answer"]["metrics"]["accuracy"] == 0.75 and base["explain"]["metrics"]["accuracy"] == 0.75
    stability = base["explain"]["stability"]
    assert (stability["flips_to_wrong"], stability["flips_to_right"]) == (2, 2)
    assert stability["delta"] == 0.0 and stability["mcnemar_p"] == pytest.approx(1.0)
    answer = igakuqa["answer"]["summary"]["overall"]
    assert (answer["score"], answer["total"]) == (6, 7)
    assert igakuqa["explain"]["summary"]["overall"]["kinki_questions"] == 1
    flips = igakuqa["explain"]["stability"]
    assert (flips["flips_to_wrong"], flips["flips_to_right"]) == (1, 1)  # 112A1 right -> wrong, 112B1 wrong -> right


def test_report_tables_and_plots(runs, tmp_path):
    root, _, _ = runs
    assert main(["report", str(root / "base"), str(root / "rpo"), "--output", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    header = next(line for line in markdown.splitlines() if line.startswith("| run |"))
    assert header.split(" | ")[1:4] == ["medqa answer", "medqa explain", "medqa Δ explain−answer"]
    base_row = next(line for line in markdown.splitlines() if line.startswith("| base |"))
    assert base_row.split(" | ")[1].startswith("75.0 [") and "+0.0 [" in base_row
    rpo_row = next(line for line in markdown.splitlines() if line.startswith("| rpo |"))
    assert rpo_row.split(" | ")[1].startswith("87.5 [") and rpo_row.rstrip(" |").endswith("–")  # no igakuqa run
    assert "points 6/7 (2018: 6/7)" in markdown
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2 and "<table>" in html
    for name in ("accuracy.png", "stability.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_rejects_a_directory_without_results(tmp_path):
    assert main(["report", str(tmp_path), "--output", str(tmp_path / "r")]) == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (apt-get install -y chromium)")
def test_html_renders_in_headless_chromium(runs, tmp_path):
    root, _, _ = runs
    assert main(["report", str(root / "base"), str(root / "rpo"), "--output", str(tmp_path)]) == 0
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1200,900"]
    page = f"file://{tmp_path / 'report.html'}"
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert "<table>" in dom.stdout and "87.5 [" in dom.stdout
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", page], capture_output=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (900, 1200) and pixels.std() > 0.05  # not a blank page


def test_boundary_accuracies_keep_wilson_intervals_and_named_results_stay_apart(tmp_path):
    # 0/8 and 8/8: Wilson bounds z^2 / (n + z^2) = 3.8415 / 11.8415 = 32.4 % from the boundary, never [0, 0].
    medqa = write_medqa(tmp_path / "medqa.jsonl", 8)
    for name, right in (("medqa_none", range(0)), ("medqa_all", range(8))):
        request = EvalRequest(benchmark="medqa", data=medqa, mode="both", limit=None, output=tmp_path / "run",
                              prompt_style="chat", igakuqa_prompts=None, grading="normalized", settings=SETTINGS,
                              name=name, num_samples=1)
        results = run_eval(request, ScriptedBackend(medqa_script(right, right)), show_progress=False)
        assert results["answer"]["name"] == name and (tmp_path / "run" / f"{name}_answer" / "results.json").is_file()
        stability = results["explain"]["stability"]
        assert stability["interval_method"] == "constant-difference Wilson" and stability["ci_low"] < 0 < stability["ci_high"]
    assert main(["report", str(tmp_path / "run"), "--output", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "medqa_none answer" in markdown and "medqa_all answer" in markdown  # two columns, none overwritten
    row = [line for line in markdown.splitlines() if line.startswith("| run |")][1]  # [0] is the header
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "0.0 [0.0, 32.4]" in cells and "100.0 [67.6, 100.0]" in cells
    assert "+0.0 [-32.4, +32.4] p=1" in cells
