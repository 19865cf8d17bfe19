"""Reports over evaluation outputs: a Table-1-style comparison in Markdown and HTML, plus two plots.

Rows are runs, columns are benchmarks, each split into answer-only accuracy, explain accuracy and
their paired difference (explain - answer), with the 95 % intervals from results.json (Wilson score
for accuracies, paired BCa bootstrap for differences; docs/evaluation.md).
A details table adds what each benchmark officially reports (IgakuQA points and pass/fail per
year, MedCalc-Bench per-category accuracy) and generation cost (tokens, latency per request and
throughput, :mod:`medreasoner.eval.report_timing`). A provenance table names the model (content
hash), data, source commit and date behind every row (:mod:`medreasoner.eval.report_provenance`),
and a warning opens the report when results placed side by side were computed on different items
(:mod:`medreasoner.eval.report_itemsets`). The HTML file is self-contained (plots embedded as data
URIs); the Markdown file links the PNGs beside it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.eval.findings import MISSED_TITLE, evaluate_contrast, findings_rows, load_findings, missed_rows
from medreasoner.eval.report_itemsets import item_set_rows
from medreasoner.eval.report_pipeline import (baseline_rows, episode_exam_rows, episode_rows, funnel_rows,
                                              gain_rows, probe_rows, recipe_stages, stage_order_key)
from medreasoner.eval.report_plots import accuracy_plot, delta_plot, findings_plot
from medreasoner.eval.report_provenance import provenance_rows
from medreasoner.eval.report_stage_time import NOTE as STAGE_TIME_NOTE
from medreasoner.eval.report_stage_time import stage_time_rows
from medreasoner.eval.report_timing import timing_cells
from medreasoner.eval.report_training import MAJORITY_COLUMN, curve_rows, sampling_rows
from medreasoner.files import write_text_atomic

BENCHMARK_ORDER = ["medqa", "medcalc", "igakuqa", "mcq", "items"]
STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
         "th,td{border:1px solid #bbb;padding:4px 8px;text-align:right}th{background:#eef}"
         "td:first-child{text-align:left}td{white-space:nowrap}"
         "img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}code{background:#f4f4f4}"
         ".warning{border:2px solid #c00;background:#fff4f4;padding:0 1em;margin:1em 0}")
WARNING_TITLE = "Warning: results side by side were computed on different items"
WARNING_NOTE = ("Accuracies of one benchmark column below come from different item sets (compared by item id), so "
                "they do not compare as they stand; the paired figures (Δ explain − answer, gains) use only the "
                "items both cells answered.")
TIMING_NOTE = ("latency / request: seconds from sending a request to its answer (hf, vllm: the wall time of the "
               "batch it was generated in); throughput: items and completion tokens per second of generation wall "
               "time (hf, vllm: the sum of the batches' times; ≈ endpoint: summed request time / requests in "
               "flight, an upper bound).")
PROVENANCE_NOTE = ("model sha256: over the weights, tokenizer and config files; data sha256: as the pipeline "
                   "recorded the input (a file's own hash, or the manifest of the stage that wrote it); commit: the "
                   "medreasoner source the pipeline ran from (+dirty: with uncommitted changes); date (UTC): the "
                   "eval stage's start, or when results.json was written. A standalone eval records no data hash "
                   "or commit.")
STAGE_TIME_TITLE = "Stage time"
EPISODES_TITLE = "Diagnostic-chain episodes"
EXAMS_TITLE = "Episodes by exams ordered"
SAMPLED_EPISODES_NOTE = (" A sampled stage (its episode count says how many per case, at which temperature and "
                         "top-p) gives pass@1 instead, with a bootstrap CI over cases; its pass@k (and maj@k, where "
                         "its episodes record their answers) is under Sampling headroom.")
PROBE_TITLE = "Knowledge probe"
PROBE_NOTE = ("Multiple-choice accuracy by option log-likelihood in the probe stage's text format (no generation): "
              "raw = the option the model finds likeliest after the question; calibrated = likeliest relative to "
              "the question without its findings (domain-conditional PMI), so a model that only learned how often "
              "each name occurs scores chance. Wilson 95 % CI. On a subset's row, lure = the share of the items "
              "outside it that offer one of its gold names as a wrong option where the model (calibrated) picks "
              "one (Wilson 95 % CI; n such items); margin = name by name, accuracy on the subset's items of that "
              "name minus how often the model picks it where it is a lure, weighted by the name's share of the "
              "subset (MOVER 95 % CI): 0 for a model that picks each name as often where it is wrong as where it "
              "is right. – where the row is not a subset or the probe predates lures.")
NET_OF_LURES_NOTE = (" A net-of-lures row (knowledge probe) compares margins: its control and treatment columns "
                     "are margins (Knowledge probe table), n is subset items + lure offers (an item offering two of "
                     "the names counts twice), and the effect "
                     "is the margin's change, with a percentile bootstrap resampling items within each seed, name "
                     "and item set (no McNemar p: –).")
FINDINGS_NOTE = ("Effect = treatment − control accuracy on the same items, per run (seed) with its paired "
                 "BCa-bootstrap 95 % CI and exact McNemar p; pooled = mean over seeds with a stratified (items "
                 "within seeds) bootstrap CI. A target with a numeric check says met or not met in its pooled row.")
SAMPLED_FINDINGS_NOTE = (" A pass@1 row pairs cases by their share of right sampled episodes (its control and "
                         "treatment columns are mean pass@1; a share is not right/wrong, so no McNemar p: –); a "
                         "pass@k row pairs them by whether any sample was right; a majority row by whether the "
                         "answer most samples gave was right (a tie scores the share of tied answers that are "
                         "right, so no McNemar p either).")
SAMPLED_ITEMS_NOTE = (" A row whose eval stages sampled each item k times (num_samples) pairs items by their share "
                      "of right samples: its control and treatment columns are mean pass@1, and a share is not "
                      "right/wrong, so no McNemar p (–).")
SAMPLED_ACCURACY_NOTE = (" A cell marked pass@1 comes from a stage that sampled each item k times: the mean share of "
                         "right samples, with a bootstrap CI over items, and its Δ has no McNemar p.")


def collect_runs(run_dirs: list[Path], labels: list[str] | None) -> list[tuple[str, dict]]:
    """``[(label, {(benchmark, mode): results})]``; a RUN_DIR holding several eval outputs gives one row each,
    in the order of the pipeline's stages when the RUN_DIR is a pipeline run (``recipe.yaml``)."""
    runs = []
    for index, run_dir in enumerate(run_dirs):
        files = sorted(run_dir.rglob("results.json"))
        if not files:
            if funnel_rows(run_dir)[1] or probe_rows([run_dir])[1]:
                continue  # a data-engine or probe-only run: the report shows its funnel or probe table only
            raise InputError(run_dir, "no results.json below this directory (is it an eval --output directory?)")
        groups: dict[Path, dict] = {}
        for file in files:
            try:
                body = json.loads(file.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise InputError(file, f"not valid JSON ({error.msg})", line=error.lineno) from None
            if not isinstance(body, dict) or "schema_version" not in body:
                continue  # another tool's results.json (e.g. a training stage's metrics)
            body["_dir"] = str(file.parent)  # where the per-item predictions are (paired gains)
            # Keyed by the results' name (the benchmark unless an eval stage named two files of one benchmark).
            groups.setdefault(file.parent.parent, {})[(body.get("name") or body["benchmark"], body["mode"])] = body
        if not groups:
            if episode_rows(run_dir)[1]:
                continue  # an environment run: the report shows its episodes (their results.json is not an eval's)
            raise InputError(run_dir, "no evaluation results.json (with schema_version) below this directory")
        base = labels[index] if labels else run_dir.resolve().name
        for group_dir, results in sorted(groups.items(), key=lambda kv: stage_order_key(run_dir, kv[0])):
            relative = group_dir.resolve().relative_to(run_dir.resolve())
            runs.append((base if str(relative) == "." else f"{base}/{relative}", results))
    return runs


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f}"  # NaN check


