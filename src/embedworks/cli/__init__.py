"""`embedworks …`: the command line. Each command is a thin shell over the Python API.

Bad input ends with exit code 1 and one line on stderr naming what is wrong, never a traceback.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import EmbedworksError

app = typer.Typer(
    name="embedworks",
    help="Turn objects into vectors and put the vectors to work: learn, encode, search, evaluate, plot and serve embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

FORMAT_HELP = "native, word2vec, word2vec-binary, glove, fasttext, tsv or npy (default: from the suffix or content)"


def friendly_errors(command):
    """Turn embedworks and file errors into one red line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (EmbedworksError, OSError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print results and errors."),
         verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what is being done.")):
    """embedworks: learn, encode, search, evaluate, visualize and serve embeddings."""
    level = logging.WARNING if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")




def _load(path: Path, format: Optional[str] = None, limit: Optional[int] = None):
    from .. import load

    return load(path, format=format, limit=limit)


def print_neighbours(title: str, pairs, metric: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("key")
    table.add_column("distance" if metric == "euclidean" else metric, justify="right")
    for rank, (key, score) in enumerate(pairs, 1):
        table.add_row(str(rank), str(key), f"{score:.4f}")
    out.print(table)


@app.command()
@friendly_errors
def info(file: Path = typer.Argument(..., help="Embeddings file or native directory."),
         format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """Show how many keys, the dimension, metric, metadata columns and a few keys."""
    emb = _load(file, format)
    norms = emb.norms()
    table = Table(show_header=False, title=str(file), title_justify="left")
    table.add_row("keys", f"{len(emb):,}")
    table.add_row("dim", str(emb.dim))
    table.add_row("metric", emb.metric)
    table.add_row("metadata", ", ".join(emb.metadata) or "none")
    if len(emb):
        table.add_row("vector norm", f"mean {norms.mean():.4g}, min {norms.min():.4g}, max {norms.max():.4g}")
        table.add_row("first keys", ", ".join(map(str, emb.keys[:8])))
    out.print(table)


@app.command()
@friendly_errors
def convert(source: Path = typer.Argument(..., help="File to read."),
            target: Path = typer.Argument(..., help="File to write (format from its suffix unless --to)."),
            to: Optional[str] = typer.Option(None, "--to", help=FORMAT_HELP),
            from_: Optional[str] = typer.Option(None, "--from", help=FORMAT_HELP),
            limit: Optional[int] = typer.Option(None, "--limit", help="Convert only the first N rows.")):
    """Convert embeddings between formats (e.g. word2vec binary → native, native → TensorBoard TSV)."""
    emb = _load(source, from_, limit)
    written = emb.save(target, format=to)
    out.print(f"wrote {len(emb):,} × {emb.dim} to {written}")


@app.command()
@friendly_errors
def similar(file: Path = typer.Argument(..., help="Embeddings file."),
            query: str = typer.Argument(..., help="A key of the set, or an image/audio file to encode with the "
                                                  "set's encoder (sets made by `embedworks encode`)."),
            k: int = typer.Option(10, "-k", "--top", help="How many neighbours."),
            text: bool = typer.Option(False, "--text", help="QUERY is a text to encode with the set's text encoder."),
            metric: Optional[str] = typer.Option(None, "--metric", "-m", help="cosine, dot or euclidean (default: the file's)."),
            format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """List the k nearest neighbours of a key, or of a file or text encoded the way the set was."""
    from ..space import stored_key

    emb = _load(file, format)
    metric = metric or emb.metric
    key = stored_key(query, emb)
    if text or (key not in emb and Path(query).is_file()):
        print_neighbours(f"nearest to {query!r}", emb.most_similar(_encoded_query(emb, query, text), k=k,
                                                                   metric=metric), metric)
        return
    print_neighbours(f"nearest to {query!r}", emb.most_similar(key, k=k, metric=metric), metric)


def _encoded_query(emb, query: str, is_text: bool):
    """The vector of a text or file query, made by the encoder recorded with `emb`."""
    from ..encode.registry import from_spec
    from ..errors import InvalidInputError

    kinds = ("text", "lsa") if is_text else ("image", "audio")
    if emb.encoder is None or emb.encoder.get("kind") not in kinds:
        made_by = f"a {emb.encoder['kind']} encoder" if emb.encoder else "no recorded encoder"
        what = "a text query" if is_text else f"{query}: not a key of the set, and a file query"
        raise InvalidInputError(f"{what} needs a set made by a {' or '.join(kinds)} encoder "
                                f"(this one has {made_by})")
    vectors = from_spec(emb.encoder).encode_array([query])
    if not len(vectors):
        raise InvalidInputError(f"{query}: could not be read as {emb.encoder['kind']}")
    return vectors[0]


@app.command()
@friendly_errors
def analogy(file: Path = typer.Argument(..., help="Embeddings file."),
            a: str = typer.Argument(..., help="A, as in: A is to B as C is to ?"),
            b: str = typer.Argument(..., help="B"),
            c: str = typer.Argument(..., help="C"),
            k: int = typer.Option(5, "-k", "--top", help="How many answers."),
            method: str = typer.Option("3cosadd", "--method", help="3cosadd or 3cosmul."),
            format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """Answer "A is to B as C is to ?" (B − A + C)."""
    from ..space import stored_key

    emb = _load(file, format)
    keys = [stored_key(x, emb) for x in (a, b, c)]
    answers = emb.analogy(positive=[keys[1], keys[2]], negative=[keys[0]], k=k, method=method)
    print_neighbours(f"{a} : {b} :: {c} : ?", answers, "cosine" if method == "3cosadd" else method)


train_app = typer.Typer(help="Learn embeddings from your data.", no_args_is_help=True)
eval_app = typer.Typer(help="Score embeddings against public benchmarks.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")

OUT_HELP = "Where to write the embeddings (format from the suffix: .emb native, .bin, .vec, .txt, .tsv)."
MODEL_HELP = "Also save the full model here (a directory), to continue training later."
CORPUS_HELP = "Text file(s), plain or .gz: one sentence per line, or one huge line like text8."


def _fit_and_save(model, corpus: list[Path], output: Path, model_dir: Optional[Path]) -> None:
    """Train `model` on the corpus files, write its embeddings (and the model), report where."""
    import time

    started = time.perf_counter()
    model.fit([str(p) for p in corpus] if len(corpus) > 1 else str(corpus[0]))
    seconds = time.perf_counter() - started
    emb = model.embeddings
    written = emb.save(output)
    out.print(f"{len(emb):,} vectors × {emb.dim} in {seconds:.1f} s → {written}")
    if model_dir is not None:
        model.save(model_dir)
        out.print(f"model → {model_dir}")


@train_app.command("word2vec")
@friendly_errors
def train_word2vec(
        corpus: list[Path] = typer.Argument(..., help=CORPUS_HELP),
        output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
        model_dir: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
        sg: bool = typer.Option(True, "--sg/--cbow", help="Skip-gram or CBOW."),
        dim: int = typer.Option(100, help="Vector size."),
        window: int = typer.Option(5, help="Maximum context distance."),
        negative: int = typer.Option(5, help="Noise words per example (0: none)."),
        hs: bool = typer.Option(False, "--hs", help="Hierarchical softmax."),
        sample: float = typer.Option(1e-3, help="Frequent-word subsampling threshold (0: off)."),
        min_count: int = typer.Option(5, help="Drop words seen fewer times."),
        epochs: int = typer.Option(5, help="Passes over the corpus."),
        workers: int = typer.Option(2, help="Training threads."),
        seed: int = typer.Option(0, help="Random seed."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Train Word2Vec (skip-gram or CBOW) on CORPUS."""
    from ..learn import Word2Vec

    model = Word2Vec(sg=sg, dim=dim, window=window, negative=negative, hs=hs, sample=sample,
                     min_count=min_count, epochs=epochs, workers=workers, seed=seed,
                     progress=False if quiet else None)
    _fit_and_save(model, corpus, output, model_dir)


@train_app.command("fasttext")
@friendly_errors
def train_fasttext(
        corpus: list[Path] = typer.Argument(..., help=CORPUS_HELP),
        output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
        model_dir: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP + " Needed for out-of-vocabulary words."),
        sg: bool = typer.Option(False, "--sg/--cbow", help="Skip-gram or CBOW (fastText's default)."),
        dim: int = typer.Option(100, help="Vector size."),
        window: int = typer.Option(5, help="Maximum context distance."),
        negative: int = typer.Option(5, help="Noise words per example."),
        sample: float = typer.Option(1e-3, help="Frequent-word subsampling threshold (0: off)."),
        min_count: int = typer.Option(5, help="Drop words seen fewer times."),
        min_n: int = typer.Option(3, help="Shortest character n-gram."),
        max_n: int = typer.Option(6, help="Longest character n-gram."),
        bucket: int = typer.Option(2_000_000, help="Hash buckets for n-grams."),
        epochs: int = typer.Option(5, help="Passes over the corpus."),
        workers: int = typer.Option(2, help="Training threads."),
        seed: int = typer.Option(0, help="Random seed."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Train FastText (subword-aware word vectors) on CORPUS."""
    from ..learn import FastText

    model = FastText(sg=sg, dim=dim, window=window, negative=negative, sample=sample, min_count=min_count,
                     min_n=min_n, max_n=max_n, bucket=bucket, epochs=epochs, workers=workers, seed=seed,
                     progress=False if quiet else None)
    _fit_and_save(model, corpus, output, model_dir)


@train_app.command("glove")
@friendly_errors
def train_glove(
        corpus: list[Path] = typer.Argument(..., help=CORPUS_HELP),
        output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
        model_dir: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
        dim: int = typer.Option(100, help="Vector size."),
        window: int = typer.Option(10, help="Co-occurrence window."),
        min_count: int = typer.Option(5, help="Drop words seen fewer times."),
        x_max: float = typer.Option(100.0, help="Weighting cut-off."),
        alpha: float = typer.Option(0.75, help="Weighting exponent."),
        learning_rate: float = typer.Option(0.05, help="AdaGrad initial learning rate."),
        epochs: int = typer.Option(25, help="Passes over the co-occurrence matrix."),
        workers: int = typer.Option(2, help="Training threads."),
        seed: int = typer.Option(0, help="Random seed."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Train GloVe on CORPUS."""
    from ..learn import GloVe

    model = GloVe(dim=dim, window=window, min_count=min_count, x_max=x_max, alpha=alpha,
                  learning_rate=learning_rate, epochs=epochs, workers=workers, seed=seed,
                  progress=False if quiet else None)
    _fit_and_save(model, corpus, output, model_dir)


RATINGS_HELP = "Interactions file: user, item, value[, timestamp] (CSV/TSV, any separator, .gz; MovieLens u.data and ratings.dat work as they are)."


def _read_interactions(path: Path, sep: Optional[str], min_value: Optional[float] = None):
    from ..data import Interactions

    interactions = Interactions.from_csv(path, sep=sep)
    return interactions if min_value is None else interactions.filter(min_value=min_value)


def _fit_recommender(model, ratings: Path, output: Path, sep: Optional[str], min_value: Optional[float] = None):
    """Fit a recommender on a ratings file, save it as a directory, report the sizes."""
    import time

    interactions = _read_interactions(ratings, sep, min_value)
    started = time.perf_counter()
    model.fit(interactions)
    seconds = time.perf_counter() - started
    model.save(output)
    out.print(f"{interactions.n_users:,} users × {interactions.n_items:,} items, {interactions.nnz:,} "
              f"interactions, fitted in {seconds:.2f} s → {output}")


@train_app.command("mf")
@friendly_errors
def train_mf(ratings: Path = typer.Argument(..., help=RATINGS_HELP),
             output: Path = typer.Option(..., "--output", "-o", help="Model directory to write."),
             factors: int = typer.Option(100, help="Latent factors."),
             epochs: int = typer.Option(25, help="SGD passes."),
             learning_rate: float = typer.Option(0.03, help="Initial SGD step (decays each epoch)."),
             regularization: float = typer.Option(0.1, help="L2 penalty on factors."),
             implicit_term: bool = typer.Option(False, "--svdpp", help="Add SVD++'s implicit-feedback term."),
             seed: int = typer.Option(0, help="Random seed."),
             sep: Optional[str] = typer.Option(None, help="Field separator (default: sniffed).")):
    """Explicit-rating matrix factorisation: rating ≈ mean + user bias + item bias + user · item."""
    from ..learn import MatrixFactorization

    model = MatrixFactorization(factors=factors, epochs=epochs, learning_rate=learning_rate,
                                regularization=regularization, implicit_term=implicit_term, seed=seed)
    _fit_recommender(model, ratings, output, sep)


MIN_VALUE_HELP = "Keep only interactions with value ≥ this (e.g. 4 to use ratings ≥ 4 as positives)."


@train_app.command("als")
@friendly_errors
def train_als(ratings: Path = typer.Argument(..., help=RATINGS_HELP),
              output: Path = typer.Option(..., "--output", "-o", help="Model directory to write."),
              factors: int = typer.Option(64, help="Latent factors."),
              regularization: float = typer.Option(0.05, help="L2 penalty."),
              alpha: float = typer.Option(1.0, help="Confidence weight: c = 1 + alpha · value."),
              iterations: int = typer.Option(15, help="Alternating passes."),
              solver: str = typer.Option("cg", help="cg (conjugate gradient) or cholesky."),
              min_value: Optional[float] = typer.Option(None, help=MIN_VALUE_HELP),
              workers: int = typer.Option(2, help="Threads."),
              seed: int = typer.Option(0, help="Random seed."),
              sep: Optional[str] = typer.Option(None, help="Field separator (default: sniffed).")):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008): clicks, plays, purchases."""
    from ..learn import ALS

    model = ALS(factors=factors, regularization=regularization, alpha=alpha, iterations=iterations,
                solver=solver, workers=workers, seed=seed)
    _fit_recommender(model, ratings, output, sep, min_value)


@train_app.command("bpr")
@friendly_errors
def train_bpr(ratings: Path = typer.Argument(..., help=RATINGS_HELP),
              output: Path = typer.Option(..., "--output", "-o", help="Model directory to write."),
              factors: int = typer.Option(64, help="Latent factors."),
              learning_rate: float = typer.Option(0.01, help="SGD step."),
              regularization: float = typer.Option(0.01, help="L2 penalty."),
              iterations: int = typer.Option(100, help="Passes over the positives."),
              min_value: Optional[float] = typer.Option(None, help=MIN_VALUE_HELP),
              workers: int = typer.Option(2, help="Threads."),
              seed: int = typer.Option(0, help="Random seed."),
              sep: Optional[str] = typer.Option(None, help="Field separator (default: sniffed).")):
    """Bayesian personalised ranking with sampled negatives."""
    from ..learn import BPR

    model = BPR(factors=factors, learning_rate=learning_rate, regularization=regularization,
                iterations=iterations, workers=workers, seed=seed)
    _fit_recommender(model, ratings, output, sep, min_value)


def _load_recommender(path: Path):
    from ..learn.recommend import Recommender

    return Recommender.load(path)


@app.command()
@friendly_errors
def recommend(model_dir: Path = typer.Argument(..., help="Model directory from `embedworks train mf|als|bpr`."),
              user: str = typer.Argument(..., help="User id."),
              n: int = typer.Option(10, "-n", help="How many items."),
              include_seen: bool = typer.Option(False, "--include-seen", help="Also recommend items the user already has.")):
    """Top-N items for USER (score = user · item)."""
    from ..space import stored_key

    model = _load_recommender(model_dir)
    user_key = stored_key(user, set(model.user_ids))
    pairs = model.recommend(user_key, n=n, filter_seen=not include_seen)
    print_neighbours(f"top {n} for user {user}", pairs, "score")


@eval_app.command("recommend")
@friendly_errors
def eval_recommend(model_dir: Path = typer.Argument(..., help="Model directory."),
                   test: Path = typer.Argument(..., help="Held-out interactions, same layout as the training file."),
                   k: int = typer.Option(10, "-k", help="Cut-off for the ranking metrics."),
                   min_value: Optional[float] = typer.Option(None, help="Only test interactions with value ≥ this count as relevant."),
                   sep: Optional[str] = typer.Option(None, help="Field separator (default: sniffed)."),
                   as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Ranking metrics @k (training items excluded), and RMSE/MAE for rating models."""
    from ..data import Interactions
    from ..evaluate import ranking_metrics, rating_metrics

    model = _load_recommender(model_dir)
    held_out = Interactions.from_csv(test, sep=sep, user_ids=model.user_ids, item_ids=model.item_ids, extend=True)
    train = Interactions.from_sparse(model.train_csr, users=model.user_ids, items=model.item_ids)
    result = {}
    if hasattr(model, "predict"):
        result.update(rating_metrics(model, held_out))
    relevant = held_out if min_value is None else held_out.filter(min_value=min_value)
    result.update(ranking_metrics(model, train, relevant, k=k).to_dict())
    _print_mapping(result, as_json)


GRAPH_HELP = "Edge list (source target [weight] per line; CSV/TSV/space, .gz) or a .mat adjacency matrix."


def _read_graph(path: Path, directed: bool, weighted: Optional[bool]):
    from ..data import Graph

    if path.suffix == ".mat":
        return Graph.from_mat(path, directed=directed or None, weighted=weighted)
    return Graph.from_edgelist(path, weighted=weighted, directed=directed)


def _walk_trainer(kind: str, dim, walk_length, num_walks, window, p, q, epochs, workers, seed, quiet):
    from ..learn import DeepWalk, Node2Vec

    common = dict(dim=dim, walk_length=walk_length, num_walks=num_walks, window=window, epochs=epochs,
                  workers=workers, seed=seed, progress=False if quiet else None)
    return Node2Vec(p=p, q=q, **common) if kind == "node2vec" else DeepWalk(**common)


def _train_on_graph(kind: str, edges: Path, output: Path, model_dir: Optional[Path], directed: bool,
                    weighted: Optional[bool], **params) -> None:
    import time

    graph = _read_graph(edges, directed, weighted)
    model = _walk_trainer(kind, **params)
    started = time.perf_counter()
    model.fit(graph)
    emb = model.embeddings
    written = emb.save(output)
    out.print(f"{graph.n_nodes:,} nodes, {graph.n_edges:,} edges → {len(emb):,} vectors × {emb.dim} "
              f"in {time.perf_counter() - started:.1f} s → {written}")
    if model_dir is not None:
        model.save(model_dir)


# Options shared by the walk-based commands (train node2vec / deepwalk, eval links).
WalkLength = Annotated[int, typer.Option(help="Nodes per walk.")]
NumWalks = Annotated[int, typer.Option(help="Walks started from every node.")]
GraphDim = Annotated[int, typer.Option("--dim", help="Vector size.")]
GraphWindow = Annotated[int, typer.Option("--window", help="Skip-gram window.")]
GraphEpochs = Annotated[int, typer.Option("--epochs", help="Passes over the walks.")]
Directed = Annotated[bool, typer.Option("--directed", help="Edges go one way.")]
Weighted = Annotated[Optional[bool], typer.Option("--weighted/--unweighted",
                                                  help="Third column is a weight (default: detected).")]
Workers = Annotated[int, typer.Option("--workers", help="Threads.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
ReturnP = Annotated[float, typer.Option("--p", help="Return parameter (low: walks stay local).")]
InOutQ = Annotated[float, typer.Option("--q", help="In-out parameter (low: walks explore outward).")]


@train_app.command("node2vec")
@friendly_errors
def train_node2vec(edges: Path = typer.Argument(..., help=GRAPH_HELP),
                   output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
                   model_dir: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
                   p: ReturnP = 1.0, q: InOutQ = 1.0, dim: GraphDim = 128, walk_length: WalkLength = 80,
                   num_walks: NumWalks = 10, window: GraphWindow = 10, epochs: GraphEpochs = 1,
                   directed: Directed = False, weighted: Weighted = None, workers: Workers = 2, seed: Seed = 0,
                   quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Train node2vec (biased second-order random walks + skip-gram) on a graph."""
    _train_on_graph("node2vec", edges, output, model_dir, directed, weighted, dim=dim, walk_length=walk_length,
                    num_walks=num_walks, window=window, p=p, q=q, epochs=epochs, workers=workers, seed=seed,
                    quiet=quiet)


@train_app.command("deepwalk")
@friendly_errors
def train_deepwalk(edges: Path = typer.Argument(..., help=GRAPH_HELP),
                   output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
                   model_dir: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
                   dim: GraphDim = 128, walk_length: WalkLength = 80, num_walks: NumWalks = 10,
                   window: GraphWindow = 10, epochs: GraphEpochs = 1, directed: Directed = False,
                   weighted: Weighted = None, workers: Workers = 2, seed: Seed = 0,
                   quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Train DeepWalk (uniform random walks + skip-gram) on a graph."""
    _train_on_graph("deepwalk", edges, output, model_dir, directed, weighted, dim=dim, walk_length=walk_length,
                    num_walks=num_walks, window=window, p=1.0, q=1.0, epochs=epochs, workers=workers, seed=seed,
                    quiet=quiet)


@eval_app.command("nodes")
@friendly_errors
def eval_nodes(emb_file: Path = typer.Argument(..., help="Node embeddings."),
               labels: Path = typer.Argument(..., help="Labels: 'node label…' lines, Cora's .content, or a .mat with a 'group' matrix."),
               train_ratio: float = typer.Option(0.5, help="Share of labelled nodes used for training."),
               repeats: int = typer.Option(5, help="Seeded splits to average over."),
               seed: Seed = 0,
               as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Node classification: Macro-F1 and Micro-F1 of one-vs-rest logistic regression."""
    from ..evaluate import node_classification

    result = node_classification(_load(emb_file), labels, train_ratio=train_ratio, repeats=repeats, seed=seed)
    _print_mapping(result.to_dict(), as_json)


@eval_app.command("links")
@friendly_errors
def eval_links(edges: Path = typer.Argument(..., help=GRAPH_HELP),
               fraction: float = typer.Option(0.5, help="Share of edges held out as positives."),
               p: ReturnP = 1.0, q: InOutQ = 1.0, dim: GraphDim = 128, walk_length: WalkLength = 80,
               num_walks: NumWalks = 10, window: GraphWindow = 10, epochs: GraphEpochs = 1,
               directed: Directed = False, weighted: Weighted = None, workers: Workers = 2, seed: Seed = 0,
               as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Link prediction: hold out edges, train node2vec on the rest, ROC-AUC per edge operator."""
    from ..evaluate import link_prediction

    graph = _read_graph(edges, directed, weighted)
    model = _walk_trainer("node2vec", dim, walk_length, num_walks, window, p, q, epochs, workers, seed, True)
    result = link_prediction(graph, lambda residual: model.fit(residual).embeddings, fraction=fraction, seed=seed)
    _print_mapping(result.to_dict(), as_json)


def _print_mapping(values: dict, as_json: bool) -> None:
    import json

    if as_json:
        out.print(json.dumps(values), highlight=False, soft_wrap=True)
        return
    table = Table("metric", "value")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)


def _print_result(result, as_json: bool) -> None:
    import json

    if as_json:
        out.print(json.dumps(result.to_dict()), highlight=False, soft_wrap=True)
        return
    sections = getattr(result, "sections", None)
    if sections:
        table = Table("section", "correct", "total", "accuracy")
        for name, score in sections.items():
            table.add_row(name, str(score.correct), str(score.total), f"{100 * score.accuracy:.2f}%")
        out.print(table)
    out.print(str(result), highlight=False)


@eval_app.command("analogy")
@friendly_errors
def eval_analogy(emb_file: Path = typer.Argument(..., help="Embeddings file."),
                 questions: Path = typer.Argument(..., help="Analogy file in the Google questions-words format."),
                 restrict_vocab: int = typer.Option(30000, help="Only the first N keys (most frequent) take part."),
                 method: str = typer.Option("3cosadd", help="3cosadd or 3cosmul."),
                 as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Analogy accuracy, overall and per section, with out-of-vocabulary questions counted."""
    from ..evaluate import analogy as score_analogy

    _print_result(score_analogy(_load(emb_file), questions, restrict_vocab=restrict_vocab, method=method), as_json)


@eval_app.command("similarity")
@friendly_errors
def eval_similarity(emb_file: Path = typer.Argument(..., help="Embeddings file."),
                    pairs: Path = typer.Argument(..., help="Word-pair file: WordSim-353, SimLex-999, MEN …"),
                    as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Spearman and Pearson correlation of cosine similarity with human scores."""
    from ..evaluate import word_similarity

    _print_result(word_similarity(_load(emb_file), pairs), as_json)


# ---------------------------------------------------------------------------------- visualize
VIZ_TOP_N_HELP = "Only the first N keys (for a trained vocabulary, the N most frequent words)."
VIZ_WHERE_HELP = "Keep keys whose metadata COLUMN=VALUE (repeat for more; the same column twice: either value)."


def _viz_where(conditions: Optional[list[str]]):
    """--where COLUMN=VALUE options as a `select` filter: {column: [values]}."""
    from ..errors import InvalidInputError

    where: dict[str, list[str]] = {}
    for condition in conditions or []:
        column, sep, value = condition.partition("=")
        if not sep or not column.strip():
            raise InvalidInputError(f"--where wants COLUMN=VALUE, got {condition!r}")
        where.setdefault(column.strip(), []).append(value.strip())
    return where or None


def _viz_labels(emb, labels: Optional[list[str]]):
    """--labels: auto (default), none, a count, or keys (comma-separated or repeated)."""
    from ..space import stored_key

    items = [part.strip() for item in labels or [] for part in item.split(",") if part.strip()]
    if not items:
        return "auto"
    if len(items) == 1 and items[0].lower() in ("auto", "none"):
        return items[0].lower()
    if len(items) == 1 and items[0].isdigit() and items[0] not in emb:
        return int(items[0])
    return [stored_key(item, emb) for item in items]


def _viz_params(method: str, perplexity: Optional[float], n_neighbors: Optional[int], workers: Optional[int]) -> dict:
    params = {}
    if method == "tsne":
        params.update({"perplexity": perplexity} if perplexity is not None else {}, workers=workers)
    elif method == "umap":
        params.update({"n_neighbors": n_neighbors} if n_neighbors is not None else {}, workers=workers)
    return params


@app.command("plot")
@friendly_errors
def plot_command(
        file: Path = typer.Argument(..., help="Embeddings file."),
        output: Path = typer.Option(..., "--output", "-o", help="Image to write: .png, .svg or .pdf."),
        method: str = typer.Option("tsne", "--method", help="tsne, umap or pca."),
        dims: int = typer.Option(2, "--dims", help="2 or 3."),
        color_by: Optional[str] = typer.Option(None, "--color-by", help="Metadata column to colour by."),
        labels: Optional[list[str]] = typer.Option(None, "--labels", help="Keys to label (comma-separated or "
                                                   "repeated), or auto (a spread-out sample), none, or a count."),
        top_n: Optional[int] = typer.Option(None, "--top-n", help=VIZ_TOP_N_HELP),
        where: Optional[list[str]] = typer.Option(None, "--where", help=VIZ_WHERE_HELP),
        perplexity: Optional[float] = typer.Option(None, "--perplexity", help="t-SNE perplexity (default 30)."),
        n_neighbors: Optional[int] = typer.Option(None, "--n-neighbors", help="UMAP neighbours (default 15)."),
        title: Optional[str] = typer.Option(None, "--title", help="First title line (the settings line stays)."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        workers: Optional[int] = typer.Option(None, "--workers", help="t-SNE threads (default: all cores)."),
        format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """Draw a 2-D or 3-D map of the embeddings (t-SNE, UMAP or PCA) to a PNG, SVG or PDF."""
    import time

    from ..visualize import plot as draw_plot
    from ..visualize.project import check_method

    emb = _load(file, format)
    method = check_method(method)
    started = time.perf_counter()
    result = draw_plot(emb, output, method=method, dims=dims, seed=seed, color_by=color_by,
                       labels=_viz_labels(emb, labels), top_n=top_n, where=_viz_where(where), title=title,
                       **_viz_params(method, perplexity, n_neighbors, workers))
    skipped = f", {len(result.skipped)} left out to avoid overlaps" if result.skipped else ""
    out.print(f"{len(result.keys):,} points, {len(result.labelled)} labels{skipped}, "
              f"in {time.perf_counter() - started:.1f} s → {result.path}", highlight=False)


@app.command("projector")
@friendly_errors
def projector_command(
        file: Path = typer.Argument(..., help="Embeddings file."),
        output: Path = typer.Option(..., "--output", "-o", help="HTML page to write."),
        methods: str = typer.Option("pca,tsne", "--methods", help="Comma-separated: pca, tsne, umap."),
        dims: str = typer.Option("2", "--dims", help="2, 3, or 2,3 for both."),
        neighbors: int = typer.Option(10, "--neighbors", help="Nearest neighbours stored per point (0: none)."),
        top_n: Optional[int] = typer.Option(None, "--top-n", help=VIZ_TOP_N_HELP),
        where: Optional[list[str]] = typer.Option(None, "--where", help=VIZ_WHERE_HELP),
        color_by: Optional[str] = typer.Option(None, "--color-by", help="Metadata column coloured at first."),
        perplexity: Optional[float] = typer.Option(None, "--perplexity", help="t-SNE perplexity (default 30)."),
        n_neighbors: Optional[int] = typer.Option(None, "--n-neighbors", help="UMAP neighbours (default 15)."),
        title: Optional[str] = typer.Option(None, "--title", help="Page title."),
        tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", help="Also write the TensorBoard "
                                                   "projector TSV pair (vectors.tsv, metadata.tsv) into this folder."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        workers: Optional[int] = typer.Option(None, "--workers", help="t-SNE threads (default: all cores)."),
        format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """Write an interactive projector: one self-contained HTML page (WebGL, no server, no network)."""
    import time

    from ..visualize import projector
    from ..visualize.projector import _parse_methods

    emb = _load(file, format)
    method_list = _parse_methods(methods)
    params = {m: p for m in method_list if (p := _viz_params(m, perplexity, n_neighbors, workers))}
    started = time.perf_counter()
    page = projector(emb, output, methods=method_list, dims=dims, seed=seed, neighbors=neighbors, top_n=top_n,
                     where=_viz_where(where), color_by=color_by, title=title, method_params=params,
                     tensorboard=tensorboard)
    out.print(f"{len(page.keys):,} points, {', '.join(page.projections)}, {neighbors} neighbours each, "
              f"{page.size_bytes / 1e6:.1f} MB, in {time.perf_counter() - started:.1f} s → {page.path}", highlight=False)
    if tensorboard is not None:
        out.print(f"TensorBoard projector files → {tensorboard}", highlight=False)
    out.print("Open it in a browser (it works from disk, offline).", highlight=False)


@app.command()
@friendly_errors
def demo(output: Path = typer.Option(Path("demo-output"), "--output", "-o", help="Folder for what the demo writes."),
         workers: int = typer.Option(2, "--workers", help="Training threads.")):
    """Run the tour on bundled data: learn word vectors, query them, save them."""
    from ..demo import run

    run(output, workers=workers, console=out)


index_app = typer.Typer(help="Build search indexes over your data.", no_args_is_help=True)
app.add_typer(index_app, name="index")

TEXT_CORPUS_HELP = ("BEIR-style JSON lines (.jsonl/.jsonl.gz: _id, title, text), or any other text file "
                    "(plain or .gz) with one document per line, its id the line number.")


@index_app.command("text")
@friendly_errors
def index_text(corpus: Path = typer.Argument(..., help=TEXT_CORPUS_HELP),
               output: Path = typer.Option(..., "--output", "-o", help="Index directory to write."),
               model: str = typer.Option("minilm", "--model", "-m",
                                         help="minilm, lsa (fitted on the corpus), or a path: a text encoder "
                                              "model or a saved LSA model."),
               batch_size: int = typer.Option(64, "--batch-size", help="Texts encoded at once."),
               dim: int = typer.Option(256, "--dim", help="Dimensions of the LSA model (--model lsa)."),
               seed: Seed = 0):
    """Encode every document of CORPUS and save a semantic search index (query it with `embedworks search`)."""
    import time

    from ..search import TextIndex

    started = time.perf_counter()
    index = TextIndex.build(corpus, encoder=model, batch_size=batch_size, dim=dim, seed=seed)
    index.save(output)
    skipped = f" ({index.skipped:,} empty skipped)" if index.skipped else ""
    out.print(f"{len(index):,} documents{skipped} × {index.dim} dims in {time.perf_counter() - started:.1f} s "
              f"→ {output}", highlight=False)


@app.command("search")
@friendly_errors
def search(index_dir: Path = typer.Argument(..., help="Index directory from `embedworks index text`."),
           query: str = typer.Argument(..., help="What to look for."),
           k: int = typer.Option(10, "-k", "--top", help="How many documents."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON list.")):
    """The K documents of a text index most similar to QUERY (cosine), best first."""
    import json

    from rich.text import Text

    from ..search import TextIndex

    index = TextIndex.load(index_dir)
    hits = index.search(query, k=k)
    rows = []
    for rank, (doc_id, score) in enumerate(hits, 1):
        document = index.document(doc_id)
        rows.append({"rank": rank, "id": doc_id, "score": score, "title": document["title"],
                     "snippet": " ".join((document["title"] or document["text"]).split())[:80].rstrip()})
    if as_json:
        out.print(json.dumps(rows, ensure_ascii=False), highlight=False, soft_wrap=True, markup=False)
        return
    if not rows:
        out.print("no results (the query has no word the index knows)", highlight=False)
        return
    table = Table(title=Text(f"top {len(rows)} for {query!r}"), title_justify="left", highlight=False)
    table.add_column("#", justify="right")
    table.add_column("id")
    table.add_column("score", justify="right")
    table.add_column("title / text")
    for row in rows:
        table.add_row(str(row["rank"]), Text(str(row["id"])), f"{row['score']:.4f}", Text(row["snippet"]))
    out.print(table)


# Command groups that live in their own modules register themselves on import.
from . import media  # noqa: E402,F401
from . import serve  # noqa: E402,F401
from . import collection  # noqa: E402,F401
from . import tabular  # noqa: E402,F401
