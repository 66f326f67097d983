"""Audio benchmark: spoken digits (FSDD), MFCC baseline vs the CNN trained by `AudioEmbedding`.

    .venv/bin/python benchmarks/audio.py                   # both tasks (~7 min on 2 busy cores)
    .venv/bin/python benchmarks/audio.py --task digit --epochs 5 --json out.jsonl

Needs embedworks' ``audio`` extra and scikit-learn (no peer library).

Data: ``$EMBEDWORKS_DATA/fsdd/recordings.tar.gz`` (3,000 clips ``{digit}_{speaker}_{index}.wav``,
6 speakers × 10 digits × 50, 8 kHz), read straight from the archive into memory.

Two tasks, each on a split where the test side shares nothing with what the CNN was trained on:

* **digit, speaker-disjoint**: the label is the digit; test speakers (default nicolas and theo,
  one accented, one not; ``--test-speakers``) against the other four.
* **speaker, digit-disjoint**: the label is the speaker; digits 5–9 against digits 0–4.

For each task, every test clip is classified by its nearest training-side clips
(`embedworks.evaluate.knn_accuracy`, cosine, k = 1 and 10), for: MFCC (20 coefficients of 40
mel bands, deltas, delta-deltas, mean and std pooled: 120-d), the same MFCCs standardised with
the training side's means and deviations (a stronger baseline for cosine k-NN), and the CNN
trained (supervised contrastive, seeded) on the training side only. Everything runs at the
recordings' own 8 kHz; training seconds are wall clock on this machine.

torch runs one thread by default (``--workers``): on a 2-core machine that other processes also
use, two OpenMP threads spin-wait for each other and a training step took 14 times longer
(4.0 s vs 0.29 s for a batch of 64, measured here).
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile

import common

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def recordings():
    """(clips as (waveform, 8000) pairs, digits, speakers), in archive-name order."""
    import numpy as np
    import soundfile

    clips, digits, speakers = [], [], []
    with tarfile.open(common.data_file("fsdd", "recordings.tar.gz")) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".wav")),
                         key=lambda m: m.name)
        for member in members:
            digit, speaker, _ = member.name.rsplit("/", 1)[-1][:-4].split("_")
            wave, rate = soundfile.read(io.BytesIO(tar.extractfile(member).read()), dtype="float32")
            clips.append((wave, rate))
            digits.append(digit)
            speakers.append(speaker)
    return clips, np.array(digits), np.array(speakers)


def knn(X, labels, train, test) -> dict:
    from embedworks.evaluate import knn_accuracy

    result = knn_accuracy(X, labels, k=(1, 10), split=(train, test), metric="cosine")
    return {"knn@1": result.accuracy[1], "knn@10": result.accuracy[10], "n_train": result.n_train,
            "n_test": result.n_test}


def run_task(task: str, clips, digits, speakers, mfcc_vectors, mfcc_seconds, args) -> list[dict]:
    import numpy as np

    from embedworks.learn import AudioEmbedding

    if task == "digit":
        labels = digits
        test_mask = np.isin(speakers, args.test_speakers)
        split_name = f"speaker-disjoint (test speakers {', '.join(args.test_speakers)})"
    else:
        labels = speakers
        test_mask = np.isin(digits, list("56789"))
        split_name = "digit-disjoint (train digits 0-4, test 5-9)"
    train, test = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    base = {"section": "fsdd", "task": task, "split": split_name, **common.machine()}
    rows = []

    row = {**base, "features": "MFCC (raw)", "dim": mfcc_vectors.shape[1], "train_seconds": None,
           "encode_seconds": mfcc_seconds, **knn(mfcc_vectors, labels, train, test)}
    rows.append(row)
    common.emit_json(row, args.json)

    mean = mfcc_vectors[train].mean(axis=0)
    std = mfcc_vectors[train].std(axis=0) + 1e-8
    row = {**base, "features": "MFCC (standardised)", "dim": mfcc_vectors.shape[1], "train_seconds": None,
           "encode_seconds": mfcc_seconds, **knn((mfcc_vectors - mean) / std, labels, train, test)}
    rows.append(row)
    common.emit_json(row, args.json)

    settings = dict(dim=args.dim, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, sample_rate=8000,
                    duration=args.duration, n_mels=args.n_mels, n_fft=256, hop_length=args.hop_length,
                    channels=tuple(args.channels), seed=args.seed, workers=args.workers, device="cpu",
                    progress=False)
    model = AudioEmbedding(**settings).fit([clips[i] for i in train], labels=list(labels[train]))
    with common.Timer() as t:
        X = model.encoder.encode_array(clips, batch_size=128)
    row = {**base, "features": "CNN (AudioEmbedding, SupCon)", "dim": X.shape[1],
           "train_seconds": model.train_seconds, "encode_seconds": t.seconds,
           "loss_first": model.loss_history[0], "loss_last": model.loss_history[-1],
           **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
           **knn(X, labels, train, test)}
    rows.append(row)
    common.emit_json(row, args.json)
    return rows


def table(rows: list[dict]) -> str:
    header = ["task (split)", "features", "dim", "kNN@1", "kNN@10", "train s"]
    body = [[f"{r['task']} ({r['split'].split(' (')[0]})", r["features"], r["dim"], common.fmt(r["knn@1"]),
             common.fmt(r["knn@10"]), common.fmt(r["train_seconds"], ".0f")] for r in rows]
    return common.markdown_table(header, body, "llrrrr")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("digit", "speaker", "both"), default="both")
    parser.add_argument("--test-speakers", nargs=2, default=["nicolas", "theo"], choices=SPEAKERS)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--n-mels", type=int, default=32)
    parser.add_argument("--hop-length", type=int, default=160)
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1,
                        help="torch CPU threads for training and encoding (1: see the docstring)")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result")
    args = parser.parse_args(argv)

    import torch

    from embedworks.encode import AudioEncoder

    torch.set_num_threads(args.workers)
    clips, digits, speakers = recordings()
    with common.Timer() as t:
        mfcc = AudioEncoder.mfcc(sample_rate=8000, n_mfcc=20, n_mels=40, n_fft=256, hop_length=80)
        mfcc_vectors = mfcc.encode_array(clips, batch_size=128, progress=False)
    rows = []
    for task in (("digit", "speaker") if args.task == "both" else (args.task,)):
        rows += run_task(task, clips, digits, speakers, mfcc_vectors, t.seconds, args)
    print()
    print(f"`{common.command_line()}`")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
