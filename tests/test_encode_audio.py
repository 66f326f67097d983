"""Audio reading, the log-mel / MFCC front end (against librosa), AudioEncoder inputs and errors,
wav2vec 2.0 / HuBERT folders (tiny random models saved here), and `embedworks encode audio`."""

import logging

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
soundfile = pytest.importorskip("soundfile")

import torch  # noqa: E402

from embedworks import load  # noqa: E402
from embedworks.cli import app  # noqa: E402
from embedworks.encode import AudioEncoder  # noqa: E402
from embedworks.encode._audio_features import MelSettings, deltas, log_mel, mel_filterbank, pooled_mfcc  # noqa: E402
from embedworks.encode.audio import load_audio, resample  # noqa: E402
from embedworks.encode.registry import from_spec  # noqa: E402
from embedworks.errors import FormatError, InvalidInputError  # noqa: E402

runner = CliRunner()


def tone(freq, seconds, rate, amplitude=0.5, phase=0.0):
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def chirp_with_noise(rate=16000, seconds=0.6, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * (300 + 1500 * t) * t) + 0.05 * rng.standard_normal(len(t))
    return wave.astype(np.float32)


def peak_hz(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()]


@pytest.fixture
def folder(tmp_path):
    """Two labelled sub-folders of tones (wav, flac, ogg), a loose clip, and three bad files."""
    root = tmp_path / "clips"
    (root / "low").mkdir(parents=True)
    (root / "high").mkdir()
    soundfile.write(root / "low" / "a.wav", tone(220, 0.5, 16000), 16000)
    soundfile.write(root / "low" / "b.flac", tone(260, 0.4, 8000), 8000)
    soundfile.write(root / "high" / "c.ogg", tone(1800, 0.5, 44100), 44100)
    soundfile.write(root / "high" / "d.wav", np.stack([tone(2000, 0.3, 22050)] * 2, axis=1), 22050)
    soundfile.write(root / "loose.wav", tone(500, 0.3, 16000), 16000)
    good = (root / "low" / "a.wav").read_bytes()
    (root / "high" / "truncated.wav").write_bytes(good[:30])
    (root / "high" / "empty.wav").write_bytes(b"")
    (root / "low" / "text.wav").write_text("not audio at all")
    (root / "low" / "notes.txt").write_text("ignored: not an audio suffix")
    return root


# ----------------------------------------------------------------------------- front end
def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    for rate, n_fft, n_mels, fmin, fmax in [(16000, 400, 64, 0.0, None), (22050, 2048, 128, 0.0, None),
                                            (8000, 256, 40, 20.0, 3800.0), (44100, 1024, 80, 50.0, 12000.0)]:
        ours = mel_filterbank(rate, n_fft, n_mels, fmin, fmax)
        reference = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)


def test_log_mel_and_mfcc_match_librosa():
    librosa = pytest.importorskip("librosa")
    wave = chirp_with_noise()
    settings = MelSettings(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40)
    ours = log_mel(torch.from_numpy(wave)[None], settings)[0].numpy()
    power = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=400, hop_length=160, n_mels=40)
    reference = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0)
    assert ours.shape == reference.shape == (40, settings.frames(len(wave)))
    np.testing.assert_allclose(ours, reference, atol=2e-3)
    # the pooled MFCC vector the encoder gives, against librosa's MFCCs and deltas
    mfcc = librosa.feature.mfcc(y=wave, sr=16000, n_mfcc=13, n_fft=400, hop_length=160, n_mels=40)
    parts = [mfcc, librosa.feature.delta(mfcc), librosa.feature.delta(mfcc, order=2)]
    expected = np.concatenate([np.concatenate([p.mean(axis=1), p.std(axis=1)]) for p in parts])
    encoder = AudioEncoder.mfcc(sample_rate=16000, n_mfcc=13, n_mels=40, n_fft=400, hop_length=160)
    got = encoder.encode_array([(wave, 16000)])[0]
    assert encoder.dim == 78 and got.shape == (78,)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=2e-3)


def test_deltas_of_short_clips_and_pooling_layout():
    t = np.arange(6, dtype=np.float64)
    np.testing.assert_allclose(deltas(np.stack([t, t])[:, :2]), 0.0)  # under three frames: no derivative
    # width narrowed to 5 for six frames; a line's slope and a parabola's curvature come out exactly
    np.testing.assert_allclose(deltas(np.stack([3 * t + 1, -t]), 1), [[3.0] * 6, [-1.0] * 6], atol=1e-9)
    np.testing.assert_allclose(deltas(np.stack([t ** 2, 0.5 * t ** 2]), 2), [[2.0] * 6, [1.0] * 6], atol=1e-9)
    vector = pooled_mfcc(np.random.default_rng(0).normal(size=(40, 30)), 20)
    assert vector.shape == (120,) and vector.dtype == np.float32


