"""Text benchmarks, one driver: STS-B (ours vs sentence-transformers), BEIR SciFact retrieval
(MiniLM, LSA, Doc2Vec) and 20 Newsgroups classification (Doc2Vec vs gensim, and LSA).

    .venv-bench/bin/python benchmarks/text.py                       # all three sections
    .venv-bench/bin/python benchmarks/text.py --only scifact,lsa --json out.jsonl

Sections: ``sts`` runs benchmarks/text_encoder.py, ``newsgroups`` runs benchmarks/doc2vec.py
(both also run on their own); ``scifact`` and ``lsa`` are here.

SciFact (``$EMBEDWORKS_DATA/beir-scifact``, test split: 300 queries over 5,183 documents):
MiniLM and LSA through `embedworks.search.TextIndex` (title + " " + text, as BEIR joins them);
Doc2Vec PV-DBOW (dim 100, 20 epochs, min_count 2) trained on the corpus, queries inferred. All
scored with `embedworks.evaluate.retrieval` (nDCG@10, Recall@100, MRR@10).
LSA on 20 Newsgroups: fitted on train + test texts (unsupervised, as Doc2Vec's vectors are),
logistic regression on the train vectors, scored on the test vectors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

import common

SECTIONS = ("sts", "scifact", "lsa", "newsgroups")
_WORD = re.compile(r"[a-z]+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def scifact(kinds=("minilm", "lsa", "doc2vec")) -> list[dict]:
    """nDCG@10 / Recall@100 / MRR@10 and seconds for each encoder on SciFact's test queries."""
    from embedworks.evaluate import read_beir, retrieval
    from embedworks.learn import Doc2Vec
    from embedworks.search import TextIndex, joined

    data = read_beir(common.data_file("beir-scifact"), split="test")
    qids = list(data.queries)
    queries = [data.queries[q] for q in qids]
    out = []
    for kind in kinds:
        with common.Timer() as t:
            if kind == "doc2vec":
                ids = list(data.corpus)
                docs = [(_tokens(joined(data.corpus[i]["title"], data.corpus[i]["text"])), i) for i in ids]
                model = Doc2Vec(dim=100, epochs=20, min_count=2, workers=2, seed=0).fit(docs)
                qv = model.infer_many([_tokens(q) for q in queries])
                hits = model.embeddings.most_similar(qv, k=100)
                results = {q: dict(h) for q, h in zip(qids, hits)}
            else:
                index = TextIndex.build(data.corpus, encoder=kind, batch_size=64, workers=1)
                results = {q: dict(h) for q, h in zip(qids, index.search(queries, k=100))}
        r = retrieval(results, data.qrels)
        row = {"section": "scifact", "encoder": kind, "ndcg@10": r.ndcg_at_10,
               "recall@100": r.recall_at_100, "mrr@10": r.mrr_at_10, "seconds": t.seconds,
               "queries": r.n_queries}
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def newsgroups_lsa() -> dict:
    """LSA (dim 256) accuracy and macro-F1 on 20 Newsgroups, with fit seconds."""
    import numpy as np

    from doc2vec import build_corpus, read_documents, read_labels
    from embedworks.encode.lsa import LSA
    from embedworks.evaluate import classification

    docs_file, labels_file, _ = build_corpus()
    texts = [" ".join(d) for d in read_documents(docs_file)]
    splits, groups = read_labels(labels_file)
    with common.Timer() as t:
        X = LSA(dim=256, seed=0, workers=1).fit_transform(texts)
    train = np.array([s == "train" for s in splits])
    y = np.array(groups)
    r = classification(X[train], y[train], X[~train], y[~train], seed=0)
    row = {"section": "newsgroups-lsa", "accuracy": r.accuracy, "macro_f1": r.macro_f1,
           "fit_seconds": t.seconds}
    print(json.dumps(row), flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"subset of {','.join(SECTIONS)}")
    parser.add_argument("--scifact-encoders", default="minilm,lsa,doc2vec")
    parser.add_argument("--json", metavar="OUT.jsonl", help="append one JSON line per result")
    args = parser.parse_args(argv)
    only = args.only.split(",")
    rows = []
    if "sts" in only:
        import text_encoder
        text_encoder.main(["--json", args.json] if args.json else [])
    if "scifact" in only:
        rows += scifact(args.scifact_encoders.split(","))
    if "lsa" in only:
        rows.append(newsgroups_lsa())
    if "newsgroups" in only:
        import doc2vec
        doc2vec.main(["--json", args.json] if args.json else [])
    if args.json:
        with open(args.json, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
