"""pymock.miniyaml: every construct the loader reads, every error it raises (message, line and
column), the YAML 1.2 core resolution table, and dump -> load round trips."""

import math
import re

import pytest

from pymock import miniyaml
from pymock.errors import YamlError
from pymock.miniyaml import dump, load, load_all, load_file


def same(a, b) -> bool:
    """Equal with types checked all the way down (1 vs 1.0 vs True) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def error_of(text: str, **kwargs) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_all(text, **kwargs)
    return info.value


# --- block collections -------------------------------------------------------------------------

def test_block_mappings_nest_by_indentation():
    text = "a: 1\nb:\n  c: 2\n  d:\n    e: x\nf: 3\n"
    assert load(text) == {"a": 1, "b": {"c": 2, "d": {"e": "x"}}, "f": 3}


def test_block_sequences_nested_and_compact():
    text = "- a\n- - b\n  - c\n- k: 1\n  l: 2\n-\n  m: 3\n- - - deep\n"
    assert load(text) == ["a", ["b", "c"], {"k": 1, "l": 2}, {"m": 3}, [["deep"]]]


def test_sequence_at_the_same_indent_as_its_key():
    text = "paths:\n- a\n- b: 1\n  c:\n  - x\n  d: 2\nnext: 3\n"
    assert load(text) == {"paths": ["a", {"b": 1, "c": ["x"], "d": 2}], "next": 3}


def test_compact_mapping_with_wide_dash_spacing():
    assert load("-   a: 1\n    b: 2\n-   c\n") == [{"a": 1, "b": 2}, "c"]


def test_empty_values_are_null():
    assert load("a:\nb:   # nothing\nc: 1\nd: []\n") == {"a": None, "b": None, "c": 1, "d": []}
    assert load("- \n- a\n-\n") == [None, "a", None]


def test_keys_keep_their_order_and_plain_keys_resolve():
    data = load("z: 1\n200: ok\n'404': quoted\ntrue: t\n~: n\n1.5: f\n")
    assert list(data) == ["z", 200, "404", True, None, 1.5]


def test_quoted_keys_and_keys_with_colons():
    data = load('"a: b": 1\n\'c\'\'d\': 2\nurn:x:y: 3\n"e\\tf": 4\nkey  :  spaced\n')
    assert data == {"a: b": 1, "c'd": 2, "urn:x:y": 3, "e\tf": 4, "key": "spaced"}


def test_crlf_and_bom_and_tab_only_lines():
    assert load("\ufeffa: 1\r\nb:\r\n  - 2\r\n") == {"a": 1, "b": [2]}
    assert load("a: 1\n\t\nb: 2\n") == {"a": 1, "b": 2}


# --- comments -----------------------------------------------------------------------------------

def test_comments_everywhere_and_hashes_that_are_not_comments():
    text = ("# head\na: 1 # trailing\n# between\nb:\n  # inside\n  - x   # item\nc: d#e\n"
            "f: 'g # h'\ng: \"i # j\"\nh: http://x/#frag\n")
    assert load(text) == {"a": 1, "b": ["x"], "c": "d#e", "f": "g # h", "g": "i # j",
                          "h": "http://x/#frag"}


def test_comment_only_and_empty_streams():
    assert load("") is None
    assert load("# nothing here\n\n") is None
    assert load_all("") == []
    assert load_all("   \n# c\n") == []


# --- scalars ---------------------------------------------------------------------------------

def test_multi_line_plain_scalars_fold():
    text = "a: one\n  two\n\n  three\nb: x\n  y   # c\nc: root\n"
    assert load(text) == {"a": "one two\nthree", "b": "x y", "c": "root"}
    assert load("- item\n  continued\n") == ["item continued"]
    assert load("multi\nline root\n\n\nscalar") == "multi line root\n\nscalar"


def test_plain_scalars_may_hold_indicators_inside():
    text = "a: -x\nb: ?y\nc: :z\nd: a,b[c]{d}\ne: a :b\nf: 12:30\n"
    assert load(text) == {"a": "-x", "b": "?y", "c": ":z", "d": "a,b[c]{d}", "e": "a :b",
                          "f": "12:30"}


def test_single_quoted_scalars():
    assert load("a: 'it''s'\nb: ''\nc: '  pad  '\nd: 'x\\n'\n") == {
        "a": "it's", "b": "", "c": "  pad  ", "d": "x\\n"}


def test_double_quoted_escapes_all():
    text = r'a: "\0\a\b\t\	\n\v\f\r\e\ \"\/\\\N\_\L\P\x41\u00e9\U0001F600"'
    assert load(text) == {"a": "\0\a\b\t\t\n\v\f\r\x1b \"/\\\x85\xa0\u2028\u2029A\u00e9\U0001F600"}


def test_quoted_scalars_fold_over_lines():
    assert load("a: 'one\n  two\n\n  three  \n  '\n") == {"a": "one two\nthree "}
    assert load('a: "x\n  \n  \n  y"') == {"a": "x\n\ny"}
    assert load('a: "join\\\n    ed"') == {"a": "joined"}
    assert load('a: "keep \\ \n  b"') == {"a": "keep   b"}
    assert load('a: "back\\\\\n  slash"') == {"a": "back\\ slash"}
    assert load("a: 'sq\\\n  x'") == {"a": "sq\\ x"}
    assert load('"root\n string"') == "root string"


def test_escaped_line_break_keeps_following_empty_lines():
    assert load('a: "x\\\n\n  y"') == {"a": "x\ny"}


# --- block scalars -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("a: |\n  x\n  y\nb: 1\n", "x\ny\n"),
    ("a: |-\n  x\n  y\nb: 1\n", "x\ny"),
    ("a: |+\n  x\n\n\nb: 1\n", "x\n\n\n"),
    ("a: >\n  x\n  y\n\n  z\nb: 1\n", "x y\nz\n"),
    ("a: >-\n  x\n  y\n", "x y"),
    ("a: >+\n  x\n\n", "x\n\n"),
    ("a: >\n  a\n   more\n  b\n", "a\n more\nb\n"),
    ("a: >\n  a\n\n   more\n\n  b\n", "a\n\n more\n\nb\n"),
    ("a: |\n\n  after blank\n", "\nafter blank\n"),
    ("a: |\n  text\n     \n  more\n", "text\n   \nmore\n"),
    ("a: >\n  text\n  \n  more\n", "text\nmore\n"),
    ("a: |2\n   lead\n  x\n", " lead\nx\n"),
    ("a: |-1\n  x\n", " x"),
    ("a: >1-\n  x\n", " x"),
    ("- |1\n  x\n", " x\n"),
    ("a: |\n  # not a comment\n  x\n # a comment\nb: 1\n", "# not a comment\nx\n"),
    ("a: |\n  no final newline", "no final newline"),
    ("a: |\n\nb: 1\n", ""),
    ("a: |+\n\nb: 1\n", "\n"),
    ("a: | # comment\n  x\n", "x\n"),
    ("a: |\n  tab\there\n", "tab\there\n"),
])
def test_block_scalars(text, expected):
    data = load(text)
    assert (data[0] if isinstance(data, list) else data["a"]) == expected


def test_block_scalars_in_sequences_compact_maps_and_roots():
    text = "- |\n  a\n- k: >-\n    b\n    c\n  l: 1\n"
    assert load(text) == ["a\n", {"k": "b c", "l": 1}]
    assert load("--- |\n  root\n") == "root\n"
    assert load("--- >\n folded\n root\n") == "folded root\n"


# --- flow collections --------------------------------------------------------------------------

def test_flow_collections_nested_and_multi_line():
    text = "a: [1, [2, [3, {b: [4]}]], {}, []]\nc: {d: e, f: [g, h], 'i': \"j\"}\nk: [\n  x,\n  y,  # c\n]\n"
    assert load(text) == {"a": [1, [2, [3, {"b": [4]}]], {}, []],
                          "c": {"d": "e", "f": ["g", "h"], "i": "j"}, "k": ["x", "y"]}
    assert load("- {a: 1,\n   b: 2}\n- [x,\n   y]\n") == [{"a": 1, "b": 2}, ["x", "y"]]


def test_flow_json_style_pairs_and_omitted_values():
    assert load('{"a":1,"b":[true,false,null],"c":"x"}') == {
        "a": 1, "b": [True, False, None], "c": "x"}
    assert load("{a, b: , c: d, ? e: f}") == {"a": None, "b": None, "c": "d", "e": "f"}
    assert load("[a: 1, b, ? c]") == [{"a": 1}, "b", {"c": None}]
    assert load("{x:1}") == {"x:1": None}


def test_flow_plain_scalars_may_contain_question_marks_and_span_lines():
    # PyYAML (YAML 1.1) rejects '?' inside a flow plain scalar; YAML 1.2 allows it.
    assert load("[http://x.com/a?b=c, d e]") == ["http://x.com/a?b=c", "d e"]
    assert load("[a\n b,\n\n c\n\n d]") == ["a b", "c\nd"]
    assert load("[a\n]") == ["a"]


def test_flow_collections_with_properties_and_aliases():
    text = "a: &x {k: v}\nb: {<<: *x, l: 2}\nc: [*x, !!str 1, &y two, *y, !!null , !!str ]"
    assert load(text) == {"a": {"k": "v"}, "b": {"k": "v", "l": 2},
                          "c": [{"k": "v"}, "1", "two", "two", None, ""]}


# --- documents ---------------------------------------------------------------------------------

def test_multi_document_streams():
    text = "%YAML 1.2\n---\na: 1\n...\n---\n- b\n--- text\n---\n...\nc: 3\n"
    assert load_all(text) == [{"a": 1}, ["b"], "text", None, {"c": 3}]
    assert load_all("---\n") == [None]
    assert load_all("a: 1\n---\n") == [{"a": 1}, None]
    assert load_all("--- # comment\na: 1\n") == [{"a": 1}]


def test_stray_document_end_markers_are_skipped():
    assert load_all("...\n...\na: 1\n") == [{"a": 1}]


def test_directives_are_skipped_and_tag_handles_used():
    text = "%YAML 1.1\n%TAG !e! tag:yaml.org,2002:\n%FOO bar\n---\na: !e!int '12'\n"
    assert load(text) == {"a": 12}


def test_load_refuses_several_documents():
    err = error_of_load("a: 1\n---\nb: 2\n")
    assert err.message == ("expected a single document but found 2 (use load_all for a "
                           "multi-document stream)")
    assert (err.line, err.col) == (1, 1)


def error_of_load(text: str) -> YamlError:
    with pytest.raises(YamlError) as info:
        load(text)
    return info.value


# --- anchors, aliases and merge keys -------------------------------------------------------------

def test_anchors_and_aliases():
    text = "a: &s [1, 2]\nb: *s\nc: &m\n  k: v\nd: *m\ne: &n 5\nf: *n\ng: &q 'q'\nh: *q\n"
    data = load(text)
    assert data == {"a": [1, 2], "b": [1, 2], "c": {"k": "v"}, "d": {"k": "v"}, "e": 5,
                    "f": 5, "g": "q", "h": "q"}
    assert data["b"] is data["a"]


def test_anchor_on_a_key_and_on_a_sequence_entry():
    assert load("- &a key: v\n- *a\n") == [{"key": "v"}, "key"]
    assert load("- &b\n  k: v\n- *b\n") == [{"k": "v"}, {"k": "v"}]
    assert load("&x a: 1\nb: *x\n") == {"a": 1, "b": "a"}


def test_merge_keys():
    text = ("base: &base {a: 1, b: 2}\nmore: &more {b: 3, c: 4}\n"
            "one:\n  <<: *base\n  b: 9\n"
            "both:\n  <<: [*base, *more]\n  d: 5\n"
            "inline:\n  <<: {x: 1}\n  y: 2\n"
            "block:\n  <<:\n    p: 1\n  q: 2\n")
    data = load(text)
    assert data["one"] == {"a": 1, "b": 9}
    assert data["both"] == {"b": 2, "c": 4, "a": 1, "d": 5}
    assert data["inline"] == {"x": 1, "y": 2}
    assert data["block"] == {"p": 1, "q": 2}
    assert load("'<<': literal") == {"<<": "literal"}
    assert load("[<<]") == ["<<"]  # only a mapping key is a merge


# --- tags ----------------------------------------------------------------------------------------

def test_core_tags():
    text = ("a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: !!bool 'true'\ne: !!null ''\n"
            "f: !!map {}\ng: !!seq []\nh: !!binary aGVsbG8=\ni: ! 12\nj: !!str\n"
            "k: !<tag:yaml.org,2002:int> '0x10'\nl: !!int -0o17\nm: !!float .inf\n"
            "n: !!binary |\n  aGVs\n  bG8=\no: !!map\n  k: v\np: !!seq\n- 1\n")
    assert same(load(text), {
        "a": "123", "b": 7, "c": 1.0, "d": True, "e": None, "f": {}, "g": [],
        "h": b"hello", "i": "12", "j": "", "k": 16, "l": -15, "m": math.inf,
        "n": b"hello", "o": {"k": "v"}, "p": [1]})
    assert load("a: !!map\nb: !!seq\n") == {"a": {}, "b": []}


def test_tagged_keys():
    assert load("!!str 1: a\n!!int '2': b\n") == {"1": "a", 2: "b"}


# --- complex keys --------------------------------------------------------------------------------

def test_complex_keys():
    assert load("? a\n: b\n? |\n  block key\n: c\n? d\n") == {"a": "b", "block key\n": "c",
                                                          "d": None}
    assert load("- ? a\n  : b\n- c\n") == [{"a": "b"}, "c"]
    assert load("?\n  x\n:\n  y\n") == {"x": "y"}


# --- YAML 1.2 core schema vs PyYAML's YAML 1.1 ---------------------------------------------------

RESOLUTION = [
    # text, YAML 1.2 core (miniyaml), what PyYAML's YAML 1.1 resolver gives
    ("~", None, None), ("null", None, None), ("Null", None, None), ("NULL", None, None),
    ("", None, None), ("true", True, True), ("True", True, True), ("TRUE", True, True),
    ("false", False, False), ("FALSE", False, False),
    ("yes", "yes", True), ("No", "No", False), ("on", "on", True), ("OFF", "OFF", False),
    ("y", "y", "y"), ("nULL", "nULL", "nULL"), ("tRUE", "tRUE", "tRUE"),
    ("0", 0, 0), ("-17", -17, -17), ("+1", 1, 1), ("0777", 777, 511), ("09", 9, "09"),
    ("012345678910", 12345678910, "012345678910"), ("0o17", 15, "0o17"), ("0x1F", 31, 31),
    ("0b101", "0b101", 5), ("1_000", "1_000", 1000), ("1:30", "1:30", 90),
    ("-0x1F", "-0x1F", -31), ("0X1F", "0X1F", "0X1F"),
    ("1.5", 1.5, 1.5), ("-1.5", -1.5, -1.5), ("1.", 1.0, 1.0), (".5", 0.5, 0.5),
    ("-.5", -0.5, "-.5"), ("1e3", 1000.0, "1e3"), ("1.0e3", 1000.0, "1.0e3"),
    ("1.0e+3", 1000.0, 1000.0), ("12e-3", 0.012, "12e-3"), ("1_0.5", "1_0.5", 10.5),
    (".inf", math.inf, math.inf), ("-.Inf", -math.inf, -math.inf), ("+.INF", math.inf, math.inf),
    (".nan", math.nan, math.nan), (".NaN", math.nan, math.nan), ("-.nan", "-.nan", "-.nan"),
    ("2001-12-14", "2001-12-14", "date(2001, 12, 14)"), ("=", "=", "error: value tag"),
    ("<<", "<<", "error: merge tag outside a mapping key"),
]


@pytest.mark.parametrize("text, yaml12, yaml11", RESOLUTION, ids=[r[0] or "empty" for r in RESOLUTION])
def test_plain_scalars_resolve_by_the_yaml_1_2_core_schema(text, yaml12, yaml11):
    assert same(load(f"- {text}\n")[0], yaml12)
    assert same(load(f"{{k: {text}}}")["k"], yaml12)
    assert same(load(f"'{text}'"), text)  # quoting always keeps the string
    if yaml11 != text or yaml12 != text:  # dump quotes what either reader would not keep
        assert dump([text]) == f"- '{text}'\n"


def test_decimals_longer_than_python_converts_stay_strings():
    digits = "1" * 5000  # beyond sys.get_int_max_str_digits() (4300 by default)
    assert load(f"a: {digits}\nb: 0x{'f' * 5000}\n") == {"a": digits, "b": 16 ** 5000 - 1}
    assert error_of(f"a: !!int {digits}\n").message == f"cannot read {digits!r} as !!int"


def test_plain_keys_resolve_like_values():
    assert load("yes: 1\n0777: 2\n1e3: 3\n") == {"yes": 1, 777: 2, 1000.0: 3}


# --- errors --------------------------------------------------------------------------------------

ERRORS = [
    ("a: 1\na: 2\n", 2, 1, 'duplicate key "a" (first defined at line 1); remove or rename '
     "one of them"),
    ("x:\n  a: 1\n  b: 2\n  a: 3\n", 4, 3, 'duplicate key "a" (first defined at line 2); '
     "remove or rename one of them"),
    ("1: a\n'x': b\n1: c\n", 3, 1, 'duplicate key "1" (first defined at line 1); remove or '
     "rename one of them"),
    ("{a: 1,\n b: 2, a: 3}", 2, 8, 'duplicate key "a" (first defined at line 1); remove or '
     "rename one of them"),
    ("a: &x {k: 1}\nb:\n  <<: *x\n  <<: *x\n", 4, 3, 'duplicate key "<<" (first defined at '
     "line 3); remove or rename one of them"),
    ("{<<: {}, <<: {}}", 1, 10, 'duplicate key "<<" (first defined at line 1); remove or '
     "rename one of them"),
    ("a:\n\tb: 1\n", 2, 1, "found a tab character where indentation is expected (YAML indents "
     "with spaces only; replace the tab)"),
    ("a:\n  b: 'x'\n   c: 2\n", 3, 4, "bad indentation: this line is indented by 3 spaces but "
     "the enclosing block expects 2 (align it with its siblings)"),
    ("a: 1\n b: 2\n", 2, 2, "bad indentation: this 'key: value' line is indented deeper than "
     "the entry above, so it would continue that entry's plain value (align it with its "
     "siblings, or quote the value)"),
    ("- 'a'\n - b\n", 2, 2, "bad indentation: this line is indented by 1 spaces but the "
     "enclosing block expects 0 (align it with its siblings)"),
    ("- a\nb: 1\n", 2, 1, "unexpected content after the document's root node ended (check "
     "this line's indentation, or start a new document with '---')"),
    ('a: "open\n  still open\n', 1, 4, "unterminated double-quoted string (add the closing "
     "'\"')"),
    ("a: 'open\n---\n", 1, 4, "unterminated single-quoted string (add the closing \"'\")"),
    ("a: *nope\n", 1, 4, 'undefined alias "*nope" (define the anchor "&nope" on an earlier '
     "node before using it)"),
    ("a: [*nope]\n", 1, 5, 'undefined alias "*nope" (define the anchor "&nope" on an earlier '
     "node before using it)"),
    ("a: [1, 2\n", 1, 4, "unterminated flow collection (missing ']' for the '[' opened here)"),
    ("[a\n\n", 1, 1, "unterminated flow collection (missing ']' for the '[' opened here)"),
    ("~: 1\nnull: 2\n", 2, 1, 'duplicate key "null" (first defined at line 1); remove or '
     "rename one of them"),
    ("true: 1\nTrue: 2\n", 2, 1, 'duplicate key "true" (first defined at line 1); remove or '
     "rename one of them"),
    ("1.0: a\n1.00: b\n", 2, 1, 'duplicate key "1.0" (first defined at line 1); remove or '
     "rename one of them"),
    ("\ta: 1\n", 1, 1, "found a tab character where indentation is expected (YAML indents "
     "with spaces only; replace the tab)"),
    ("a:\n  - {b: 1\n", 2, 5, "unterminated flow collection (missing '}' for the '{' opened "
     "here)"),
    ("a: [1 2 3}\n", 1, 10, "expected ',' or ']' in a flow collection, found '}'"),
    ("a: [1, , 2]\n", 1, 8, "unexpected character ',' in a flow collection"),
    ("a: b: c\n", 1, 5, "a plain value cannot contain ': ' or end with ':' (quote the value, "
     "or start a nested mapping on its own line)"),
    ("a: b:\n", 1, 5, "a plain value cannot contain ': ' or end with ':' (quote the value, or "
     "start a nested mapping on its own line)"),
    ("a: - b\n", 1, 4, "a sequence entry '- ' cannot start on the same line as its key (move "
     "the list to the next line, indented)"),
    ("a: ? b\n", 1, 4, "unexpected '? ' here (a complex key or value indicator must start "
     "its own line)"),
    ("a: @b\n", 1, 4, "a plain value cannot start with '@' (quote the value)"),
    ("a: 'x' y\n", 1, 7, "unexpected text after the quoted string (put a comment after ' #', "
     "or quote the whole value)"),
    ("a: [x] y\n", 1, 7, "unexpected text after the flow collection (put a comment after "
     "' #', or quote the whole value)"),
    ("a: &x 1\nb: *x y\n", 2, 6, "unexpected text after the alias (put a comment after ' #', "
     "or quote the whole value)"),
    ('a: "\\q"\n', 1, 5, "unknown escape '\\q' in a double-quoted string (write '\\\\' for a "
     "backslash)"),
    ('a: "\\x4"\n', 1, 5, "unknown escape '\\x' in a double-quoted string (write '\\\\' for a "
     "backslash)"),
    ("a: |x\n  b\n", 1, 4, "invalid block scalar header (write '|' or '>', optionally followed "
     "by '-'/'+' and an indentation digit 1-9)"),
    ("a: !Ref b\n", 1, 4, "unsupported tag !Ref (miniyaml knows only the core tags !!str "
     "!!int !!float !!bool !!null !!map !!seq !!binary; remove the tag)"),
    ("a: !!set {}\n", 1, 4, "unsupported tag !!set (miniyaml knows only the core tags !!str "
     "!!int !!float !!bool !!null !!map !!seq !!binary; remove the tag)"),
    ("a: !!int x\n", 1, 4, "cannot read 'x' as !!int"),
    ("a: !!float yes\n", 1, 4, "cannot read 'yes' as !!float"),
    ("a: !!binary '!!'\n", 1, 4, "cannot read '!!' as !!binary"),
    ("a: !!bool 1\n", 1, 4, "cannot read '1' as !!bool"),
    ("a: !!null x\n", 1, 4, "cannot read 'x' as !!null"),
    ("a: !!int [1]\n", 1, 4, "the tag !!int applies to scalars, not to a list"),
    ("a: [x, !!int [1]]\n", 1, 8, "the tag !!int applies to scalars, not to a list"),
    ("a: {k: &a !!int 'z'}\n", 1, 11, "cannot read 'z' as !!int"),
    ("a: !!map [1]\n", 1, 4, "the tag !!map needs a mapping but the node is a list"),
    ("a: !!seq x\n", 1, 4, "the tag !!seq needs a sequence but the node is a str"),
    ("a: !x!y z\n", 1, 4, "undefined tag handle '!x!' (declare it with a %TAG directive)"),
    ("a: &x &y 1\n", 1, 7, "a node can have only one anchor"),
    ("a: !!str !!int 1\n", 1, 10, "a node can have only one tag"),
    ("a: & 1\n", 1, 4, "an anchor '&' needs a name (e.g. '&base')"),
    ("a: [& ]\n", 1, 5, "an anchor '&' needs a name (e.g. '&base')"),
    ('a: "\\U00110000"\n', 1, 5, "escape '\\U00110000' is beyond the last Unicode code "
     "point U+10FFFF"),
    ("[? [a]: b]\n", 1, 4, "found an unhashable key (a list or mapping used as a mapping key); "
     "use a scalar key"),
    ("? [a, b]\n: c\n", 1, 1, "found an unhashable key (a list or mapping used as a mapping "
     "key); use a scalar key"),
    ("{[a]: b}\n", 1, 2, "found an unhashable key (a list or mapping used as a mapping key); "
     "use a scalar key"),
    ("a: 1\n- b\n", 2, 1, "expected a 'key: value' entry but found a sequence entry '- ' "
     "(indent the list under its key)"),
    ("a: 1\nb\n", 2, 1, "expected a 'key: value' entry but found no ': ' on this line (add "
     "': ' after the key, or indent the line to continue the value above)"),
    ("a: 1\n\tb: 2\n", 2, 1, "found a tab character where indentation is expected (YAML "
     "indents with spaces only; replace the tab)"),
    ("a:\n  - 'x'\n  \t- b\n", 3, 3, "found a tab character where indentation is expected (YAML "
     "indents with spaces only; replace the tab)"),
    ("a:\n  <<: [1]\n", 2, 1, "the merge key '<<' takes a mapping, an alias of one or a list "
     "of them (e.g. '<<: [*base, *extra]')"),
    ("%YAML 2.0\n---\na\n", 1, 1, "unsupported YAML version '2.0' (only 1.x is understood)"),
    ("%TAG !x!\n---\na\n", 1, 1, "a %TAG directive needs a handle and a prefix, e.g. "
     "'%TAG !e! tag:example.com,2024:'"),
    ("%YAML 1.2\na: 1\n", 1, 1, "a directive must be followed by a '---' line"),
]


@pytest.mark.parametrize("text, line, col, message", ERRORS, ids=[e[3][:40] for e in ERRORS])
def test_errors_name_the_cause_line_and_column(text, line, col, message):
    err = error_of(text, source_name="spec.yaml")
    assert (err.message, err.line, err.col) == (message, line, col)
    assert str(err) == f"spec.yaml:{line}:{col}: {message}"
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("text", ["[" * 3000 + "]" * 3000, "- " * 3000 + "x",
                                  "".join(" " * i + "a:\n" for i in range(3000))],
                         ids=["flow", "compact", "block"])
def test_absurd_nesting_is_a_yaml_error_not_a_crash(text):
    err = error_of(text)
    assert err.message == ("the document nests collections too deeply for this loader "
                           "(flatten the structure)")
    assert err.line >= 1


def test_block_scalar_less_indented_line_is_bad_indentation():
    err = error_of("a: |\n    deep\n  shallow\n")
    assert (err.line, err.col) == (3, 3)
    assert err.message.startswith("bad indentation")


# --- load_file ------------------------------------------------------------------------------------

def test_load_file_reads_utf8_with_bom_and_names_the_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes("\ufeffname: caf\u00e9\n".encode("utf-8"))
    assert load_file(path) == {"name": "caf\u00e9"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n", encoding="utf-8")
    with pytest.raises(YamlError) as info:
        load_file(bad)
    assert info.value.source_name == str(bad)
    assert str(info.value).startswith(f"{bad}:1:4: unterminated flow collection")


# --- known documents ------------------------------------------------------------------------------

PETSTORE = """\
openapi: "3.0.0"
info:
  version: 1.0.0
  title: Swagger Petstore
  license:
    name: MIT
