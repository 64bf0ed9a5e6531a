"""Sentence boundaries: our splitter and pySBD side by side on pySBD's English "Golden Rules".

The golden rules (48 texts with their expected sentences) are read at run time from pySBD's source
archive on PyPI, `benchmarks/english_golden_rules.py` in pysbd 0.3.3 (the last release published with
a source archive; 0.3.4 only has a wheel, without the benchmarks). pip downloads the archive once into
.build/bench/ (or give one with `--sdist`); the file is parsed as data, never run. The installed pysbd (a
dev dependency) segments each text as pySBD's own benchmark does (`clean=False`, sentences stripped).
A rule counts when the sentences equal the expected ones exactly.

Ours runs as the turn engine uses it, fed the text word by word as an LLM streams it, and must give the
same sentences as `split_sentences` on the whole text. Its lag, counted in tokens so that load on the
machine does not blur it: for each sentence that comes out before the end of its stream, how many tokens
after the one holding its last character arrived before it did, with tokens that carry the spaces before
a word (as LLMs stream) and after it (as the scripted LLM of bench/turns.py does). Speed: the whole
set `--rounds` times, per 1,000 expected sentences, for pySBD, ours in one go and ours streamed word by
word. Exits 1 when our score is below pySBD's or streaming changes a result.

    .venv/bin/python bench/sentences.py --rounds 50
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from functions.core.text.sentences import SentenceSplitter, split_sentences  # noqa: E402

GOLDEN_SDIST = "pysbd==0.3.3"
GOLDEN_ARCHIVE = "pysbd-0.3.3.tar.gz"
GOLDEN_MEMBER = "pysbd-0.3.3/benchmarks/english_golden_rules.py"
GOLDEN_NAME = "GOLDEN_EN_RULES"
CACHE = REPO_ROOT / ".build" / "bench"
# A word with the spaces before it, as LLMs stream; with the spaces after it, as tests/scripted_llm.py does.
_TOKEN = re.compile(r"\s*\S+|\s+")
_TRAILING_TOKEN = re.compile(r"\S+\s*|\s+")

Rule = tuple[str, list[str]]
Segmenter = Callable[[str], list[str]]


def download_sdist(cache: Path) -> Path:
    archive = cache / GOLDEN_ARCHIVE
    if not archive.exists():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*command, "--dest", str(cache), GOLDEN_SDIST], check=True)
    return archive


def golden_rules(archive: Path) -> list[Rule]:
    """The GOLDEN_EN_RULES list of the archive's benchmark module, read as a literal."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile(GOLDEN_MEMBER)
        if member is None:
            raise SystemExit(f"{archive} has no {GOLDEN_MEMBER}")
        source = member.read().decode()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == GOLDEN_NAME for target in node.targets
        ):
            rules: list[Rule] = ast.literal_eval(node.value)
            return rules
    raise SystemExit(f"{GOLDEN_MEMBER} defines no {GOLDEN_NAME}")


def pysbd_segmenter() -> Segmenter:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    return lambda text: [sentence.strip() for sentence in segmenter.segment(text)]


def streamed(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return [
        sentence for token in _TOKEN.findall(text) for sentence in splitter.feed(token)
    ] + splitter.flush()


def tokens_waited(texts: list[str], token: re.Pattern[str]) -> list[int]:
    """For each sentence out before the end of its stream: tokens fed after the one that completed it."""
    waited = []
    for text in texts:
        splitter, cursor, fed = SentenceSplitter(), 0, 0
        ends: list[int] = []  # where each token ends in the text
        for piece in token.findall(text):
            fed += len(piece)
            ends.append(fed)
            for sentence in splitter.feed(piece):
                cursor = text.index(sentence, cursor) + len(sentence)
                holder = next(n for n, end in enumerate(ends) if end >= cursor)
                waited.append(len(ends) - 1 - holder)
    return waited


def score(rules: list[Rule], segment: Segmenter) -> list[int]:
    """The numbers (from 1) of the rules the segmenter misses."""
    return [n for n, (text, expected) in enumerate(rules, 1) if segment(text) != expected]


def ms_per_1000_sentences(rules: list[Rule], segment: Segmenter, rounds: int) -> float:
    sentences = sum(len(expected) for _, expected in rules) * rounds
    began = time.perf_counter()
    for _ in range(rounds):
        for text, _ in rules:
            segment(text)
    return 1000 * (time.perf_counter() - began) * 1000 / sentences


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line
        ]
        model = names[0] if names else model
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=50, help="passes over the set for the timings")
    parser.add_argument("--sdist", type=Path, help=f"a local {GOLDEN_ARCHIVE} instead of downloading it")
    parser.add_argument("--show-misses", action="store_true", help="print each missed rule's sentences")
    args = parser.parse_args(argv)

    from importlib.metadata import version

    rules = golden_rules(args.sdist or download_sdist(CACHE))
    segmenters: dict[str, Segmenter] = {
        f"pySBD {version('pysbd')}": pysbd_segmenter(),
        "ours, in one go": split_sentences,
        "ours, streamed word by word": streamed,
    }
    print(f"pySBD's English golden rules ({len(rules)} texts, from {GOLDEN_ARCHIVE}) on {machine()}")
    print(f"  {'segmenter':<30}{'correct':>10}{'score':>9}{'ms / 1,000 sentences':>24}")
    misses = {name: score(rules, segment) for name, segment in segmenters.items()}
    for name, segment in segmenters.items():
        correct = len(rules) - len(misses[name])
        elapsed = ms_per_1000_sentences(rules, segment, args.rounds)
        print(f"  {name:<30}{correct:>6} / {len(rules)}{100 * correct / len(rules):>8.2f}%{elapsed:>24.2f}")
    for name, missed in misses.items():
        print(f"  {name} misses rules: {', '.join(map(str, missed)) or 'none'}")
        if args.show_misses:
            for n in missed:
                print(f"    {n}: {segmenters[name](rules[n - 1][0])}")
    differing = [n for n, (text, _) in enumerate(rules, 1) if streamed(text) != split_sentences(text)]
    print(f"  streamed word by word differs from in one go on: {', '.join(map(str, differing)) or 'none'}")
    texts = [text for text, _ in rules]
    print(
        "  ours, sentences out before the end of the stream, by tokens fed after the one that completed them:"
    )
    for style, token in (
        ("' word' (as LLMs stream)", _TOKEN),
        ("'word ' (as the scripted LLM)", _TRAILING_TOKEN),
    ):
        waited = tokens_waited(texts, token)
        counts = ", ".join(f"{n}: {waited.count(n)}" for n in range(max(waited) + 1))
        print(f"    tokens like {style:<32}{counts}")
    pysbd_missed, ours_missed = (len(missed) for missed in list(misses.values())[:2])
    return 0 if ours_missed <= pysbd_missed and not differing else 1


if __name__ == "__main__":
    sys.exit(main())