def test_resampling_keeps_frequency_and_duration():
    for source in (8000, 44100, 22050, 16000):
        wave = tone(440, 1.0, source)
        out = resample(wave, source, 16000)
        assert len(out) == 16000
        assert abs(peak_hz(out, 16000) - 440) <= 1.0
        assert abs(np.sqrt(np.mean(out[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_load_audio_mono_resampled_and_fixed_length(tmp_path):
    stereo = np.stack([tone(440, 0.5, 44100), tone(440, 0.5, 44100)], axis=1)
    soundfile.write(tmp_path / "s.wav", stereo, 44100)
    wave = load_audio(tmp_path / "s.wav", sample_rate=16000)
    assert wave.ndim == 1 and wave.dtype == np.float32 and len(wave) == 8000
    assert abs(peak_hz(wave, 16000) - 440) <= 2.0
    padded = load_audio(tmp_path / "s.wav", sample_rate=16000, duration=1.0)
    assert len(padded) == 16000 and np.all(padded[8000:] == 0)
    cropped = load_audio(tmp_path / "s.wav", sample_rate=16000, duration=0.25)
    np.testing.assert_array_equal(cropped, wave[2000:6000])  # the centre


def test_load_audio_errors_name_the_file(folder):
    for name in ("high/truncated.wav", "high/empty.wav", "low/text.wav"):
        with pytest.raises(FormatError, match=name.split("/")[1]):
            load_audio(folder / name)
    header_only = folder / "zero.wav"
    soundfile.write(header_only, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(FormatError, match="zero.wav.*no samples"):
        load_audio(header_only)
    with pytest.raises(InvalidInputError, match="no such file"):
        load_audio(folder / "missing.wav")
    for bad in (0, -16000):
        with pytest.raises(InvalidInputError, match="sample_rate"):
            load_audio(folder / "low" / "a.wav", sample_rate=bad)


# ----------------------------------------------------------------------------- encoder inputs
def test_encode_folder_skips_bad_files_and_labels_by_subfolder(folder, caplog):
    encoder = AudioEncoder.mfcc()
    with caplog.at_level(logging.WARNING, logger="embedworks.encode.audio"):
        emb = encoder.encode(folder, batch_size=2, progress=False)
    assert emb.keys == ["high/c.ogg", "high/d.wav", "loose.wav", "low/a.wav", "low/b.flac"]
    assert emb.metadata["label"] == ["high", "high", None, "low", "low"]
    assert emb.dim == 120 and np.isfinite(emb.vectors).all()
    assert sorted(encoder.last_skipped) == ["high/empty.wav", "high/truncated.wav", "low/text.wav"]
    assert all("not readable as audio" in reason for reason in encoder.last_skipped_reasons)
    assert "skipped 3 of 8 inputs" in caplog.text
    # tones of one class sit closer to each other than to the other class
    sims = emb.vectors @ emb.vectors.T / np.outer(emb.norms(), emb.norms())
    assert sims[3, 4] > sims[3, 0] and sims[0, 1] > sims[0, 3]


def test_rates_8000_and_44100_give_the_same_vector_for_the_same_tone():
    encoder = AudioEncoder.mfcc(normalize=True)
    vectors = encoder.encode_array([(tone(440, 0.5, rate), rate) for rate in (8000, 16000, 44100)])
    assert vectors.shape == (3, 120)
    assert float(vectors[0] @ vectors[1]) > 0.999 and float(vectors[2] @ vectors[1]) > 0.999


def test_in_memory_waveforms_and_spec_round_trip(folder):
    encoder = AudioEncoder.mfcc(duration=0.3)
    pcm = (tone(300, 0.5, 16000) * 32767).astype(np.int16)
    emb = encoder.encode([tone(300, 0.5, 16000), (pcm, 16000), str(folder / "low" / "a.wav")], progress=False)
    assert emb.keys == [0, 1, str(folder / "low" / "a.wav")] and "label" not in emb.metadata
    a, b = emb.vectors[0], emb.vectors[1]  # int16 PCM is scaled to [-1, 1]
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.9999
    spec = emb.encoder
    assert spec["kind"] == "audio" and spec["model"] == "mfcc" and spec["duration"] == 0.3
    again = from_spec(spec).encode_array(tone(300, 0.5, 16000))
    np.testing.assert_array_equal(again[0], emb.vectors[0])


def test_bad_inputs(tmp_path, folder):
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.txt").write_text("no audio here")
    encoder = AudioEncoder.mfcc()
    with pytest.raises(InvalidInputError, match="no files ending in .wav"):
        encoder.encode(tmp_path / "nothing")
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.wav").write_bytes(b"RIFF")
    with pytest.raises(InvalidInputError, match="no readable audio"):
        encoder.encode(only_bad)
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        encoder.encode(tmp_path / "absent")
    with pytest.raises(InvalidInputError, match=r"audio\[0\].*sample rate"):
        encoder.encode([(tone(440, 0.1, 8000), 0)])
    with pytest.raises(InvalidInputError, match=r"audio\[1\].*1-D"):
        encoder.encode([tone(440, 0.1, 8000), np.zeros((2, 100), dtype=np.float32)])
    with pytest.raises(InvalidInputError, match=r"audio\[0\].*no samples"):
        encoder.encode([np.zeros(0, dtype=np.float32)])
    for bad in (0, -1):
        with pytest.raises(InvalidInputError, match="sample_rate"):
            AudioEncoder.mfcc(sample_rate=bad)
    with pytest.raises(InvalidInputError, match="n_mfcc"):
        AudioEncoder.mfcc(n_mfcc=50, n_mels=40)
    # a list of files: a bad file is skipped, not fatal
    vectors = encoder.encode_array([str(folder / "low" / "a.wav"), str(folder / "high" / "empty.wav")])
    assert vectors.shape == (1, 120) and encoder.last_skipped == [str(folder / "high" / "empty.wav")]


# ----------------------------------------------------------------------------- wav2vec 2.0 / HuBERT
def _tiny_speech_model(kind, folder, masked):
    transformers = pytest.importorskip("transformers")
    config_class, model_class = {"wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
                                 "hubert": (transformers.HubertConfig, transformers.HubertModel)}[kind]
    config = config_class(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                          conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
                          num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                          feat_extract_norm="layer" if masked else "group", do_stable_layer_norm=masked)
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True,
                                          return_attention_mask=masked).save_pretrained(folder)
    return model


@pytest.mark.parametrize("kind,masked", [("wav2vec2", True), ("wav2vec2", False), ("hubert", False)])
def test_pretrained_speech_folder_mean_pools_the_last_hidden_state(tmp_path, kind, masked):
    model = _tiny_speech_model(kind, tmp_path / "model", masked)
    encoder = AudioEncoder.from_pretrained(tmp_path / "model", device="cpu")
    assert encoder.dim == 16 and encoder.sample_rate == 16000
    clips = [chirp_with_noise(seconds=0.5, seed=1), chirp_with_noise(seconds=0.25, seed=2)]
    emb = encoder.encode([(clips[0], 16000), (tone(700, 0.5, 8000), 8000), (clips[1], 16000)], batch_size=3)
    assert emb.vectors.shape == (3, 16)
    assert emb.encoder["model"] == str((tmp_path / "model").resolve())
    for row, clip in ((0, clips[0]), (2, clips[1])):
        values = (clip - clip.mean()) / np.sqrt(clip.var() + 1e-7)
        with torch.no_grad():
            expected = model(torch.from_numpy(values)[None]).last_hidden_state.mean(dim=1)[0].numpy()
        np.testing.assert_allclose(emb.vectors[row], expected, rtol=1e-4, atol=1e-4)
    assert from_spec(emb.encoder).dim == 16


def test_pretrained_folder_errors(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(InvalidInputError, match="no such model folder"):
        AudioEncoder.from_pretrained(tmp_path / "absent")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(FormatError, match="preprocessor_config.json"):
        AudioEncoder.from_model(tmp_path / "half")


# ----------------------------------------------------------------------------- CLI
def test_cli_encode_audio_folder(folder, tmp_path):
    target = tmp_path / "clips.emb"
    result = runner.invoke(app, ["encode", "audio", str(folder), "-o", str(target), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "5 clips × 120 dims" in result.output
    assert "skipped 3 unreadable files" in result.output
    emb = load(target)
    assert len(emb) == 5 and emb.metadata["label"][0] == "high"
    assert emb.encoder["kind"] == "audio" and emb.encoder["model"] == "mfcc"
    files = [str(folder / "low" / "a.wav"), str(folder / "high" / "d.wav")]
    result = runner.invoke(app, ["encode", "audio", *files, "-o", str(tmp_path / "two.emb"), "--normalize",
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.linalg.norm(load(tmp_path / "two.emb").vectors, axis=1), 1.0, rtol=1e-5)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["encode", "audio", str(empty), "-o", str(tmp_path / "x.emb")])
    assert result.exit_code == 1 and "error:" in result.output and "Traceback" not in result.output


def test_cli_similar_by_a_clip_outside_the_set(folder, tmp_path):
    target = tmp_path / "clips.emb"
    assert runner.invoke(app, ["encode", "audio", str(folder), "-o", str(target), "--quiet"]).exit_code == 0
    query = tmp_path / "query.wav"  # a low tone that is not in the set: nearest are the low clips
    soundfile.write(query, tone(230, 0.5, 16000), 16000)
    result = runner.invoke(app, ["similar", str(target), str(query), "-k", "2"])
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.output.splitlines()
            if line.startswith("│")]
    ranked = [key for rank, key, _ in rows]
    assert len(ranked) == 2 and all(key.startswith("low/") for key in ranked), result.output
