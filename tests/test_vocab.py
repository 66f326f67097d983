"""Vocabulary: counting, pruning, encoding, sampling tables and the Huffman tree."""

import heapq

import numpy as np
import pytest

from embedworks.errors import InvalidInputError
from embedworks.learn import _sgns
from embedworks.learn import vocab as vocab_mod
from embedworks.learn.vocab import Vocabulary

SENTENCES = [["b", "a", "c", "a"], ["x"], ["c", "b", "a", "d"], ["d", "y", "z"], ["b"]]


def test_build_sorts_by_count_then_first_appearance():
    v = Vocabulary.build(SENTENCES, min_count=2)
    assert v.words == ["b", "a", "c", "d"]  # b and a have 3, c and d 2; ties by first appearance
    assert v.counts.dtype == np.int64 and v.counts.tolist() == [3, 3, 2, 2]
    assert v.index == {"b": 0, "a": 1, "c": 2, "d": 3}
    assert v.raw_words == 13 and v.total_words == 10


def test_one_pass_build_equals_two_pass_build_and_encode():
    v1 = Vocabulary.build(SENTENCES, min_count=2)
    enc1 = v1.encode(SENTENCES)
    v2, enc2 = Vocabulary.build_and_encode(SENTENCES, min_count=2)
    assert v1.words == v2.words and np.array_equal(v1.counts, v2.counts)
    assert np.array_equal(enc1.tokens, enc2.tokens) and np.array_equal(enc1.offsets, enc2.offsets)
    # OOV words dropped, sentences left empty are removed
    assert enc1.tokens.tolist() == [0, 1, 2, 1, 2, 0, 1, 3, 3, 0]
    assert enc1.offsets.tolist() == [0, 4, 8, 9, 10]
    assert enc1.tokens.dtype == np.int32 and enc1.offsets.dtype == np.int64


def test_encoding_spills_to_a_memory_map(monkeypatch):
    rng = np.random.default_rng(0)
    sentences = [[f"w{i}" for i in rng.integers(0, 50, rng.integers(1, 30))] for _ in range(200)]
    ref_vocab, ref = Vocabulary.build_and_encode(sentences, min_count=3)
    monkeypatch.setattr(vocab_mod, "CHUNK_TOKENS", 16)
    monkeypatch.setattr(vocab_mod, "SPILL_TOKENS", 100)
    v, enc = Vocabulary.build_and_encode(sentences, min_count=3)
    assert isinstance(enc.tokens.base, np.memmap) or isinstance(enc.tokens, np.memmap)
    assert v.words == ref_vocab.words
    assert v.counts.tolist() == ref_vocab.counts.tolist()  # counted chunk by chunk while encoding
    assert all(v.index[w] == i for i, w in enumerate(v.words))
    assert np.array_equal(enc.tokens, ref.tokens) and np.array_equal(enc.offsets, ref.offsets)
    enc2 = v.encode(sentences)
    assert np.array_equal(enc2.tokens, ref.tokens)


def test_max_vocab_size_prunes_during_the_scan():
    sentences = [["common"] * 5 + [f"rare{i}"] for i in range(20)]
    v = Vocabulary.build(sentences, min_count=1, max_vocab_size=5)
    assert v.words[0] == "common" and v.counts[0] == 100
    assert len(v) <= 6


def test_update_appends_new_words_and_adds_counts():
    v = Vocabulary.build(SENTENCES, min_count=2)
    n_new, enc = v.update_and_encode([["new", "new", "a", "q"], ["z", "new"]], min_count=2)
    assert n_new == 1
    assert v.words == ["b", "a", "c", "d", "new"]
    assert v.counts.tolist() == [3, 4, 2, 2, 3]
    assert enc.tokens.tolist() == [4, 4, 1, 4] and enc.offsets.tolist() == [0, 3, 4]
    v2 = Vocabulary.build(SENTENCES, min_count=2)
    assert v2.update([["new", "new", "a", "q"], ["z", "new"]], min_count=2) == 1
    assert v2.words == v.words and v2.counts.tolist() == v.counts.tolist()


def test_integer_arrays_are_keys():
    walks = [np.array([7, 3, 7, 9]), np.array([3, 7])]
    v, enc = Vocabulary.build_and_encode(walks, min_count=1)
    assert v.words == [7, 3, 9] and all(type(w) is int for w in v.words)
    assert enc.tokens.tolist() == [0, 1, 0, 2, 1, 0]
    assert v.encode(walks).tokens.tolist() == enc.tokens.tolist()
    # for a str vocabulary, int arrays are word ids that are already final
    sv = Vocabulary(["a", "b"], [2, 1])
    assert sv.encode([np.array([1, 0, 1])]).tokens.tolist() == [1, 0, 1]
    with pytest.raises(InvalidInputError, match="word ids"):
        sv.encode([np.array([2])])


def test_huffman_matches_hand_computed_tree():
    # word2vec.c on counts 5,3,2,1: merge 1+2 -> node0 (3), node0+word1 -> node1 (6),
    # word0+node1 -> node2 = root (11). Codes root->leaf, points are inner nodes root first.
    v = Vocabulary(["a", "b", "c", "d"], [5, 3, 2, 1])
    codes, points, lengths = v.huffman()
    assert lengths.tolist() == [1, 2, 3, 3]
    assert [codes[i, :n].tolist() for i, n in enumerate(lengths)] == [[0], [1, 1], [1, 0, 1], [1, 0, 0]]
    assert [points[i, :n].tolist() for i, n in enumerate(lengths)] == [[2], [2, 1], [2, 1, 0], [2, 1, 0]]
    assert codes.dtype == np.uint8 and points.dtype == np.int32 and lengths.dtype == np.int32


