"""Image benchmark: EfficientNet-Lite0 features on the CIFAR-10 test set, scored by k-NN and a
linear probe, against raw-pixel and PCA-of-pixels baselines.

    .venv/bin/python benchmarks/images.py                    # all 10,000 images (~5 min on 2 cores)
    .venv/bin/python benchmarks/images.py --limit 2000 --json out.jsonl

Needs embedworks' ``image`` extra and scikit-learn (no peer library), so any environment with
``embedworks[image,viz]`` runs it.

Data: ``$EMBEDWORKS_DATA/cifar10-test/cifar10-test.tar.gz`` (10,000 32×32 JPEGs,
``test/<class>/<NNNN>.jpg``), unpacked once into ``benchmarks/.cache/cifar10-test/``.
``--limit N`` keeps the first ⌈N / 10⌉ files of every class (sorted names), so subsets stay balanced.

Lite0 sees each image through `embedworks.encode.image.preprocess`: the 32×32 image is resized
bicubically to 256×256 and centre-cropped to 224×224, i.e. the central 28×28 pixels of the
original (87.5 % of each side) fill the frame. The reference figures used a plain 32→224
bicubic resize, which keeps the whole image; ``--resize-only`` adds a row for that variant.

Scores (`embedworks.evaluate.knn_accuracy` / `linear_probe`): one seeded stratified 50/50 split
(seed 0), k-NN with cosine similarity at k = 1 and 10, and a logistic regression
(C = 1, max_iter 1000) on the training half. Baselines: raw pixels (3072-d, scaled to [0, 1])
and their PCA (100-d, fitted on all the rows, unsupervised); k-NN on the baselines uses
euclidean distance, as is usual for pixels.
"""

from __future__ import annotations

import argparse
import sys
import tarfile

import common

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def image_files(limit: int | None = None):
    """(paths, labels) of the CIFAR-10 test images, unpacked into the cache on first use."""
    root = common.cache_dir() / "cifar10-test"
    if not (root / "test" / "truck" / "0999.jpg").exists():
        with tarfile.open(common.data_file("cifar10-test", "cifar10-test.tar.gz")) as tar:
            tar.extractall(root, filter="data")
    per_class = None if limit is None else -(-limit // len(CLASSES))
    paths, labels = [], []
    for name in CLASSES:
        files = sorted((root / "test" / name).glob("*.jpg"))[:per_class]
        paths += files
        labels += [name] * len(files)
    return paths, labels


def scores(X, labels, metric: str) -> dict:
    from embedworks.evaluate import knn_accuracy, linear_probe

    with common.Timer() as t:
        knn = knn_accuracy(X, labels, k=(1, 10), test_fraction=0.5, seed=0, metric=metric)
        probe = linear_probe(X, labels, test_fraction=0.5, seed=0)
    return {"knn@1": knn.accuracy[1], "knn@10": knn.accuracy[10], "probe": probe.accuracy,
            "probe_macro_f1": probe.macro_f1, "n_train": knn.n_train, "n_test": knn.n_test,
            "knn_metric": metric, "score_seconds": t.seconds}


def encode_resized(encoder, paths, batch_size: int):
    """Lite0 features with the plain 32→224 bicubic resize (no 256 resize + centre crop), through
    the encoder's network directly, for comparison with the crop `ImageEncoder` applies."""
    import numpy as np
    import torch
    from PIL import Image

    from embedworks.encode.image import CROP, MEAN, SCALE

    out = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            arrays = []
            for path in paths[start:start + batch_size]:
                with Image.open(path) as image:
                    image = image.convert("RGB").resize((CROP, CROP), Image.BICUBIC)
                arrays.append(((np.asarray(image, dtype=np.float32) - MEAN) / SCALE).transpose(2, 0, 1))
            x = torch.from_numpy(np.stack(arrays)).to(encoder.device).contiguous(memory_format=torch.channels_last)
            out.append(encoder._network.features(x).float().cpu().numpy())
    return np.concatenate(out)


def run(limit: int | None, batch_size: int, pca_dim: int, json_path: str | None,
        resize_only: bool = False) -> list[dict]:
    import numpy as np
    from PIL import Image

    from embedworks.encode.image import ImageEncoder

    paths, labels = image_files(limit)
    base = {"section": "cifar10", "images": len(paths), **common.machine()}
    rows = []

    encoder = ImageEncoder.from_pretrained("efficientnet-lite0", device="auto")
    with common.Timer() as t:
        X = encoder.encode_array([str(p) for p in paths], batch_size=batch_size, progress=False)
    if encoder.last_skipped or len(X) != len(paths):
        sys.exit(f"{len(encoder.last_skipped)} images could not be read: {encoder.last_skipped[:3]}")
    row = {**base, "features": "efficientnet-lite0", "dim": X.shape[1], "device": encoder.device,
           "encode_seconds": t.seconds, "images_per_s": len(paths) / t.seconds, "batch_size": batch_size,
           **scores(X, labels, "cosine")}
    rows.append(row)
    common.emit_json(row, json_path)

    if resize_only:
        with common.Timer() as t:
            X = encode_resized(encoder, paths, batch_size)
        row = {**base, "features": "efficientnet-lite0 (32→224 resize, no crop)", "dim": X.shape[1],
               "device": encoder.device, "encode_seconds": t.seconds, "images_per_s": len(paths) / t.seconds,
               "batch_size": batch_size, **scores(X, labels, "cosine")}
        rows.append(row)
        common.emit_json(row, json_path)

    pixels = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32).ravel() for p in paths]) / 255.0
    row = {**base, "features": "raw-pixels", "dim": pixels.shape[1], **scores(pixels, labels, "euclidean")}
    rows.append(row)
    common.emit_json(row, json_path)

    from sklearn.decomposition import PCA

    reduced = PCA(n_components=pca_dim, random_state=0).fit_transform(pixels)
    row = {**base, "features": f"pca{pca_dim}-pixels", "dim": pca_dim, **scores(reduced, labels, "euclidean")}
    rows.append(row)
    common.emit_json(row, json_path)
    return rows


def table(rows: list[dict]) -> str:
    header = ["features", "dim", "kNN@1", "kNN@10", "linear probe", "images/s"]
    body = [[r["features"], r["dim"], common.fmt(r["knn@1"]), common.fmt(r["knn@10"]),
             common.fmt(r["probe"]), common.fmt(r.get("images_per_s"), ".1f")] for r in rows]
    return common.markdown_table(header, body, "lrrrrr")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use about N images (balanced over classes)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pca-dim", type=int, default=100)
    parser.add_argument("--resize-only", action="store_true",
                        help="also score Lite0 on a plain 32→224 resize without the centre crop")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 20:
        parser.error("--limit must be at least 20 (two images per class)")
    rows = run(args.limit, args.batch_size, args.pca_dim, args.json, args.resize_only)
    print()
    print(f"`{common.command_line()}`")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
