"""Peak memory of loading training data: Python lists (the old loaders) vs the Arrow cache (today's).

Writes a synthetic CPT JSONL (``{"text"}``) and an SFT JSONL (``{"messages"}`` with reasoning) of
about ``--mb`` MB each in a temp directory, then loads each in fresh child processes and prints their
peak resident memory (``VmHWM`` of ``/proc/self/status``, MB) and wall time (s):

- ``lists``: the loaders before the Arrow cache, reimplemented here as the baseline:
  ``medreasoner.files.read_jsonl`` into Python lists, then ``Dataset.from_dict`` (every process of a
  launch held all rows twice, as objects and as in-memory Arrow);
- ``arrow build``: the project's loader with an empty cache (what the main process pays once);
- ``arrow mapped``: the project's loader again, cache present (what every later process and run pays);
- ``load_dataset json``: ``datasets.load_dataset("json")`` (the reference named in issue 11).

``imports`` is the peak of a child that only imports the modules, so ``peak - imports`` is what the
data cost. Ratios are ``lists / arrow``. The temp directory (files and caches) is deleted at the end.

    .venv/bin/python bench/data_loading.py --mb 200
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ["fever", "cough", "wheeze", "pallor", "fatigue", "rash", "headache", "nausea", "dyspnea", "edema",
         "pneumonia", "asthma", "anemia", "gout", "migraine", "患者", "発熱", "咳嗽", "治療", "投与"]

# Each child prints {"peak_mb", "seconds", "rows"} as its last line. The loading code of each way:
# Every child imports what a training process has imported anyway (torch, accelerate), so the import
# cost is the same in all of them and the "imports" child measures it.
IMPORTS = "import torch, accelerate\nfrom datasets import Dataset, load_dataset\n" \
          "from medreasoner.files import read_jsonl\nfrom medreasoner.stages import datasets as loaders\n"
WAYS = {
    "imports": "dataset = [None]",
    "lists": ("rows = [row[COLUMN] for _, row in read_jsonl(PATH)]\n"
              "dataset = Dataset.from_dict({COLUMN: rows})"),
    "arrow build": "dataset = LOADER(PATH, cache_dir=CACHE)",
    "arrow mapped": "dataset = LOADER(PATH, cache_dir=CACHE)",
    "load_dataset json": "dataset = load_dataset('json', data_files=str(PATH), split='train', cache_dir=JSON_CACHE)",
}
CHILD = """
import json, sys, time
from pathlib import Path
{imports}
PATH, COLUMN, CACHE, JSON_CACHE = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
LOADER = loaders.load_text_corpus if COLUMN == "text" else loaders.load_conversations
start = time.perf_counter()
{load}
last = dataset[len(dataset) - 1]  # the data is really there
seconds = time.perf_counter() - start
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"peak_mb": peak_kb / 1024, "seconds": seconds, "rows": len(dataset)}}))
"""


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def write_file(path: Path, kind: str, megabytes: float, rng: random.Random) -> int:
    """Write synthetic rows until the file holds ``megabytes`` MB (10^6 bytes); return the row count."""
    size, rows = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while size < megabytes * 1e6:
            if kind == "cpt":
                row = {"text": text(rng, rng.randint(100, 800))}
            else:
                row = {"messages": [{"role": "user", "content": text(rng, rng.randint(20, 80))},
                                    {"role": "assistant", "content": text(rng, 5),
                                     "reasoning_content": text(rng, rng.randint(100, 600))}]}
            line = json.dumps(row, ensure_ascii=False) + "\n"
            handle.write(line)
            size += len(line.encode("utf-8"))
            rows += 1
    return rows


def measure(way: str, path: Path, column: str, tmp: Path) -> dict:
    """Run one loading way in a fresh Python process; return its printed figures."""
    code = CHILD.format(imports=IMPORTS, load=WAYS[way])
    result = subprocess.run([sys.executable, "-c", code, str(path), column, str(tmp / f"cache-{column}"),
                             str(tmp / f"json-cache-{column}")], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{way} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of each generated JSONL file (MB)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="data_loading_") as directory:
        tmp = Path(directory)
        for kind, column in (("cpt", "text"), ("sft", "messages")):
            path = tmp / f"{kind}.jsonl"
            start = time.perf_counter()
            rows = write_file(path, kind, args.mb, rng)
            written = time.perf_counter() - start
            print(f"\n{kind}: {path.stat().st_size / 1e6:.0f} MB, {rows} rows (written in {written:.0f} s)")
            figures = {way: measure(way, path, column, tmp) for way in WAYS}
            imports = figures["imports"]["peak_mb"]
            print(f"  {'way':<18} {'peak MB':>8} {'- imports':>10} {'seconds':>8}")
            for way, figure in figures.items():
                peak = figure["peak_mb"]
                print(f"  {way:<18} {peak:8.0f} {peak - imports:10.0f} {figure['seconds']:8.1f}")
            lists = figures["lists"]["peak_mb"]
            for way in ("arrow build", "arrow mapped", "load_dataset json"):
                peak = figures[way]["peak_mb"]
                above = (lists - imports) / max(peak - imports, 1)
                print(f"  lists / {way}: {lists / peak:.2f}x peak, {above:.1f}x above imports")
            path.unlink()  # free the disk before the next file


if __name__ == "__main__":
    main()