def test_huffman_is_optimal_and_prefix_free():
    rng = np.random.default_rng(1)
    counts = np.sort(rng.integers(1, 1000, 300))[::-1]
    v = Vocabulary([str(i) for i in range(300)], counts)
    codes, points, lengths = v.huffman()
    heap = list(counts.astype(float))
    heapq.heapify(heap)
    optimal = 0.0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        optimal += a + b
        heapq.heappush(heap, a + b)
    assert float((counts * lengths).sum()) == optimal
    strings = {"".join(map(str, codes[i, :n])) for i, n in enumerate(lengths)}
    assert len(strings) == 300
    assert not any(a != b and b.startswith(a) for a in strings for b in strings)
    assert points[:, 0].min() == points[:, 0].max() == 298  # the root
    assert (points < 299).all()


def test_keep_probabilities_follow_word2vec_formula():
    counts = np.array([1000, 100, 10, 1])
    v = Vocabulary(list("abcd"), counts)
    sample = 1e-2
    t = sample * counts.sum()
    expected = np.minimum((np.sqrt(counts / t) + 1) * t / counts, 1.0)
    assert np.allclose(v.keep_probabilities(sample), expected, rtol=1e-6)
    assert v.keep_probabilities(sample)[0] < 1 and v.keep_probabilities(sample)[-1] == 1
    assert (v.keep_probabilities(0) == 1).all()


def test_negative_sampling_follows_unigram_power():
    counts = np.array([500, 200, 100, 50, 10, 1])
    v = Vocabulary(list("abcdef"), counts)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    table = v.negative_cdf(0.75)
    assert table[-1] == 2 ** 31 - 1 and (np.diff(table) > 0).all()
    assert np.allclose(np.diff(table, prepend=0) / table[-1], expected, atol=1e-8)
    thr, alias = v.negative_alias(0.75)
    assert thr.dtype == np.uint32 and alias.dtype == np.int32
    # exact probabilities implied by the alias table
    implied = thr / 2.0 ** 32 / 6
    np.add.at(implied, alias, (1 - thr / 2.0 ** 32) / 6)
    assert np.allclose(implied, expected, atol=1e-8)
    draws, _ = _sgns.sample_many(thr, alias, 200_000, np.uint64(1))
    freq = np.bincount(draws, minlength=6) / len(draws)
    assert np.allclose(freq, expected, atol=0.005)


def test_alias_table_on_many_words():
    rng = np.random.default_rng(2)
    w = rng.pareto(1.0, 5000) + 0.01
    thr, alias = vocab_mod.alias_table(w)
    implied = thr / 2.0 ** 32 / len(w)
    np.add.at(implied, alias, (1 - thr / 2.0 ** 32) / len(w))
    assert np.allclose(implied, w / w.sum(), rtol=1e-6, atol=1e-12)


def test_bad_input():
    with pytest.raises(InvalidInputError, match="empty"):
        Vocabulary.build([], min_count=1)
    with pytest.raises(InvalidInputError, match="empty"):
        Vocabulary.build_and_encode([[], []], min_count=1)
    with pytest.raises(InvalidInputError, match=r"min_count=5.*'a'.*occurs 2 times"):
        Vocabulary.build_and_encode([["a", "a", "b"]], min_count=5)
    with pytest.raises(InvalidInputError, match="min_count"):
        Vocabulary.build([["a"]], min_count=0)
    with pytest.raises(InvalidInputError):
        Vocabulary.build([[1.5, 2.5]], min_count=1)


def test_save_load(tmp_path):
    v = Vocabulary(["a", "ü", "b c"], [3, 2, 1])
    v.save(tmp_path)
    w = Vocabulary.load(tmp_path)
    assert w.words == v.words and np.array_equal(w.counts, v.counts)


@pytest.mark.parametrize("block_tokens", [1, 7, 50, 1 << 20])
def test_blockwise_compaction_equals_one_pass(block_tokens):
    from embedworks.learn.vocab import _compacted

    rng = np.random.default_rng(5)
    lengths = rng.integers(0, 9, 40)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = rng.integers(-1, 6, int(offsets[-1])).astype(np.int32)
    remap = np.array([3, -1, 0, 1, -1, 2], dtype=np.int32)
    expected_tokens, expected_offsets = [], [0]
    for a, b in zip(offsets[:-1], offsets[1:]):
        kept = [int(remap[t]) for t in tokens[a:b] if t >= 0 and remap[t] >= 0]
        if kept:
            expected_tokens += kept
            expected_offsets.append(len(expected_tokens))
    got_tokens, got_offsets = _compacted(tokens.copy(), offsets.copy(), remap, block_tokens=block_tokens)
    assert got_tokens.tolist() == expected_tokens and got_offsets.tolist() == expected_offsets


def test_spilled_corpus_survives_page_release(tmp_path, monkeypatch):
    import embedworks.learn.vocab as vocab_module

    sentences = [[f"w{(i * 7 + j) % 50}" for j in range(30)] for i in range(400)]
    in_memory = Vocabulary.build_and_encode(sentences, min_count=1)[1]
    monkeypatch.setattr(vocab_module, "SPILL_TOKENS", 1000)
    spilled = Vocabulary.build_and_encode(sentences, min_count=1)[1]
    assert isinstance(spilled.tokens, np.memmap)
    np.testing.assert_array_equal(np.asarray(spilled.tokens), in_memory.tokens)
    np.testing.assert_array_equal(spilled.offsets, in_memory.offsets)