servers:
  - url: http://petstore.swagger.io/v1
paths:
  /pets:
    get:
      summary: List all pets
      operationId: listPets
      tags:
        - pets
      parameters:
        - name: limit
          in: query
          required: false
          schema:
            type: integer
            maximum: 100
            format: int32
      responses:
        '200':
          description: A paged array of pets
          headers:
            x-next:
              description: A link to the next page of responses
              schema:
                type: string
"""

DOCUMENTS = [
    (PETSTORE, {
        "openapi": "3.0.0",
        "info": {"version": "1.0.0", "title": "Swagger Petstore", "license": {"name": "MIT"}},
        "servers": [{"url": "http://petstore.swagger.io/v1"}],
        "paths": {"/pets": {"get": {
            "summary": "List all pets", "operationId": "listPets", "tags": ["pets"],
            "parameters": [{"name": "limit", "in": "query", "required": False,
                            "schema": {"type": "integer", "maximum": 100, "format": "int32"}}],
            "responses": {"200": {
                "description": "A paged array of pets",
                "headers": {"x-next": {
                    "description": "A link to the next page of responses",
                    "schema": {"type": "string"}}}}}}}},
    }),
    ("endpoints:\n  - path: /api/users/{id}\n    method: GET\n    status: 200\n"
     "    latency_ms: 100\n    failure_rate: 0.1\n    response: {data: value, ok: true}\n",
     {"endpoints": [{"path": "/api/users/{id}", "method": "GET", "status": 200,
                     "latency_ms": 100, "failure_rate": 0.1,
                     "response": {"data": "value", "ok": True}}]}),
    ("defaults: &d\n  timeout: 30\n  retries: 3\nservices:\n  - name: a\n    <<: *d\n"
     "  - name: b\n    <<: *d\n    retries: 5\n",
     {"defaults": {"timeout": 30, "retries": 3},
      "services": [{"timeout": 30, "retries": 3, "name": "a"},
                   {"timeout": 30, "retries": 5, "name": "b"}]}),
    ("description: |\n  Line one.\n\n  Line three.\nsummary: >\n  Folded\n  text.\n"
     "example: '{\"a\": 1}'\n",
     {"description": "Line one.\n\nLine three.\n", "summary": "Folded text.\n",
      "example": '{"a": 1}'}),
    ("matrix: [[1, 2], [3, 4]]\nflags: {on: yes, off: no}\n",
     {"matrix": [[1, 2], [3, 4]], "flags": {"on": "yes", "off": "no"}}),
]


@pytest.mark.parametrize("text, expected", DOCUMENTS, ids=["petstore", "config", "merge",
                                                          "blocks", "yaml12-words"])
def test_known_documents(text, expected):
    assert same(load(text), expected)


def test_slow_path_reads_what_the_fast_path_reads(monkeypatch):
    docs = [d for d, _ in DOCUMENTS] + [
        "a: 'x'\nb: \"y\\n\"\nc: plain\n  more\nd:\n  e: 1 # c\n'f''g': \"h\"\n\"\\u0041\": 1\n",
        "a: x\n\n  y\nb: 2\n"]
    fast = [load(d) for d in docs]
    monkeypatch.setattr(miniyaml, "_MAP_FAST", re.compile(r"(?!)"))
    assert all(same(load(d), f) for d, f in zip(docs, fast))


# --- dump ------------------------------------------------------------------------------------------

TRICKY = [
    "yes", "no", "on", "off", "y", "n", "null", "Null", "~", "", " lead", "trail ", "a: b", "#x",
    "x #y", "1.0", "1e3", "0777", "0x1F", "0o7", "1_000", "1:30", "2001-12-14", "=", "<<", "-",
    "- a", "-a", "?", "? a", ":", ":x", "a:", "---", "...", "--- x", "@x", "`x", "%x", "!x",
    "&x", "*x", "|", ">", "[a]", "{a}", "a,b", "'q'", '"d"', "multi\nline", "multi\nline\n",
    "multi\nline\n\n", "\nlead nl", "\n", "\n\n", "tab\tin", "\ttab", "uni \u00e9 \U0001F600",
    "ctl\x01", "\x85nel", "line\u2028sep", "bom\ufeff", "back\\slash", "a\r\nb",
    "  indented\nnext", "x\n  indented second\n", "trailing space \nnext", "true", "False",
    ".inf", "-.inf", ".nan", ".5", "+1", "-0", "1.", "12e-3", "0b101", "a'b", 'a"b', "a#b",
    "a :b", "a\\", "x\n\ny", "\x00", "\ud800", "caf\u00e9", "2600:3c01::02:5000::",
]


@pytest.mark.parametrize("indent", [1, 2, 4])
def test_dump_round_trips_tricky_strings_as_values_and_keys(indent):
    data = {"values": TRICKY, "keys": {s: i for i, s in enumerate(TRICKY)},
            "in_map": {"k": {"v": s for s in TRICKY[:3]}},
            "nested": [[s] for s in TRICKY] + [{"k": s} for s in TRICKY]}
    assert same(load(dump(data, indent=indent)), data)


@pytest.mark.parametrize("s", TRICKY)
def test_dump_round_trips_each_string_at_the_root(s):
    assert same(load(dump(s)), s)


def test_dump_round_trips_numbers_and_nesting():
    data = {"nums": [0, -1, 1.5, 1e300, -0.0, 1e-05, math.inf, -math.inf, math.nan, True, False,
                     None, 10 ** 30], 1: "int key", 2.5: "float key", None: "null key",
            True: "bool key",
            "nested": [[], {}, [[]], [{}], {"a": []}, [[1, [2]], {"b": {"c": []}}]],
            "bytes": b"\x00\xffhi", "tuple": (1, 2)}
    back = load(dump(data))
    data["tuple"] = [1, 2]
    assert same(back, data)


def test_dump_output_shape():
    data = {"name": "on", "num": 1, "empty": {}, "none": [], "text": "a\nb\n",
            "list": [{"a": 1, "b": [2, 3]}, ["x", "y"], "z"], "q": "it's"}
    assert dump(data) == (
        "name: 'on'\nnum: 1\nempty: {}\nnone: []\ntext: |\n  a\n  b\n"
        "list:\n  - a: 1\n    b:\n      - 2\n      - 3\n  - - x\n    - 'y'\n  - z\nq: it's\n")
    assert dump({"k": "x\n\ny\n\n"}) == "k: |+\n  x\n\n  y\n\n"
    assert dump({"k": "line\nno end"}) == "k: |-\n  line\n  no end\n"
    assert dump([{"a": 1}], indent=4) == "-   a: 1\n"
    assert dump(["a\nb"]) == "- |-\n  a\n  b\n"
    assert dump("---") == "'---'\n"
    assert dump("...") == "'...'\n"
    assert dump({}) == "{}\n"
    assert dump(None) == "null\n"


def test_dump_refuses_what_yaml_cannot_hold():
    with pytest.raises(ValueError, match="indent must be an int from 1 to 9"):
        dump({}, indent=0)
    with pytest.raises(TypeError, match="cannot dump a set"):
        dump({"a": {1}})
    with pytest.raises(TypeError, match="cannot dump a tuple as a mapping key"):
        dump({(1, 2): "x"})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="recursive"):
        dump(loop)
    deep = node = []
    for _ in range(5000):
        node.append([])
        node = node[0]
    with pytest.raises(ValueError, match="nests too deeply"):
        dump(deep)


def test_dump_writes_shared_objects_out_in_full():
    shared = {"k": "v"}
    assert load(dump({"a": shared, "b": shared})) == {"a": {"k": "v"}, "b": {"k": "v"}}