def _acc(body: dict | None) -> str:
    if body is None:
        return "–"
    m = body["metrics"]
    sampled = f" pass@1 of {m['num_samples']}" if "pass_at_k" in m else ""
    return f"{_pct(m['accuracy'])} [{_pct(m['ci_low'])}, {_pct(m['ci_high'])}]{sampled}"


def _delta(answer: dict | None, explain: dict | None) -> str:
    stability = (explain or {}).get("stability") or (answer or {}).get("stability")
    if stability is None:
        return "–"
    p = "" if stability["mcnemar_p"] is None else f" p={stability['mcnemar_p']:.2g}"  # sampled: no McNemar
    return f"{100 * stability['delta']:+.1f} [{100 * stability['ci_low']:+.1f}, {100 * stability['ci_high']:+.1f}]{p}"


def _benchmark_details(body: dict) -> str:
    summary, metrics = body["summary"], body["metrics"]
    if "pass_at_k" in metrics:  # sampled: the breakdowns below are defined on one answer per item
        k = metrics["num_samples"]
        majority = f", maj@{k} {_pct(metrics['maj_at_k'])}" if "maj_at_k" in metrics else ""  # older results lack it
        return f"pass@1 of {k} samples; pass@{k} {_pct(metrics['pass_at_k'])}{majority}"
    if body["benchmark"] == "igakuqa":
        overall = summary["overall"]
        years = ", ".join(f"{year}: {y['score']}/{y['total']}"
                          + ("" if y.get("passed") is None else (" pass" if y["passed"] else " fail"))
                          for year, y in summary.get("years", {}).items())
        return f"points {overall['score']}/{overall['total']} ({years})"
    if body["benchmark"] == "medcalc":
        return ", ".join(f"{name} {c['average']:.1f}" for name, c in summary.get("categories", {}).items())
    return ""


