"""`embedworks demo`: the tour on bundled data, with no download.

It learns word vectors from the bundled Wikipedia sample (`data/samples/SOURCE.md`), shows
nearest neighbours and an analogy, saves the vectors in two formats, and ends with a t-SNE map
(PNG) and an interactive projector page (HTML) of the most frequent words. Each capability
that lands extends the tour.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

QUERIES = ("king", "war", "music", "church", "german", "philosophy")
MAP_WORDS = 2000  # words in the demo's map and projector (t-SNE of 2,000 points takes a few seconds)
ANALOGIES = (("france", "french", "germany"), ("he", "his", "she"), ("big", "bigger", "small"),
             ("one", "two", "three"))


def sample_corpus() -> Path:
    """Path of the bundled 800,000-token Wikipedia sample (one paragraph per line, gzip)."""
    return Path(str(resources.files("embedworks.data") / "samples" / "wiki-800k.txt.gz"))


def run(output: Path, workers: int = 2, console: Console | None = None) -> dict:
    """Run the tour, writing into `output`; returns the paths written."""
    from .learn import Word2Vec
    from .space import Embeddings

    console = console or Console()
    output.mkdir(parents=True, exist_ok=True)
    corpus = sample_corpus()
    console.rule("[bold]1. Learn word vectors[/bold] (Word2Vec CBOW on bundled Wikipedia text)")
    started = time.perf_counter()
    model = Word2Vec(sg=False, dim=100, window=5, negative=5, min_count=5, epochs=10,
                     workers=workers, seed=0).fit(corpus)
    seconds = time.perf_counter() - started
    emb = model.embeddings
    console.print(f"{len(emb):,} words × {emb.dim} dims from {corpus.name} in {seconds:.1f} s")

    console.rule("[bold]2. Nearest neighbours[/bold] (cosine)")
    table = Table("word", "nearest neighbours")
    for word, neighbours in zip(QUERIES, emb.most_similar(list(QUERIES), k=6)):
        table.add_row(word, ", ".join(f"{k} ({s:.2f})" for k, s in neighbours))
    console.print(table)

    console.rule("[bold]3. Analogies[/bold] (a is to b as c is to ?)")
    console.print("[dim]800,000 tokens is little text: only frequent patterns hold at this size.[/dim]")
    for a, b, c in ANALOGIES:
        answers = emb.analogy(positive=[b, c], negative=[a], k=3)
        console.print(f"{a} : {b} :: {c} : " + ", ".join(f"[bold]{k}[/bold] ({s:.2f})" for k, s in answers))

    console.rule("[bold]4. Save[/bold]")
    plain = Embeddings(emb.keys, emb.vectors, metric=emb.metric)  # .vec holds no metadata columns
    written = {"native": emb.save(output / "words.emb"), "word2vec": plain.save(output / "words.vec")}
    for name, path in written.items():
        console.print(f"{name:>9}: {path}")
    console.print(f"Try: embedworks similar {written['native']} music -k 5")

    console.rule(f"[bold]5. See them[/bold] (the {MAP_WORDS:,} most frequent words: t-SNE and PCA)")
    written.update(see(emb, output, workers=workers, console=console))
    return written


def see(emb, output: Path, workers: int = 2, console: Console | None = None) -> dict:
    """A t-SNE map (PNG) and the interactive projector (HTML) of the most frequent words."""
    from .visualize import plot, projection, projector, select

    console = console or Console()
    started = time.perf_counter()
    top = select(emb, top_n=MAP_WORDS)  # a trained vocabulary is sorted by frequency
    # 125 + 375 iterations instead of 250 + 500: the same picture at 2,000 points, in 60% of the time
    tsne = projection("tsne", dims=2, seed=0, early_exaggeration_iter=125, n_iter=375).fit(top)
    pca = projection("pca", dims=2, seed=0).fit(top)
    image = plot(top, output / "words-tsne.png", coords=tsne, color_by="count").path
    page = projector(top, output / "projector.html", methods=(), projections={tsne.name: tsne, pca.name: pca},
                     color_by="count", neighbors=10, title=f"Demo word vectors: the {MAP_WORDS:,} most frequent words")
    console.print(f"t-SNE and PCA of {len(top):,} words in {time.perf_counter() - started:.1f} s")
    console.print(f"      map: {image}")
    console.print(f"projector: {page.path}  (open it in a browser: search a word, click a point for its "
                  "neighbours)")
    return {"map": image, "projector": page.path}
