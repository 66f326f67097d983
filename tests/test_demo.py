"""The demo runs on the bundled sample and writes vectors that load back."""

from rich.console import Console

from embedworks import load
from embedworks.demo import run, sample_corpus


def test_demo_trains_queries_and_saves(tmp_path):
    console = Console(record=True, width=120)
    written = run(tmp_path / "out", workers=1, console=console)
    text = console.export_text()
    assert "Nearest neighbours" in text and "he : his :: she :" in text
    native, vec = load(written["native"]), load(written["word2vec"])
    assert len(native) > 5000 and native.keys == vec.keys and "count" in native.metadata
    assert sample_corpus().stat().st_size < 2_000_000