def build_tables(runs: list[tuple[str, dict]]) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    """(main header, main rows, details header, details rows) as plain strings."""
    present = {benchmark for _, results in runs for benchmark, _ in results}
    benchmarks = [b for b in BENCHMARK_ORDER if b in present] + sorted(present - set(BENCHMARK_ORDER))
    header = ["run"] + [f"{b} {column}" for b in benchmarks for column in ("answer", "explain", "Δ explain−answer")]
    rows = []
    for label, results in runs:
        row = [label]
        for benchmark in benchmarks:
            answer, explain = results.get((benchmark, "answer")), results.get((benchmark, "explain"))
            row += [_acc(answer), _acc(explain), _delta(answer, explain)]
        rows.append(row)
    details_header = ["run", "benchmark", "mode", "n", "accuracy %", "no answer %", "completion tokens (mean/p95)",
                      "latency / request s (p50)", "throughput items/s", "throughput tokens/s", "official breakdown"]
    details = []
    for label, results in runs:
        for (benchmark, mode), body in sorted(results.items(), key=lambda kv: (benchmarks.index(kv[0][0]), kv[0][1])):
            m, tokens = body["metrics"], body["tokens"]["completion"]
            details.append([label, benchmark, mode, str(m["n"]), _pct(m["accuracy"]), _pct(m["no_answer_rate"]),
                            f"{tokens['mean']:.0f}/{tokens['p95']:.0f}", *timing_cells(body),
                            _benchmark_details(body)])
    return header, rows, details_header, details


