"""files.read_marker: the checks every saved directory's JSON marker goes through."""

import json

import pytest

from embedworks.errors import FormatError
from embedworks.files import read_marker


def write(folder, value):
    folder.mkdir(exist_ok=True)
    (folder / "meta.json").write_text(value if isinstance(value, str) else json.dumps(value))
    return folder


def read(folder):
    return read_marker(folder, "meta.json", "thing", 2, "a thing", fields=("dim",))


def test_a_good_marker_is_returned(tmp_path):
    assert read(write(tmp_path / "t", {"format": "thing", "version": 1, "dim": 3})) == \
        {"format": "thing", "version": 1, "dim": 3}


@pytest.mark.parametrize("content, message", [
    (None, r"not a thing: no meta\.json"),
    ("{not json", r"meta\.json: not valid JSON"),
    ([1, 2], r'not a thing \(expected "format": "thing"\)'),
    ({"format": "other", "version": 1, "dim": 3}, r'not a thing \(expected "format": "thing"\)'),
    ({"format": "thing", "version": 3, "dim": 3}, r"format version 3 is newer than this embedworks reads \(≤ 2\); upgrade"),
    ({"format": "thing", "version": True, "dim": 3}, r"format version True is not an integer"),
    ({"format": "thing", "version": 1}, r"missing fields \['dim'\]"),
])
def test_a_bad_marker_is_named(tmp_path, content, message):
    folder = tmp_path / "t"
    folder.mkdir()
    if content is not None:
        write(folder, content)
    with pytest.raises(FormatError, match=message):
        read(folder)
