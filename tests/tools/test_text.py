"""The rule for what may be recorded (tools/text.py)."""

import json

from guiagent.tools.text import excerpt, first_lone_surrogate, recordable, recordable_tree


def test_valid_text_is_kept_as_is():
    for text in ["", "plain", "naïve café 東京 🙂", "\\udcc1 written out", "\x00\ufeff"]:
        assert recordable(text) is text
        assert first_lone_surrogate(text) is None


def test_a_lone_surrogate_becomes_its_escape_and_nothing_is_lost():
    raw = json.loads('"caf\\udcc1 \\ud800 and a pair \\ud83d\\ude42"')  # as a server's JSON escape arrives
    assert first_lone_surrogate(raw) == 3
    text = recordable(raw)
    assert text == "caf\\udcc1 \\ud800 and a pair 🙂"
    text.encode("utf-8")  # valid


def test_trees_are_made_recordable_keys_included():
    tree = {"raw": "a\udcc1", "k\ud800": [1, 2.5, None, True, {"x": ("t\udfff",)}]}
    clean = recordable_tree(tree)
    assert clean == {"raw": "a\\udcc1", "k\\ud800": [1, 2.5, None, True, {"x": ["t\\udfff"]}]}
    json.dumps(clean, ensure_ascii=False).encode("utf-8")


def test_excerpts_are_short_and_never_fail():
    assert excerpt("a" * 100, 10) == "'aaaaaa..."
    assert excerpt(10 ** 5000) == "<int too large to show>"
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert excerpt(deep) == "<list too large to show>"