def _plot_cells(runs: list[tuple[str, dict]]) -> tuple[list[dict], list[dict]]:
    accuracy, deltas = [], []
    for label, results in runs:
        for (benchmark, mode), body in results.items():
            m = body["metrics"]
            accuracy.append({"label": label, "benchmark": benchmark, "mode": mode, "accuracy": m["accuracy"],
                             "ci_low": m["ci_low"], "ci_high": m["ci_high"]})
            if mode == "explain" and body.get("stability"):
                s = body["stability"]
                deltas.append({"label": label, "benchmark": benchmark, "delta": s["delta"],
                               "ci_low": s["ci_low"], "ci_high": s["ci_high"]})
    return accuracy, deltas


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(run_dirs: list[Path], output: Path, *, labels: list[str] | None,
                 findings: Path | None = None) -> list[Path]:
    """Write ``report.md``, ``report.html``, ``accuracy.png`` and (with paired runs) ``stability.png``.

    With ``findings`` (a findings YAML, :mod:`medreasoner.eval.findings`) the report opens with each
    finding's effect per RUN_DIR (one per seed) and pooled, and ``findings.png``.

    Returns:
        The paths written.
    """
    run_dirs = [Path(p) for p in run_dirs]
    runs = collect_runs(run_dirs, labels)
    output.mkdir(parents=True, exist_ok=True)
    note = ("Accuracy in %, [95 % Wilson score CI]; Δ = explain − answer accuracy in points with its "
            "paired BCa-bootstrap CI and exact McNemar p. IgakuQA's official figure is points scored / total points "
            "(details table).")
    sections: list[tuple[str, str | None, list[str], list[list[str]]]] = []  # (title, note, header, rows)
    plots: list[Path] = []
    if findings is not None:
        contrasts = load_findings(findings).findings
        results = [evaluate_contrast(run_dirs, c) for c in contrasts]
        # Sampled-episode cells are not right/wrong per case; say what their columns hold when there are any.
        sampled = any(cell.kind == "episodes" and cell.episodes != "final_diagnosis"
                      for contrast in contrasts for cell in (contrast.control, contrast.treatment))
        sampled_items = any(contrast.control.kind == "eval" and seed["mcnemar_p"] is None
                            for contrast, result in zip(contrasts, results) for seed in result["per_seed"])
        net = any(contrast.net_of_lures for contrast in contrasts)
        sections.append(("Findings", FINDINGS_NOTE + (SAMPLED_FINDINGS_NOTE if sampled else "")
                         + (SAMPLED_ITEMS_NOTE if sampled_items else "") + (NET_OF_LURES_NOTE if net else ""),
                         *findings_rows(results)))
        missed = missed_rows(results)
        if missed[1]:
            sections.append((MISSED_TITLE, None, *missed))
        plots.append(findings_plot(results, output / "findings.png"))
        write_text_atomic(output / "findings.json", json.dumps(results, indent=2) + "\n")
    if runs:
        item_sets = item_set_rows(runs)
        if item_sets[1]:
            sections.insert(0, (WARNING_TITLE, WARNING_NOTE, *item_sets))  # first thing a reader sees
        header, rows, details_header, details = build_tables(runs)
        benchmarks = [h.rsplit(" ", 1)[0] for h in header[1::3]]
        run_labels = [label for label, _ in runs]
        accuracy_cells, delta_cells = _plot_cells(runs)
        plots.append(accuracy_plot(accuracy_cells, benchmarks, run_labels, output / "accuracy.png"))
        if delta_cells:
            plots.append(delta_plot(delta_cells, benchmarks, run_labels, output / "stability.png"))
        if any("pass_at_k" in body["metrics"] for _, results in runs for body in results.values()):
            note += SAMPLED_ACCURACY_NOTE
        sections.append(("Accuracy", note, header, rows))
        gains = gain_rows(runs)
        if gains[1]:
            sections.append(("Gain over the model it was trained from", "Paired on the items both runs "
                             "answered; the parent is found through the recipe's model paths.", *gains))
        sections.append(("Details", TIMING_NOTE, details_header, details))
        sections.append(("Provenance", PROVENANCE_NOTE, *provenance_rows(runs)))
    probes = probe_rows(run_dirs)
    if probes[1]:
        sections.append((PROBE_TITLE, PROBE_NOTE, *probes))
    stage_time = stage_time_rows(run_dirs)
    if stage_time[1]:
        sections.append((STAGE_TIME_TITLE, STAGE_TIME_NOTE, *stage_time))
    episode_context: set[str] = set()  # titles a findings summary quotes beside its episodes findings
    for run_dir in run_dirs:
        episodes = episode_rows(run_dir)
        baselines = baseline_rows(run_dir, episodes=bool(episodes[1]))
        if episodes[1]:
            # An S4 accuracy reads against its run's world: chance, prior-only and the every-exam ceiling.
            episode_context |= {f"Reference lines ({run_dir.name})", f"{EPISODES_TITLE} ({run_dir.name})",
                                f"{EXAMS_TITLE} ({run_dir.name})"}
        if baselines[1]:
            note = ("Chance and the prior-only baseline (the most prevalent condition of the differential) scored "
                    "against the items' gold; the Bayes-optimal ceiling is the share of gold labels equal to the "
                    "true condition.")
            if episodes[1]:
                note += (" An S4 episode's gold is the Bayes-optimal diagnosis with every exam result; the next "
                         "column is how often that equals the true condition, and the last is the label-blind "
                         "expert that env/sft_train.jsonl demonstrates, played on the split's episodes.")
            sections.append((f"Reference lines ({run_dir.name})", note, *baselines))
        if episodes[1]:
            sections.append((f"{EPISODES_TITLE} ({run_dir.name})", "Greedy episodes in the WiNGPT-3.0 S4 "
                             "environment: final-diagnosis accuracy with its Wilson CI; the accuracy the world's Bayes "
                             "decision reaches from the summary and the results of the exams the model ordered "
                             "(what its choice of exams was worth; the gap to its accuracy is lost reading them); "
                             "how often it ordered the label-blind expert's exams (its SFT demonstrations' "
                             "path), with its accuracy there and elsewhere; exams requested, share of the "
                             "case's key exams requested, exam cost." + (SAMPLED_EPISODES_NOTE if any(
                                 (stage.get("config") or {}).get("sampling") for stage in recipe_stages(run_dir) or []
                                 if stage.get("kind") == "episodes") else ""),
                             *episodes))
            sections.append((f"{EXAMS_TITLE} ({run_dir.name})", "The same episodes split by the number of exams "
                             "the model ordered: its accuracy, the accuracy of the world's Bayes decision from "
                             "the same exams' results (a perfect reader), and the number of episodes.",
                             *episode_exam_rows(run_dir)))
        funnel = funnel_rows(run_dir)
        if funnel[1]:
            sections.append((f"Data funnel ({run_dir.name})", None, *funnel))
        curves = curve_rows(run_dir)
        if curves[1]:
            sections.append((f"Training curves ({run_dir.name})", "Mean of each logged metric over the first "
                             "and the last quarter of the logged steps.", *curves))
        sampling = sampling_rows(run_dir)
        if sampling[1]:
            voted = "" if sampling[0][-1] != MAJORITY_COLUMN else (
                " maj@k = the answer most samples gave is right (S4 episodes that record their answers; a tie "
                "scores the share of tied answers that are right).")
            sections.append((f"Sampling headroom ({run_dir.name})", "pass@1 = mean share of correct samples per "
                             "question at the sampling temperature; pass@k = some sample correct." + voted,
                             *sampling))
    markdown_parts, html_parts = ["# Evaluation report"], ["<h1>Evaluation report</h1>"]
    for title, text, header, rows in sections:
        warning = title == WARNING_TITLE
        markdown_parts += [f"## {title}", *([f"**{text}**" if warning else text] if text else []),
                           _markdown_table(header, rows)]
        block = (f"<h2>{html.escape(title)}</h2>" + (f"<p>{html.escape(text)}</p>" if text else "")
                 + _html_table(header, rows))
        html_parts.append(f'<div class="warning">{block}</div>' if warning else block)
    if plots:
        markdown_parts += ["## Plots", *[f"![{p.stem}]({p.name})" for p in plots]]
        html_parts.append("<h2>Plots</h2>" + "".join(
            f'<p><img alt="{p.stem}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode("ascii")}"></p>'
            for p in plots))
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Evaluation report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(html_parts)}</body></html>\n")
    write_text_atomic(output / "report.md", "\n\n".join(markdown_parts) + "\n")
    # summary.md (what --embed quotes): the findings alone in a findings report, else every table but Details
    # and Provenance (machine-local paths and dates do not belong in the README).
    # An episodes finding is quoted with its runs' episode tables (exams requested, key-exam coverage).
    quoted = ([s for s in sections if s[0] in ("Findings", MISSED_TITLE, PROBE_TITLE, STAGE_TIME_TITLE)
               or s[0] in episode_context]
              if findings is not None
              else [s for s in sections if s[0] not in ("Details", "Provenance")])
    embedded = "\n\n".join(f"**{title}.** " + (f"{text}\n\n" if text else "\n\n") + _markdown_table(header, rows)
                             for title, text, header, rows in quoted)
    write_text_atomic(output / "summary.md", embedded + "\n")
    write_text_atomic(output / "report.html", page)
    return [output / "report.md", output / "report.html", output / "summary.md", *plots]


def embed_summary(report_dir: Path, target: str) -> Path:
    """Replace a marked block of a Markdown file with ``summary.md`` of a report; return the file.

    ``target`` is ``FILE`` or ``FILE#NAME``; the block lies between the lines
    ``<!-- medreasoner-report[:NAME]:begin -->`` and ``<!-- medreasoner-report[:NAME]:end -->``.
    Docs quote run results only this way, so every figure in them comes from a run.

    Raises:
        InputError: the file is missing or lacks the markers (begin before end).
    """
    path_text, _, name = str(target).partition("#")
    path = Path(path_text)
    tag = f"medreasoner-report:{name}" if name else "medreasoner-report"
    begin_marker, end_marker = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read the file to embed into: {error}") from None
    begin, end = text.find(begin_marker), text.find(end_marker)
    if begin < 0 or end < begin:
        raise InputError(path, f"needs the lines {begin_marker} and {end_marker} (in that order) around the generated block")
    summary = (Path(report_dir) / "summary.md").read_text(encoding="utf-8")
    generated = f"{begin_marker}\n<!-- generated by `medreasoner report --embed`; do not edit by hand -->\n\n{summary}\n"
    write_text_atomic(path, text[:begin] + generated + text[end:])
    return path
