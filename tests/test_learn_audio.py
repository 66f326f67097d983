"""AudioEmbedding: the contrastive loss, supervised and self-supervised training on synthetic
tones, save/load, determinism, and `embedworks train audio`."""

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("safetensors")
soundfile = pytest.importorskip("soundfile")

import torch  # noqa: E402

from embedworks import load  # noqa: E402
from embedworks.cli import app  # noqa: E402
from embedworks.encode import AudioEncoder  # noqa: E402
from embedworks.encode.registry import from_spec  # noqa: E402
from embedworks.errors import FormatError, InvalidInputError  # noqa: E402
from embedworks.evaluate import knn_accuracy  # noqa: E402
from embedworks.learn import AudioEmbedding  # noqa: E402
from embedworks.learn.audio import contrastive_loss  # noqa: E402

runner = CliRunner()
RATE = 8000
#: small and fast: 32 mel bands every 20 ms, two narrow conv blocks
TINY = dict(dim=16, batch_size=16, lr=3e-3, sample_rate=RATE, duration=0.5, n_mels=32, n_fft=256,
            hop_length=160, channels=(8, 16), clips_per_class=4, workers=1, progress=False)


def tones(n, low, high, seed):
    """`n` tones with random pitch in [low, high] Hz, phase, loudness and length, plus a little noise."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        t = np.arange(int(rng.uniform(0.25, 0.6) * RATE)) / RATE
        wave = rng.uniform(0.1, 0.8) * np.sin(2 * np.pi * rng.uniform(low, high) * t + rng.uniform(0, 6.3))
        clips.append((wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32))
    return clips


@pytest.fixture(scope="module")
def data():
    train = tones(24, 200, 450, 1) + tones(24, 1200, 2400, 2)
    test = tones(10, 200, 450, 3) + tones(10, 1200, 2400, 4)
    return train, ["low"] * 24 + ["high"] * 24, test, ["low"] * 10 + ["high"] * 10


@pytest.fixture(scope="module")
def supervised(data):
    train, labels, _, _ = data
    return AudioEmbedding(epochs=6, seed=0, **TINY).fit([(w, RATE) for w in train], labels=labels)


def reference_supcon(z, labels, temperature):
    """The SupCon loss (Khosla et al., eq. 2) by loops."""
    z = z.double().numpy()
    total, anchors = 0.0, 0
    for i in range(len(z)):
        positives = [p for p in range(len(z)) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        others = [a for a in range(len(z)) if a != i]
        denominator = np.log(sum(np.exp(z[i] @ z[a] / temperature) for a in others))
        total += -np.mean([z[i] @ z[p] / temperature - denominator for p in positives])
        anchors += 1
    return total / anchors


def test_contrastive_loss_matches_the_definition():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(9, 5), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 4])  # 2 and 4 have no positive: not anchors
    got = float(contrastive_loss(z, labels, 0.2))
    assert got == pytest.approx(reference_supcon(z, labels.tolist(), 0.2), rel=1e-5)


def test_supervised_training_separates_two_tone_classes(data, supervised):
    _, labels, test, test_labels = data
    history = supervised.loss_history
    assert len(history) == 6 and history[-1] < history[0]
    assert supervised.supervised is True
    emb = supervised.embeddings
    assert emb.keys == list(range(48)) and emb.metadata["label"] == labels and emb.dim == 16
    encoder = supervised.encoder
    assert isinstance(encoder, AudioEncoder) and encoder.dim == 16 and encoder.encoder_spec is None
    held_out = encoder.encode_array([(w, RATE) for w in test])
    X = np.concatenate([emb.vectors, held_out])
    split = (np.arange(48), np.arange(48, 68))
    result = knn_accuracy(X, labels + test_labels, k=(1, 5), split=split)
    assert result.accuracy == {1: 1.0, 5: 1.0}


def test_save_load_round_trip_gives_identical_vectors(data, supervised, tmp_path):
    _, _, test, _ = data
    clips = [(w, RATE) for w in test[:6]]
    before = supervised.encoder.encode_array(clips)
    supervised.save(tmp_path / "model")
    assert {p.name for p in (tmp_path / "model").iterdir()} == {"audio_model.json", "weights.safetensors",
                                                                 "embeddings.emb"}
    loaded = AudioEmbedding.load(tmp_path / "model", device="cpu")
    np.testing.assert_array_equal(loaded.encoder.encode_array(clips), before)
    assert loaded.loss_history == supervised.loss_history and loaded.dim == 16 and loaded.supervised
    np.testing.assert_array_equal(loaded.embeddings.vectors, supervised.embeddings.vectors)
    assert loaded.embeddings.encoder["model"] == str((tmp_path / "model").resolve())
    encoder = AudioEncoder.load(tmp_path / "model", device="cpu")
    np.testing.assert_array_equal(encoder.encode_array(clips), before)
    spec = encoder.encoder_spec
    assert spec["model"] == str((tmp_path / "model").resolve()) and spec["duration"] == 0.5
    np.testing.assert_array_equal(from_spec(spec).encode_array(clips), before)
    assert supervised.embeddings.encoder["model"] == spec["model"]  # saved: now it can be remade
    # a damaged folder is reported, not a crash
    (tmp_path / "model" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="weights.safetensors"):
        AudioEncoder.load(tmp_path / "model")
    with pytest.raises(FormatError, match="audio_model.json"):
        AudioEncoder.load(tmp_path)


def test_self_supervised_training_runs_and_reduces_the_loss(data):
    train, _, _, _ = data
    model = AudioEmbedding(epochs=4, seed=1, **TINY).fit([(w, RATE) for w in train])
    assert model.supervised is False and len(model.loss_history) == 4
    assert model.loss_history[-1] < model.loss_history[0]
    assert model.embeddings.vectors.shape == (48, 16) and "label" not in model.embeddings.metadata


def test_training_is_deterministic_with_a_seed(data):
    train, labels, _, _ = data
    clips, small = [(w, RATE) for w in train[::3]], labels[::3]
    first = AudioEmbedding(epochs=2, seed=5, **TINY).fit(clips, labels=small)
    second = AudioEmbedding(epochs=2, seed=5, **TINY).fit(clips, labels=small)
    assert first.loss_history == second.loss_history
    np.testing.assert_array_equal(first.embeddings.vectors, second.embeddings.vectors)


def test_bad_training_input(tmp_path, data):
    train, _, _, _ = data
    clips = [(w, RATE) for w in train[:4]]
    with pytest.raises(InvalidInputError, match="2 classes"):
        AudioEmbedding(**TINY).fit(clips, labels=["a"] * 4)
    with pytest.raises(InvalidInputError, match="4 clips but 3 labels"):
        AudioEmbedding(**TINY).fit(clips, labels=["a", "b", "a"])
    with pytest.raises(InvalidInputError, match="sub-folders"):
        AudioEmbedding(**TINY).fit(clips, labels="folder")
    for bad in (dict(sample_rate=0), dict(duration=0), dict(dim=0), dict(snr_db=(30, 10))):
        with pytest.raises(InvalidInputError):
            AudioEmbedding(**{**TINY, **bad})
    with pytest.raises(InvalidInputError, match="not fitted"):
        AudioEmbedding(**TINY).save(tmp_path / "m")


def test_cli_train_then_encode(tmp_path, data):
    train, labels, _, _ = data
    root = tmp_path / "clips"
    for i, (wave, label) in enumerate(zip(train[::2], labels[::2])):
        (root / label).mkdir(parents=True, exist_ok=True)
        soundfile.write(root / label / f"{i:02d}.wav", wave, RATE)
    (root / "low" / "broken.wav").write_bytes(b"RIFF....")
    model_dir, vectors = tmp_path / "model", tmp_path / "train.emb"
    args = ["train", "audio", str(root), "-o", str(model_dir), "-e", str(vectors), "--epochs", "2", "--dim", "16",
            "--batch-size", "8", "--sample-rate", str(RATE), "--duration", "0.5", "--n-mels", "32",
            "--hop-length", "160", "--channels", "8,16", "--workers", "1", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "24 clips, supervised" in result.output
    trained = load(vectors)
    assert len(trained) == 24 and set(trained.metadata["label"]) == {"low", "high"}
    target = tmp_path / "enc.emb"
    result = runner.invoke(app, ["encode", "audio", str(root), "-o", str(target), "--model", str(model_dir),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert "24 clips × 16 dims" in result.output and "skipped 1 unreadable file: low/broken.wav" in result.output
    encoded = load(target)
    assert encoded.keys == trained.keys
    np.testing.assert_allclose(encoded.vectors, trained.vectors, rtol=1e-5, atol=1e-6)
    assert encoded.encoder["model"] == str(model_dir.resolve())
    result = runner.invoke(app, ["train", "audio", str(root), "-o", str(tmp_path / "m2"), "--epochs", "1",
                                 "--self-supervised", "--dim", "8", "--sample-rate", str(RATE), "--duration", "0.5",
                                 "--channels", "8", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "self-supervised" in result.output
    flat = tmp_path / "flat"
    flat.mkdir()
    soundfile.write(flat / "a.wav", train[0], RATE)
    result = runner.invoke(app, ["train", "audio", str(flat), "-o", str(tmp_path / "m3")])
    assert result.exit_code == 1 and "--self-supervised" in result.output
