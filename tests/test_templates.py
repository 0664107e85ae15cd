"""Tests for pymock.templates: every construct, filter and helper with exact output (fixed
clock, seeded rng), exact error texts and positions, the sandbox and its limits, JSON bodies,
the request view, counters under threads, and every example in docs/templates.md."""

import doctest
import json
import random
import re
import threading
from pathlib import Path

import pytest

from pymock import templates
from pymock.errors import TemplateError
from pymock.model import Request
from pymock.templates import (
    FAKE_FIELDS, FILTER_NAMES, HELPER_NAMES, MAX_LOOP_ITERATIONS, MAX_OUTPUT_CHARS, BodyTemplate,
    Counters, PathText, RenderEnv, Template, Undefined, compile_body, compile_template,
    has_template_syntax, request_view,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "templates.md"
CLOCK = 1704164645.0  # 2024-01-02T03:04:05Z, the clock of every docs example
BODY = b'{"name": "Ada Lovelace", "count": 3, "tags": ["math", "poetry"], "address": {"city": "London"}}'


def make_env(seed=7, clock=CLOCK):
    return RenderEnv(clock=lambda: clock, rng=random.Random(seed), counters=Counters())


def make_request(target="/users/7?page=2&tag=a&tag=b", body=BODY, headers=None):
    headers = headers if headers is not None else [
        ("Content-Type", "application/json"), ("X-Api-Key", "secret-key"), ("Cookie", "session=abc123")]
    request = Request("POST", target, headers=headers, body=body, client=("203.0.113.9", 50000),
                      scheme="https")
    request.id = "req-1"
    return request


def docs_context():
    return {"request": request_view(make_request(), {"id": "7"})}


def render(source, context=None, seed=7, **variables):
    return compile_template(source, "t").render({**(context or {}), **variables}, make_env(seed))


def value(source, **variables):
    return compile_template(source, "t").render_value(variables, make_env())


def compile_error(source):
    with pytest.raises(TemplateError) as info:
        compile_template(source, "t")
    return info.value


def render_error(source, **variables):
    template = compile_template(source, "t")
    with pytest.raises(TemplateError) as info:
        template.render(variables, make_env())
    return info.value


# ---------------------------------------------------------------- static text and detection

def test_text_without_syntax_is_static_and_renders_to_itself():
    source = "plain { text } with } braces {"
    template = compile_template(source)
    assert template.is_static and template.render({}) is source
    assert template.render_value({}) is source
    assert not has_template_syntax(source)


@pytest.mark.parametrize("text", ["{{ x }}", "a {% if x %}{% endif %}", "{# c #}"])
def test_template_syntax_is_detected(text):
    assert has_template_syntax(text)
    assert not compile_template(text).is_static


def test_non_text_has_no_template_syntax_and_cannot_compile():
    assert not has_template_syntax(42)
    with pytest.raises(TemplateError, match="a template must be text, got int"):
        compile_template(42)


def test_template_repr_names_the_template():
    assert repr(compile_template("{{ x }}", "greet")) == "Template('greet', '{{ x }}')"


# ---------------------------------------------------------------- output and expressions

def test_adjacent_strings_are_not_joined():
    assert compile_error("{{ 'it''s' }}").message == "unexpected \"'s'\" after the expression"


@pytest.mark.parametrize("source, expected", [
    ("{{ 'single' }} {{ \"double\" }}", "single double"),
    (r"{{ 'a\nb\t\\ \'q\' \"d\" \u00e9 \/ \x' }}", "a\nb\t\\ 'q' \"d\" é / \\x"),
    ("{{ 42 }} {{ 3.5 }} {{ 1e3 }} {{ 2.5e-1 }}", "42 3.5 1000.0 0.25"),
    ("{{ true }} {{ True }} {{ false }} {{ False }}", "true true false false"),
    ("[{{ none }}{{ None }}{{ null }}]", "[]"),
    ("{{ [1, 'a', [true, none]] }}", '[1, "a", [true, null]]'),
    ("{{ [] }} {{ [1,] }} {{ {} }} {{ {'k': 1,} }}", '[] [1] {} {"k": 1}'),
    ("{{ {'a': {'b': 1}}}}", '{"a": {"b": 1}}'),
    ("{{ 0.1 + 0.2 }}", "0.30000000000000004"),
])
def test_literals_and_how_values_print(source, expected):
    assert render(source) == expected


@pytest.mark.parametrize("source, expected", [
    ("{{ user.name }}", "Ada"),
    ("{{ user['name'] }}", "Ada"),
    ("{{ user.tags[0] }} {{ user.tags.1 }} {{ user.tags[-1] }}", "a b b"),
    ("{{ user.tags[i] }}", "b"),
    ("{{ user['x-y'] }}", "dash"),
    ("{{ user.address.city }}", "Paris"),
    ("{{ word[1] }}", "e"),
    ("{{ pair[0] }}", "1"),
    ("{{ nums[true] }}", ""),
    ("[{{ user.nope }}{{ user.tags[9] }}{{ nothing.at.all }}{{ user.name.first }}]", "[]"),
    ("[{{ user[[1]] }}{{ user.tags['x'] }}]", "[]"),
])
def test_lookups(source, expected):
    context = {"user": {"name": "Ada", "tags": ["a", "b"], "x-y": "dash", "address": {"city": "Paris"}},
               "i": 1, "word": "hey", "pair": (1, 2), "nums": [5]}
    assert render(source, context) == expected


def test_missing_values_are_undefined_and_falsy():
    assert value("{{ missing }}") is None
    template = compile_template("{{ user.nope }}")
    assert template.render({"user": {}}) == ""
    undefined = Undefined("x.y")
    assert not undefined and list(undefined) == [] and len(undefined) == 0 and str(undefined) == ""
    assert undefined == Undefined("other") and undefined != "" and hash(undefined) == 0
    assert repr(undefined) == "Undefined('x.y')"


@pytest.mark.parametrize("source, expected", [
    ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }}", "7 9"),
    ("{{ 7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 - 5 - 1 }}", "3 1 3.5 -4"),
    ("{{ -n }} {{ +n }} {{ - -n }} {{ -2.5 }}", "-4 4 4 -2.5"),
    ("{{ 'ab' + 'cd' }} {{ [1] + [2] }} {{ 'ab' * 2 }} {{ 2 * [0] }}", "abcd [1, 2] abab [0, 0]"),
    ("{{ 'a' ~ 1 ~ true ~ none ~ [1] }}", "a1true[1]"),
    ("{{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 1 < 2 <= 2 }} {{ 3 > 2 > 2 }} {{ 2 >= 3 }}",
     "true true true false false"),
    ("{{ 1 == '1' }} {{ missing == missing }}", "false true"),
    ("{{ 'b' in ['a', 'b'] }} {{ 'x' not in 'abc' }} {{ 'k' in {'k': 1} }}", "true true true"),
    ("{{ 1 in 'a1' }} {{ 'a' in missing }} {{ 'a' in none }} {{ [1] in {'a': 1} }}", "true false false false"),
    ("{{ 0 or '' or 'x' }} {{ 0 or '' }}|{{ 1 and 'y' }} {{ 1 and 0 and 2 }}", "x |y 0"),
    ("{{ not 0 }} {{ not not 'a' }} {{ not 1 == 2 }}", "true true true"),
    ("{{ 'big' if n > 3 else 'small' }} [{{ 'x' if n > 9 }}]", "big []"),
    ("{{ 'a' if false else 'b' if true else 'c' }}", "b"),
])
def test_operators(source, expected):
    assert render(source, n=4) == expected


# ---------------------------------------------------------------- tags

@pytest.mark.parametrize("n, expected", [(1, "one"), (2, "two"), (3, "many"), (0, "none")])
def test_if_elif_else(n, expected):
    source = "{% if n == 1 %}one{% elif n == 2 %}two{% elif n %}many{% else %}none{% endif %}"
    assert render(source, n=n) == expected


def test_if_without_else_renders_nothing_when_false():
    assert render("a{% if x %}b{% endif %}c", x=[]) == "ac"


def test_for_loop_variables():
    source = ("{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.length }}:{{ x }}"
              "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %} {% endfor %}")
    assert render(source, items=["a", "b", "c"]) == "1/0/3:aF 2/1/3:b 3/2/3:cL "


def test_for_else_runs_when_there_is_nothing_to_loop_over():
    source = "{% for x in items %}{{ x }}{% else %}empty{% endfor %}"
    assert render(source, items=[]) == "empty"
    assert render(source) == "empty"
    assert render(source, items=None) == "empty"
    assert render("{% for x in items %}{{ x }}{% endfor %}", items=[]) == ""


def test_for_over_dicts_strings_tuples_and_pairs():
    assert render("{% for k in d %}{{ k }}{% endfor %}", d={"a": 1, "b": 2}) == "ab"
    assert render("{% for c in 'hey' %}{{ c }}.{% endfor %}") == "h.e.y."
    assert render("{% for x in t %}{{ x }}{% endfor %}", t=(1, 2)) == "12"
    assert render("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", d={"a": 1, "b": 2}) == "a=1;b=2;"


def test_nested_loops_have_their_own_loop_variable():
    source = ("{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}"
              "{{ outer.index }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}")
    assert render(source) == "1x1 1y2 2x1 2y2 "


def test_loop_info_prints_as_json():
    assert render("{% for x in [7] %}{{ loop }}{% endfor %}") == (
        '{"index": 1, "index0": 0, "first": true, "last": true, "length": 1}')
    assert render("{% for x in [7] %}[{{ loop.nope }}]{% endfor %}") == "[]"


def test_set_names_a_value_and_does_not_leak_out_of_a_loop_or_into_the_context():
    context = {"x": "outer"}
    template = compile_template("{% set y = x ~ '!' %}{{ y }} {% for i in [1] %}{% set x = 'in' %}{{ x }}"
                                "{% endfor %} {{ x }}")
    assert template.render(context) == "outer! in outer"
    assert context == {"x": "outer"}


def test_a_helper_name_can_be_a_loop_variable_or_set_name():
    assert render("{% for date in ['d1'] %}{{ date }}{% endfor %}") == "d1"
    assert render("{% set time = 5 %}{{ time }}") == "5"


def test_comments_and_raw():
    assert render("a{# hidden {{ x }} #}b") == "ab"
    assert render("{# only a comment #}") == ""
    assert render("{% raw %}{{ x }}{% if %}{% endraw %}") == "{{ x }}{% if %}"
    assert render("{% raw %}{% endraw %}x") == "x"


def test_whitespace_control():
    assert render("a  {{- 'b' -}}  c") == "abc"
    assert render("a \n {%- if true -%} \n b \n {%- endif -%} \n c") == "abc"
    assert render("a  {#- c -#}  b") == "ab"
    assert render("x {%- raw -%}  {{ y }}  {%- endraw -%}  z") == "x{{ y }}z"
    assert render("a {{ 'b' }} c") == "a b c"


def test_filters_chain_and_bind_tighter_than_operators():
    assert render("{{ -1 | abs }} {{ (-1) | abs }}") == "-1 1"
    assert render("{{ 'a b' | upper | replace(' ', '_') | lower }}") == "a_b"
    assert render("{{ x | default('d') == 'd' }}") == "true"


# ---------------------------------------------------------------- render_value and output types

@pytest.mark.parametrize("source, expected", [
    ("{{ n }}", 4), ("{{ n / 2 }}", 2.0), ("{{ n > 1 }}", True), ("{{ none }}", None),
    ("{{ missing }}", None), ("{{ [n, 'a'] }}", [4, "a"]), ("{{ {'k': n} }}", {"k": 4}),
    ("{{- n -}}", 4), (" {{ n }}", " 4"), ("{{ n }}{{ n }}", "44"), ("n={{ n }}", "n=4"),
])
def test_render_value_keeps_the_type_of_a_single_expression(source, expected):
    result = value(source, n=4)
    assert result == expected and type(result) is type(expected)


def test_render_value_gives_plain_data_for_views():
    request = make_request()
    context = {"request": request_view(request, {"id": "7"})}
    path = compile_template("{{ request.path }}").render_value(context)
    assert path == "/users/7" and type(path) is str
    headers = compile_template("{{ request.headers }}").render_value(context)
    assert type(headers) is dict and headers["x-api-key"] == "secret-key"
    whole = compile_template("{{ request }}").render_value(context)
    assert type(whole) is dict and whole["json"]["count"] == 3 and type(whole["path"]) is str
    loop = compile_template("{% for x in [1] %}{{ loop.first }}{% endfor %}").render_value({})
    assert loop == "true"


def test_render_value_turns_other_python_types_into_plain_data():
    import collections
    import enum

    class Text(str):
        pass

    class Items(list):
        pass

    class Level(enum.IntEnum):
        HIGH = 2

    context = {"t": Text("x"), "o": collections.OrderedDict(a=Items([Level.HIGH])), "obj": Secretive()}
    result = compile_template("{{ [t, o, obj] }}").render_value(context)
    assert result == ["x", {"a": [2]}, "Secretive"]
    assert [type(x) for x in (result[0], result[1], result[1]["a"])] == [str, dict, list]
    assert render("{{ [t, o] }}", context) == '["x", {"a": [2]}]'


def test_render_value_of_a_non_single_template_is_text():
    assert compile_template("a{{ 1 }}").render_value({}) == "a1"


def test_is_single_expression():
    assert compile_template("{{ x }}").is_single_expression
    assert not compile_template("{{ x }} ").is_single_expression
    assert not compile_template("plain").is_single_expression


def test_render_without_env_or_context_uses_defaults():
    assert compile_template("{{ counter('a') }}{{ x }}").render() == "1"
    assert len(compile_template("{{ uuid() }}").render()) == 36


# ---------------------------------------------------------------- filters

FILTER_CASES = [
    ("{{ 'hello world' | upper }}", "HELLO WORLD"),
    ("{{ 'HeLLo' | lower }} {{ 5 | upper }}", "hello 5"),
    ("{{ 'hello world' | title }}", "Hello World"),
    ("{{ 'hello WORLD' | capitalize }}", "Hello world"),
    ("[{{ '  x ' | trim }}][{{ '--x--' | trim('-') }}][{{ missing | trim }}]", "[x][x][]"),
    ("{{ missing | default('d') }} {{ none | default('d') }} {{ '' | default('d') }}|", "d d |"),
    ("{{ '' | default('d', true) }} {{ 0 | default('d', boolean=true) }} {{ 'v' | default }}", "d d v"),
    ("{{ missing | default }}|", "|"),
    ("{{ {'b': 1, 'a': [true, none]} | json }}", '{"b": 1, "a": [true, null]}'),
    ("{{ {'b': 1, 'a': 2} | json(sort_keys=true) }}", '{"a": 2, "b": 1}'),
    ("{{ [1] | json(2) }}", "[\n  1\n]"),
    ("{{ 'é\"\\\\' | json }} {{ missing | json }}", '"é\\"\\\\" null'),
    ("{{ 'abc' | length }} {{ [1, 2] | length }} {{ {'a': 1} | length }} {{ none | length }} "
     "{{ missing | length }}", "3 2 1 0 0"),
    ("{{ 'a b&c/é' | urlencode }} {{ {'q': 'x y', 'n': 1} | urlencode }}", "a%20b%26c%2F%C3%A9 q=x+y&n=1"),
    ("{{ 'héllo' | base64 }} {{ 'aMOpbGxv' | b64decode }}", "aMOpbGxv héllo"),
    ("{{ 'PDw_Pz4-' | b64decode }} {{ 'aGk' | b64decode }}", "<<??>> hi"),
    ("{{ '42' | int }} {{ ' 7 ' | int }} {{ '3.9' | int }} {{ 3.9 | int }} {{ true | int }}", "42 7 3 3 1"),
    ("{{ 'x' | int }} {{ 'x' | int(-1) }} {{ none | int }} {{ missing | int(5) }}", "0 -1 0 5"),
    ("{{ '1e999' | int(9) }} {{ [1] | int }}", "9 0"),
    ("{{ '2.5' | float }} {{ 3 | float }} {{ 'x' | float }} {{ 'x' | float(1.5) }} {{ none | float }}",
     "2.5 3.0 0.0 1.5 0.0"),
    ("{{ 12 | string ~ '!' }} {{ true | string }} {{ [1] | string }} {{ missing | string }}|", "12! true [1] |"),
    ("{{ 2.567 | round }} {{ 2.567 | round(2) }} {{ 3 | round }}", "3 2.57 3"),
    ("{{ (-5) | abs }} {{ (-2.5) | abs }}", "5 2.5"),
    ("{{ [1, 2] | first }} {{ 'ab' | first }} {{ {'k': 1} | first }} [{{ [] | first }}{{ none | first }}]",
     "1 a k []"),
    ("{{ [1, 2] | last }} {{ 'ab' | last }} [{{ [] | last }}]", "2 b []"),
    ("{{ [1, 'a', true] | join(', ') }} {{ ['a', 'b'] | join }} {{ 'abc' | join('-') }}", "1, a, true ab a-b-c"),
    ("{{ 'a-b-a' | replace('a', 'x') }} {{ 'a-b-a' | replace('a', 'x', 1) }} {{ 7 | replace(7, 8) }}",
     "x-b-x x-b-a 8"),
    ("{{ 'The quick brown fox' | truncate(12) }} {{ 'short' | truncate(12) }} "
     "{{ 'abcdef' | truncate(4, '~') }} {{ 'abcdef' | truncate(2, '...') }}",
     "The quick... short abc~ ..."),
    ("{{ 'a,b,,c' | split(',') }} {{ ' a  b ' | split }} {{ 'a,b,c' | split(',', 1) }}",
     '["a", "b", "", "c"] ["a", "b"] ["a", "b,c"]'),
    ("{{ {'a': 1, 'b': 2} | keys }} {{ {'a': 1, 'b': 2} | values }} {{ {'a': 1} | items }} {{ none | keys }}",
     '["a", "b"] [1, 2] [["a", 1]] []'),
    ("{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ 'cab' | sort }}",
     '[1, 2, 3] [3, 2, 1] ["a", "b", "c"]'),
    ("{{ [{'n': 2}, {}, {'n': 1}] | sort('n', true) }} {{ [{'n': 2}, {}, {'n': 1}] | sort('n') }}",
     '[{"n": 2}, {"n": 1}, {}] [{"n": 1}, {"n": 2}, {}]'),
    ("{{ [1, 2, 3] | reverse }} {{ 'abc' | reverse }} {{ {'a': 1, 'b': 2} | reverse }}", '[3, 2, 1] cba ["b", "a"]'),
    ("{{ [1, 2, 1, 3, 2] | unique }} {{ [{'a': 1}, {'a': 1}, [1], [1]] | unique }}", '[1, 2, 3] [{"a": 1}, [1]]'),
    ("{{ [4, 2, 8] | min }} {{ [4, 2, 8] | max }} {{ ['b', 'a'] | min }} [{{ [] | min }}{{ [] | max }}]",
     "2 8 a []"),
    ("{{ [4, 2, 8] | sum }} {{ [] | sum }} {{ [0.5, 1] | sum }}", "14 0 1.5"),
    ("{{ [1, 2, 3, 4] | slice(1, 3) }} {{ 'abcdef' | slice(2) }} {{ [1, 2, 3] | slice(-2) }}",
     "[2, 3] cdef [2, 3]"),
    ("{{ 0 | date }} {{ 1704164645 | date('%d %b %Y') }} {{ '1704164645' | date('epoch') }}",
     "1970-01-01T00:00:00Z 02 Jan 2024 1704164645"),
    ("{{ '2024-01-02T03:04:05Z' | date('epoch') }} {{ '2024-01-02T03:04:05+01:00' | date }} "
     "{{ '2024-01-02' | date('iso_ms') }}",
     "1704164645 2024-01-02T02:04:05Z 2024-01-02T00:00:00.000Z"),
    ("[{{ missing | date }}] {{ missing | date | default('never') }}", "[] never"),
    ("{{ 1.5 | date('http') }}", "Thu, 01 Jan 1970 00:00:01 GMT"),
]


@pytest.mark.parametrize("source, expected", FILTER_CASES, ids=[c[0][:40] for c in FILTER_CASES])
def test_filters(source, expected):
    assert render(source) == expected


def test_every_filter_has_a_test_case():
    used = {m for source, _ in FILTER_CASES for m in re.findall(r"\|\s*(\w+)", source)}
    assert set(FILTER_NAMES) - used == set()


@pytest.mark.parametrize("source, message", [
    ("{{ 'x' | abs }}", "filter 'abs': expects a number, got string (convert it first with | int or | float)"),
    ("{{ 'x' | round }}", "filter 'round': expects a number, got string (convert it first with | int or | float)"),
    ("{{ 5 | length }}", "filter 'length': a int has no length"),
    ("{{ 5 | first }}", "filter 'first': expects a list, got int"),
    ("{{ 5 | keys }}", "filter 'keys': expects a dict, got int"),
    ("{{ '!!' | b64decode }}", "filter 'b64decode' cannot handle string: Only base64 data is allowed"),
    ("{{ ['a', 1] | sort }}", "filter 'sort' cannot handle list: '<' not supported between instances "
                              "of 'int' and 'str'"),
    ("{{ ['a'] | sum }}", "filter 'sum' cannot handle list: unsupported operand type(s) for +: 'int' and 'str'"),
    ("{{ 'a' | split('') }}", "filter 'split' cannot handle string: empty separator"),
    ("{{ [] | date }}", "filter 'date': expects seconds since 1970 or an ISO-8601 date, got list"),
    ("{{ 'soon' | date }}", "filter 'date' cannot handle string: Invalid isoformat string: 'soon'"),
    ("{{ 0 | date(5) }}", "filter 'date': the format must be a string, got int"),
    ("{{ [{'_k': 1}] | sort('_k') }}",
     "filter 'sort': access to '_k' is not allowed: names starting with '_' are private"),
])
def test_filter_failures_name_the_filter_and_the_cause(source, message):
    error = render_error(source)
    assert error.message == message


# ---------------------------------------------------------------- helpers

def test_time_helpers_use_the_injected_clock():
    assert render("{{ now() }}|{{ now('iso') }}|{{ now('iso_ms') }}") == (
        "2024-01-02T03:04:05Z|2024-01-02T03:04:05Z|2024-01-02T03:04:05.000Z")
    assert value("{{ now('epoch') }}") == 1704164645
    assert value("{{ now('epoch_ms') }}") == 1704164645000
    assert render("{{ now('http') }}|{{ now('%Y/%m/%d %H-%M-%S %f') }}") == (
        "Tue, 02 Jan 2024 03:04:05 GMT|2024/01/02 03-04-05 000000")
    assert render("{{ date() }} {{ time() }} {{ date('%d.%m.') }} {{ time('%H') }}") == (
        "2024-01-02 03:04:05 02.01. 03")
    assert value("{{ timestamp() }}") == 1704164645
    assert value("{{ timestamp('-10s') }}") == 1704164635


def test_fractional_clock_and_iso_ms():
    env = make_env(clock=1704164645.987)
    template = compile_template("{{ now('iso_ms') }} {{ now('epoch') }} {{ now('epoch_ms') }} {{ now() }}")
    assert template.render({}, env) == "2024-01-02T03:04:05.987Z 1704164645 1704164645987 2024-01-02T03:04:05Z"


@pytest.mark.parametrize("offset, expected", [
    ("'+1d'", "2024-01-03T03:04:05Z"), ("'-2h'", "2024-01-02T01:04:05Z"), ("'+30m'", "2024-01-02T03:34:05Z"),
    ("'+10s'", "2024-01-02T03:04:15Z"), ("'+1h30m'", "2024-01-02T04:34:05Z"), ("'-1w'", "2023-12-26T03:04:05Z"),
    ("'1.5h'", "2024-01-02T04:34:05Z"), ("' - 1 d '", "2024-01-01T03:04:05Z"), ("''", "2024-01-02T03:04:05Z"),
    ("60", "2024-01-02T03:05:05Z"), ("-0.5", "2024-01-02T03:04:04Z"), ("none", "2024-01-02T03:04:05Z"),
    ("missing", "2024-01-02T03:04:05Z"), ("o", "2024-01-03T03:04:05Z"),
])
def test_time_offsets(offset, expected):
    assert render(f"{{{{ now(none, {offset}) }}}}", o="+1d") == expected


@pytest.mark.parametrize("source, message", [
    ("{{ now(none, o) }}", "now(): bad time offset '+1y': write a sign, a number and a unit (s, m, h, d or w), "
                           "e.g. '+1d', '-2h' or '+1h30m'"),
    ("{{ now(none, [1]) }}", "now(): bad time offset [1]: write a sign, a number and a unit (s, m, h, d or w), "
                             "e.g. '+1d', '-2h' or '+1h30m'"),
    ("{{ now(5) }}", "now(): the format must be a string, got int"),
    ("{{ now('%Y', 1e300) }}", "now() failed: "),
])
def test_time_helper_failures_at_render_time(source, message):
    assert render_error(source, o="+1y").message.startswith(message)


def test_random_helpers_are_exact_for_a_seed():
    source = ("{{ uuid() }}|{{ random_int(1, 6) }}|{{ random_int() }}|{{ random_float() }}|"
              "{{ random_float(0, 10, 2) }}|{{ random_bool() }}|{{ random_choice(['r', 'g', 'b']) }}|"
              "{{ random_choice('y', 'n') }}|{{ random_string(8) }}|{{ random_token(12) }}")
    first = render(source, seed=42)
    assert first == render(source, seed=42)
    assert first != render(source, seed=43)
    assert first == ("bdd640fb-0667-4ad1-9c80-317fa3b1799d|3|31|0.22321073814882275|7.36|false|b|y|"
                     "kBFOlisr|386e6b65a6a4")


def test_random_helper_shapes():
    parts = render("{{ uuid() }} {{ random_string() }} {{ random_token() }} {{ random_token(0) }}|",
                   seed=1).split(" ")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", parts[0])
    assert re.fullmatch(r"[A-Za-z0-9]{16}", parts[1])
    assert re.fullmatch(r"[0-9a-f]{32}", parts[2]) and parts[3] == "|"
    assert all(1 <= value("{{ random_int(1, 3) }}") <= 3 for _ in range(3))
    assert value("{{ random_choice([]) }}") is None


@pytest.mark.parametrize("source, message", [
    ("{{ random_string(1000001) }}", "random_string(): the length must be a whole number from 0 to 1000000, "
                                     "got 1000001"),
    ("{{ random_string(-1) }}", "random_string(): the length must be a whole number from 0 to 1000000, got -1"),
    ("{{ random_token('x') }}", "random_token(): the length must be a whole number from 0 to 1000000, got 'x'"),
    ("{{ random_int(5, 1) }}", "random_int() failed: empty range for randrange() (5, 2, -3)"),
    ("{{ random_float('a') }}", "random_float(): expects a number, got string (convert it first with | int or "
                                "| float)"),
    ("{{ range('a') }}", "range() failed: 'str' object cannot be interpreted as an integer"),
    ("{{ range(10001) }}", "range(): range of 10001 numbers is more than MAX_LOOP_ITERATIONS (10000)"),
])
def test_helper_failures(source, message):
    assert render_error(source).message == message


def test_range_helper():
    assert render("{{ range(3) }} {{ range(1, 4) }} {{ range(10, 0, -4) }} {{ range(0) }}") == (
        "[0, 1, 2] [1, 2, 3] [10, 6, 2] []")


def test_counter_helper_shares_counters_through_the_env():
    env = make_env()
    template = compile_template("{{ counter('a') }}-{{ counter('a') }}-{{ counter(name='b') }}")
    assert template.render({}, env) == "1-2-1"
    assert template.render({}, env) == "3-4-2"
    assert env.counters.snapshot() == {"a": 4, "b": 2}
    assert value("{{ counter('x') }}") == 1


def test_every_helper_has_a_test():
    source = Path(__file__).read_text()
    assert [name for name in HELPER_NAMES if f"{name}(" not in source] == []


def test_fake_fields_are_exact_for_a_seed_and_well_formed():
    fields = {name: render(f"{{{{ fake.{name} }}}}", seed=3) for name in FAKE_FIELDS}
    assert fields == {
        "city": "Boston", "company": "Fischer Works", "country": "Egypt", "email": "ivan.moreau70@example.com",
        "first_name": "Ivan", "last_name": "Fischer", "name": "Ivan Moreau", "phone": "+1-444-555-0175",
        "sentence": "Lilac ivory island xenon mango.", "street": "244 Spring Boulevard", "word": "pebble"}
    first, last = fields["name"].split(" ")
    assert first in templates._FIRST_NAMES and last in templates._LAST_NAMES
    assert re.fullmatch(r"[a-z]+\.[a-z]+\d{1,2}@example\.(com|org|net)", fields["email"])
    assert re.fullmatch(r"\+1-\d{3}-555-01\d\d", fields["phone"])
    assert re.fullmatch(r"\d{1,3} \w+ \w+", fields["street"])
    assert re.fullmatch(r"[A-Z][a-z]+( [a-z]+){3,8}\.", fields["sentence"])


def test_fake_draws_anew_each_time_and_accepts_parentheses():
    names = render("{% for i in range(20) %}{{ fake.first_name() }},{% endfor %}").split(",")[:-1]
    assert len(names) == 20 and len(set(names)) > 5


# ---------------------------------------------------------------- compile errors

COMPILE_ERRORS = [
    ("Hi {{ name | uper }}", 1, 14, "unknown filter 'uper' (did you mean 'upper'?); the filters are listed in "
                                    "docs/templates.md"),
    ("{{ x | zzzz }}", 1, 8, "unknown filter 'zzzz'; the filters are listed in docs/templates.md"),
    ("{{ uid() }}", 1, 4, "unknown function 'uid' (did you mean 'uuid'?)"),
    ("{{ upper(x) }}", 1, 4, "unknown function 'upper'; 'upper' is a filter: write value | upper"),
    ("{{ zzzz() }}", 1, 4, "unknown function 'zzzz'; the functions are counter, date, now, random_bool, "
                           "random_choice, random_float, random_int, random_string, random_token, range, time, "
                           "timestamp, uuid"),
    ("{{ now }}", 1, 4, "'now' is a function: call it as now()"),
    ("{{ fake }}", 1, 4, "'fake' needs a field, e.g. fake.name (fields: city, company, country, email, "
                         "first_name, last_name, name, phone, sentence, street, word)"),
    ("{{ fake.nmae }}", 1, 9, "unknown fake field 'nmae' (did you mean 'name'?)"),
    ("{{ fake.zzzz }}", 1, 9, "unknown fake field 'zzzz'; the fields are city, company, country, email, "
                              "first_name, last_name, name, phone, sentence, street, word"),
    ("{{ fake. }}", 1, 10, "unknown fake field the end of the tag; the fields are city, company, country, email, "
                           "first_name, last_name, name, phone, sentence, street, word"),
    ("{% iff x %}", 1, 4, "unknown tag 'iff' (did you mean 'if'?)"),
    ("{% zzzz %}", 1, 4, "unknown tag 'zzzz'; the tags are if, elif, else, endif, for, endfor, set, raw, endraw"),
    ("{% %}", 1, 1, "expected a tag name after '{%', found nothing"),
    ("{% 1 %}", 1, 1, "expected a tag name after '{%', found '1'"),
    ("x\n{% if x %}open", 2, 1, "'{% if %}' is never closed; add '{% endif %}'"),
    ("{% for x in y %}", 1, 1, "'{% for %}' is never closed; add '{% endfor %}'"),
    ("a\n  {% for x in y %}{% endif %}", 2, 19, "'{% endif %}' found, but the innermost open block is 'for' "
                                               "(line 2, col 3); close it with '{% endfor %}' first"),
    ("{% endif %}", 1, 1, "'{% endif %}' has no matching '{% if %}'"),
    ("{% endfor %}", 1, 1, "'{% endfor %}' has no matching '{% for %}'"),
    ("{% elif x %}", 1, 1, "'{% elif %}' has no matching '{% if %}'"),
    ("{% else %}", 1, 1, "'{% else %}' has no matching '{% if %}' or '{% for %}'"),
    ("{% if x %}{% else %}{% else %}{% endif %}", 1, 21, "a second '{% else %}' in one '{% if %}' block"),
    ("{% if x %}{% else %}{% elif y %}{% endif %}", 1, 21,
     "'{% elif %}' cannot follow '{% else %}'; move it before the else"),
    ("{% endif x %}", 1, 10, "unexpected 'x' after 'endif'"),
    ("{% else x %}", 1, 9, "unexpected 'x' after 'else'"),
    ("{% raw x %}{% endraw %}", 1, 8, "unexpected 'x' after 'raw'"),
    ("{% raw %}abc", 1, 1, "'{% raw %}' is never closed; add '{% endraw %}'"),
    ("{% endraw %}", 1, 1, "'{% endraw %}' has no matching '{% raw %}'"),
    ("ab {{ x", 1, 4, "unclosed '{{'; add '}}' to close it (for literal braces use {% raw %}...{% endraw %})"),
    ("{% if x", 1, 1, "unclosed '{%'; add '%}' to close it (for literal braces use {% raw %}...{% endraw %})"),
    ("{# c", 1, 1, "unclosed comment '{#'; add '#}' to end it"),
    ("{{ }}", 1, 1, "empty '{{ }}': put an expression between the braces"),
    ("{{ a b }}", 1, 6, "unexpected 'b' after the expression"),
    ("{{ [1, 2 }}", 1, 4, "'[' is never closed"),
    ("{{ (1] }}", 1, 4, "'(' is never closed"),
    ("{{ (1 }}", 1, 4, "'(' is never closed"),
    ("{{ f(1 }}", 1, 5, "'(' is never closed"),
    ("{{ 'abc }}", 1, 4, "unterminated string"),
    ("{{ x $ }}", 1, 6, "unexpected character '$'"),
    ("{{ 1" + "9" * 5000 + " }}", 1, 4, "number too long"),
    ("{{ x._y }}", 1, 6, "access to '_y' is not allowed: names starting with '_' are private"),
    ("{{ x['_y'] }}", 1, 6, "access to '_y' is not allowed: names starting with '_' are private"),
    ("{{ _x }}", 1, 4, "access to '_x' is not allowed: names starting with '_' are private"),
    ("{{ x.__class__ }}", 1, 6, "access to '__class__' is not allowed: names starting with '_' are private"),
    ("{% for _x in y %}{% endfor %}", 1, 8, "access to '_x' is not allowed: names starting with '_' are private"),
    ("{% for in x %}{% endfor %}", 1, 8, "expected a variable name, found 'in'"),
    ("{% for true in x %}{% endfor %}", 1, 8, "expected a variable name, found 'true'"),
    ("{% for x y %}{% endfor %}", 1, 10, "expected 'in' but found 'y'"),
    ("{% set = 1 %}", 1, 8, "expected a variable name, found '='"),
    ("{% set x 1 %}", 1, 10, "expected '=' but found '1'"),
    ("{{ x.) }}", 1, 6, "expected a field name after '.', found ')'"),
    ("{{ x | 1 }}", 1, 8, "expected a filter name after '|', found '1'"),
    ("{{ {'a' 1} }}", 1, 9, "expected ':' but found '1'"),
    ("{{ x[1 2] }}", 1, 8, "expected ']' but found '2'"),
    ("{{ [1 2] }}", 1, 7, "expected ']' but found '2'"),
    ("{{ now(1 2) }}", 1, 10, "expected ')' but found '2'"),
    ("{{ {'a': 1 2} }}", 1, 12, "expected '}' but found '2'"),
    ("{{ 2 ** 3 }}", 1, 7, "expected an expression but found '*'"),
    ("{{ and }}", 1, 4, "expected an expression but found 'and'"),
    ("{{ 1 + }}", 1, 8, "expected an expression but found the end of the tag"),
    ("{% if %}{% endif %}", 1, 7, "expected an expression but found the end of the tag"),
    ("{{ x | replace('a') }}", 1, 8, "bad arguments for filter replace(old, new, count=-1): missing a required "
                                     "argument: 'new'"),
    ("{{ x | upper(1) }}", 1, 8, "bad arguments for filter upper(): too many positional arguments"),
    ("{{ x | json(1, 2, 3) }}", 1, 8, "bad arguments for filter json(indent=None, sort_keys=False): too many "
                                      "positional arguments"),
    ("{{ random_int(1, 2, 3) }}", 1, 4, "bad arguments for function random_int(min=0, max=100): too many "
                                        "positional arguments"),
    ("{{ counter() }}", 1, 4, "bad arguments for function counter(name): missing a required argument: 'name'"),
    ("{{ uuid(x=1) }}", 1, 4, "bad arguments for function uuid(): got an unexpected keyword argument 'x'"),
    ("{{ now(fmt='x', 1) }}", 1, 17, "a positional argument cannot follow a keyword argument"),
    ("{{ now('%Y', '+1x') }}", 1, 14, "bad time offset '+1x': write a sign, a number and a unit (s, m, h, d or w), "
                                      "e.g. '+1d', '-2h' or '+1h30m'"),
    ("{{ timestamp('+1y') }}", 1, 14, "bad time offset '+1y': write a sign, a number and a unit (s, m, h, d or w), "
                                      "e.g. '+1d', '-2h' or '+1h30m'"),
    ("{{ date(offset=true) }}", 1, 9, "bad time offset True: write a sign, a number and a unit (s, m, h, d or w), "
                                      "e.g. '+1d', '-2h' or '+1h30m'"),
    ("{{ " + "(" * 60 + "1" + ")" * 60 + " }}", 1, 54, "expression nested too deeply (more than 50 levels)"),
    ("{{ " + "-" * 60 + "1 }}", 1, 53, "expression nested too deeply (more than 50 levels)"),
    ("{{ " + "not " * 60 + "1 }}", 1, 200, "expression nested too deeply (more than 50 levels)"),
    ("{% if x %}" * 60, 1, 501, "blocks nested too deeply (more than 50 levels)"),
]


@pytest.mark.parametrize("source, line, col, message", COMPILE_ERRORS, ids=[c[0][:30] for c in COMPILE_ERRORS])
def test_compile_errors_have_exact_position_and_message(source, line, col, message):
    error = compile_error(source)
    assert (error.line, error.col, error.message) == (line, col, message)
    assert error.source_name == "t" and str(error) == f"t:{line}:{col}: {message}"
    assert isinstance(error, ValueError)


def test_positions_count_lines_and_columns_from_one():
    error = compile_error("line one\nline two {{ x }}\n\n   {{ y | nope }}")
    assert (error.line, error.col) == (4, 11)


def test_runtime_errors_carry_the_template_name():
    with pytest.raises(TemplateError) as info:
        compile_template("a\n {{ 1 / 0 }}", "endpoints[0].body").render({})
    assert str(info.value) == "endpoints[0].body:2:7: division by zero in '/'"


# ---------------------------------------------------------------- render errors

RENDER_ERRORS = [
    ("{{ n + 1 }}", 1, 6, "'n' is undefined; give it a fallback with | default(...)"),
    ("{{ d.y * 2 }}", 1, 8, "'d.y' is undefined; give it a fallback with | default(...)"),
    ("{{ d.x * 2 }}", 1, 8, "cannot use '*' on none and int; convert first with | int, | float or | string "
                            "(use ~ to join text)"),
    ("{{ 1 - d['k'] }}", 1, 6, "\"d['k']\" is undefined; give it a fallback with | default(...)"),
    ("{{ 'a' + 1 }}", 1, 8, "cannot use '+' on string and int; convert first with | int, | float or | string "
                            "(use ~ to join text)"),
    ("{{ s - 1 }}", 1, 6, "cannot use '-' on string and int; convert first with | int, | float or | string "
                          "(use ~ to join text)"),
    ("{{ '%s' % 1 }}", 1, 9, "cannot use '%' on string and int; convert first with | int, | float or | string "
                             "(use ~ to join text)"),
    ("{{ 1 / 0 }}", 1, 6, "division by zero in '/'"),
    ("{{ 1 // 0 }}", 1, 6, "division by zero in '//'"),
    ("{{ 1 % 0 }}", 1, 6, "division by zero in '%'"),
    ("{{ 'a' < 1 }}", 1, 8, "cannot compare string and int with '<'; convert first with | int, | float or | string"),
    ("{{ missing >= 1 }}", 1, 12, "cannot compare undefined (missing is missing) and int with '>='; convert "
                                  "first with | int, | float or | string"),
    ("{{ -s }}", 1, 4, "cannot apply unary '-' to string; convert it with | int or | float"),
    ("{{ +true }}", 1, 4, "cannot apply unary '+' to bool; convert it with | int or | float"),
    ("{% for k, v in d %}{% endfor %}", 1, 1, "cannot unpack string into 2 names (k, v); loop over pairs, "
                                              "e.g. dict | items"),
    ("{% for k in 5 %}{% endfor %}", 1, 1, "cannot loop over int"),
    ("{{ {[1]: 2} }}", 1, 4, "dict keys must be text or numbers"),
    ("{{ d[k] }}", 1, 6, "access to '_k' is not allowed: names starting with '_' are private"),
]


@pytest.mark.parametrize("source, line, col, message", RENDER_ERRORS, ids=[c[0][:30] for c in RENDER_ERRORS])
def test_render_errors_have_exact_position_and_message(source, line, col, message):
    error = render_error(source, s="a", d={"_k": 1, "x": None}, k="_k")
    assert (error.line, error.col, error.message) == (line, col, message)


def test_messages_name_unusual_types():
    assert render_error("{{ obj + 1 }}", obj=Secretive()).message.startswith("cannot use '+' on Secretive and int")
    assert render_error("{% for x in [1] %}{{ loop + 1 }}{% endfor %}").message.startswith(
        "cannot use '+' on loop and int")


def test_a_failing_clock_is_a_template_error():
    env = RenderEnv(clock=lambda: "not a number", rng=random.Random(1))
    with pytest.raises(TemplateError) as info:
        compile_template("{{ now() }}").render({}, env)
    assert info.value.message == 'now() failed: can only concatenate str (not "float") to str'


def test_huge_integer_products_are_refused():
    error = render_error("{{ n * n * n * n }}", n=2 ** 30000)
    assert error.message == "number too large (more than 65536 bits)"


# ---------------------------------------------------------------- sandbox and limits

class Secretive:
    secret = "s3cret"

    def method(self):  # pragma: no cover - must never be called
        raise AssertionError("a template called a method")

    def __str__(self):
        return "Secretive"


class NoisyDict(dict):
    def get(self, *args):  # pragma: no cover - must never be called
        raise AssertionError("a template called a dict subclass method")


def test_no_attribute_access_on_arbitrary_objects():
    context = {"obj": Secretive(), "text": "abc", "nums": [1]}
    source = "[{{ obj.secret }}{{ obj['secret'] }}{{ obj.method }}{{ text.upper }}{{ nums.append }}]"
    assert render(source, context) == "[]"
    assert render("{{ obj }}", context) == "Secretive"


def test_dict_subclasses_are_read_through_their_storage_only():
    assert render("{{ d.a }}", d=NoisyDict(a=1)) == "1"
    assert render("[{{ d.b }}]", d=NoisyDict(a=1)) == "[]"


def test_path_text_exposes_params_not_attributes():
    path = PathText("/users/7", {"id": "7"})
    context = {"p": path}
    assert render("{{ p }} {{ p.id }} {{ p['id'] }} {{ p[0] }} {{ p[-1] }}", context) == "/users/7 7 7 users 7"
    assert render("[{{ p.params }}{{ p.segments }}{{ p[5] }}{{ p.upper }}]", context) == "[]"
    assert path == "/users/7" and path.params == {"id": "7"}


def test_underscore_keys_are_refused_even_when_computed():
    error = render_error("{{ d[k] }}", d={"_id": 1}, k="_id")
    assert "access to '_id' is not allowed" in error.message


def test_loop_limit_counts_every_loop_in_one_render():
    assert MAX_LOOP_ITERATIONS == 10_000
    ok = "{% for i in range(10000) %}{% endfor %}"
    assert render(ok) == ""
    error = render_error("{% for i in range(5000) %}{% for j in [1, 2] %}{% endfor %}{% endfor %}x")
    assert (error.line, error.col) == (1, 27)
    assert error.message == ("loop limit exceeded: more than 10000 iterations in one render "
                             "(MAX_LOOP_ITERATIONS); loop over fewer items")
    assert render_error("{% for x in items %}{% endfor %}", items=[0] * 10001).message.startswith(
        "loop limit exceeded")


def test_loop_limit_is_per_render():
    template = compile_template("{% for i in range(6000) %}{% endfor %}ok")
    env = make_env()
    assert template.render({}, env) == "ok" and template.render({}, env) == "ok"


OUTPUT_LIMIT = ("output limit exceeded: more than 1000000 characters in one render (MAX_OUTPUT_CHARS); "
                "render less data")


@pytest.mark.parametrize("source", [
    "{{ 'x' * 1000001 }}",
    "{{ 1000001 * 'x' }}",
    "{{ [0] * 1000001 }}",
    "{% for i in range(1000) %}{{ s }}{% endfor %}",
    "{% for i in range(1000) %}" + "y" * 1001 + "{% endfor %}",
    "{{ big ~ big }}",
    "{{ big + big }}",
    "{{ [big, big] }}",
    "{{ [big, big] | json }}",
    "{{ [big, big] | join }}",
    "{{ (['a' * 10] * 100001) | join }}",
    "{{ ('a' * 1000) | replace('a', 'b' * 1001) }}",
    "{{ big | replace('', 'x') }}",
    "{{ {'a': big, 'b': big} }}",
])
def test_output_limit(source):
    error = render_error(source, s="y" * 1001, big="z" * 600_000)
    assert error.message == OUTPUT_LIMIT or error.message.endswith(OUTPUT_LIMIT)
    assert MAX_OUTPUT_CHARS == 1_000_000


def test_output_limit_applies_to_render_value_and_bodies():
    big = "z" * 600_000
    with pytest.raises(TemplateError, match="output limit exceeded"):
        compile_template("{{ [big, big] }}").render_value({"big": big})
    with pytest.raises(TemplateError, match="output limit exceeded"):
        compile_template("{{ big }}").render_value({"big": big * 2})
    body = compile_body({"a": "{{ big }}", "b": "{{ big }}"})
    with pytest.raises(TemplateError, match="output limit exceeded"):
        body.render({"big": big})
    assert compile_body({"a": "{{ big }}"}).render({"big": big}) == {"a": big}


def test_deep_data_is_a_template_error_not_a_crash():
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(TemplateError, match="nested too deeply"):
        compile_template("{{ d }}").render_value({"d": deep})
    with pytest.raises(TemplateError, match="nested too deeply"):
        compile_body({"x": "{{ d }}"}).render({"d": deep})


@pytest.mark.parametrize("module", sorted(Path(templates.__file__).parent.glob("template*.py")), ids=lambda p: p.name)
def test_no_eval_or_exec_in_the_template_modules(module):
    source = module.read_text()
    assert not re.search(r"(?<![.\w])(eval|exec|compile|__import__|literal_eval)\(", source)
    assert "import ast" not in source and "builtins" not in source


@pytest.mark.parametrize("name", ["template_runtime", "template_filters", "template_fakes", "template_nodes",
                                  "template_expr", "template_parser"])
def test_template_module_doctests(name):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(f"pymock.{name}"))
    assert result.failed == 0


# ---------------------------------------------------------------- JSON bodies

def test_static_body_is_static_and_returned_as_is():
    value_ = {"a": [1, {"b": "plain"}], "c": None}
    body = compile_body(value_)
    assert isinstance(body, BodyTemplate) and body.is_static and body.render({}) is value_
    assert compile_body(5).render({}) == 5 and compile_body("x").is_static


def test_body_keeps_types_of_single_expressions():
    body = compile_body({
        "int": "{{ n }}", "text_int": "{{ n | string }}", "float": "{{ n / 2 }}", "bool": "{{ n > 1 }}",
        "null": "{{ none }}", "missing": "{{ nope }}", "list": "{{ items }}", "dict": "{{ {'k': n} }}",
        "mixed": "n={{ n }}", "spaced": " {{ n }}", "two": "{{ n }}{{ n }}", "static": 1.5,
        "nested": [{"deep": ["{{ n * 10 }}", "x"]}], "{{ 'key_' ~ n }}": "{{ items | first }}",
    })
    assert not body.is_static
    rendered = body.render({"n": 4, "items": ["a", "b"]}, make_env())
    assert rendered == {
        "int": 4, "text_int": "4", "float": 2.0, "bool": True, "null": None, "missing": None,
        "list": ["a", "b"], "dict": {"k": 4}, "mixed": "n=4", "spaced": " 4", "two": "44", "static": 1.5,
        "nested": [{"deep": [40, "x"]}], "key_4": "a"}
    assert type(rendered["int"]) is int and type(rendered["text_int"]) is str


def test_body_top_level_string_and_list():
    assert compile_body("{{ items }}").render({"items": [1]}) == [1]
    assert compile_body(["{{ 1 + 1 }}", "a", ("{{ 2 }}",)]).render({}) == [2, "a", [2]]
    assert compile_body(("x",)).is_static


def test_body_keys_render_as_text():
    assert compile_body({"{{ n }}": 1}).render({"n": 4}) == {"4": 1}


def test_body_template_with_set_does_not_touch_the_context():
    context = {"x": 1}
    assert compile_body({"a": "{% set x = 2 %}{{ x }}"}).render(context) == {"a": "2"}
    assert context == {"x": 1}


def test_body_errors_name_the_place_in_the_body():
    with pytest.raises(TemplateError) as info:
        compile_body({"items": [{"name": "ok"}, {"name": "{{ x | uper }}"}]}, "endpoints[0].response")
    assert str(info.value) == ("endpoints[0].response.items[1].name:1:8: unknown filter 'uper' "
                               "(did you mean 'upper'?); the filters are listed in docs/templates.md")
    with pytest.raises(TemplateError) as info:
        compile_body({"a b": {"{{ }}": 1}})
    assert str(info.value) == 'body["a b"]["{{ }}"] (key):1:1: empty \'{{ }}\': put an expression between the braces'


NASTY = 'quote " backslash \\ newline \n tab \t cr \r nul \x00 unicode é \u2028 emoji 🎉 </script>'


def test_request_data_rendered_into_a_json_body_stays_valid_json():
    request = make_request(body=json.dumps({"msg": NASTY, "list": [NASTY]}).encode())
    context = {"request": request_view(request, {"id": NASTY})}
    body = compile_body({
        "echo": "{{ request.json.msg }}", "prefixed": "msg: {{ request.json.msg }}!",
        "raw_body": "{{ request.body }}", "param": "{{ request.path.id }}", "list": "{{ request.json.list }}",
        "{{ request.json.msg }}": "as key", "json_text": "{{ request.json.msg | json }}",
    })
    payload = json.dumps(body.render(context, make_env()))
    parsed = json.loads(payload)
    assert parsed["echo"] == NASTY and parsed["prefixed"] == f"msg: {NASTY}!"
    assert json.loads(parsed["raw_body"]) == {"msg": NASTY, "list": [NASTY]}
    assert parsed["param"] == NASTY and parsed["list"] == [NASTY] and parsed[NASTY] == "as key"
    assert json.loads(parsed["json_text"]) == NASTY


def test_json_filter_makes_text_templates_valid_json():
    context = {"m": NASTY}
    assert json.loads(render('{"m": {{ m | json }}}', context)) == {"m": NASTY}


# ---------------------------------------------------------------- the request view

def test_request_view_fields():
    request = make_request()
    view = request_view(request, {"id": "7"})
    source = ("{{ request.method }}|{{ request.url }}|{{ request.path }}|{{ request.path.id }}|"
              "{{ request.path_params }}|{{ request.path_segments }}|{{ request.query }}|{{ request.query_all }}|"
              "{{ request.headers['X-API-KEY'] }}|{{ request.headers.cookie }}|{{ request.cookies }}|"
              "{{ request.json.count }}|{{ request.client_ip }}|{{ request.scheme }}|{{ request.id }}")
    assert compile_template(source).render({"request": view}) == (
        'POST|/users/7?page=2&tag=a&tag=b|/users/7|7|{"id": "7"}|["users", "7"]|{"page": "2", "tag": "a"}|'
        '{"page": ["2"], "tag": ["a", "b"]}|secret-key|session=abc123|{"session": "abc123"}|3|203.0.113.9|'
        "https|req-1")
    assert compile_template("{{ request.body }}").render({"request": view}) == BODY.decode()


def test_request_view_headers_ignore_case_everywhere():
    headers = request_view(make_request())["headers"]
    assert headers["X-Api-Key"] == headers["x-api-key"] == headers.get("X-API-KEY") == "secret-key"
    assert "X-Api-Key" in headers and headers.get("nope", "-") == "-" and 5 not in headers
    assert render("{{ 'X-API-KEY' in h }} {{ h['CONTENT-type'] }}", h=headers) == "true application/json"


def test_request_view_is_lazy_for_body_json_and_cookies():
    view = request_view(make_request(), {})
    assert not dict.__contains__(view, "json") and "json" in view
    assert render("{{ request.json.name }}", {"request": view}) == "Ada Lovelace"
    assert dict.__contains__(view, "json") and not dict.__contains__(view, "body")
    assert view["body"] == BODY.decode() and view.get("cookies") == {"session": "abc123"}
    assert view.get("nope", 1) == 1
    with pytest.raises(KeyError):
        view["nope"]


def test_request_view_behaves_as_a_whole_dict():
    view = request_view(make_request(), {"id": "7"})
    assert len(view) == 14
    assert sorted(view) == sorted(["method", "url", "path", "path_params", "path_segments", "query",
                                   "query_all", "headers", "cookies", "body", "json", "client_ip",
                                   "scheme", "id"])
    dumped = json.loads(json.dumps(view))
    assert dumped["json"]["tags"] == ["math", "poetry"] and dumped["path"] == "/users/7"
    assert view == request_view(make_request(), {"id": "7"}) and dict(view) == dict(view.items())
    assert list(view.keys()) == list(dict(view)) and len(list(view.values())) == 14
    assert repr(view).startswith("{'method': 'POST'")
    assert render("{{ request | length }} {{ request | keys | length }} {% for k in request %}.{% endfor %}",
                  {"request": request_view(make_request())}) == "14 14 " + "." * 14


def test_request_view_without_body_params_or_client():
    request = Request("GET", "/", body=b"not json")
    request.client = None
    view = request_view(request)
    assert view["json"] is None and view["client_ip"] == "" and view["path_segments"] == []
    assert render("[{{ request.json.x }}{{ request.path.id }}{{ request.path[0] }}]", {"request": view}) == "[]"


# ---------------------------------------------------------------- counters and threads

def test_counters_api():
    counters = Counters()
    assert counters.next("a") == 1 and counters.next("a") == 2 and counters.next("a", step=5) == 7
    assert counters.next("b") == 1 and counters.get("a") == 7 and counters.get("zzz") == 0
    assert counters.snapshot() == {"a": 7, "b": 1}
    counters.reset("a")
    assert counters.snapshot() == {"b": 1}
    counters.reset("missing")
    counters.reset()
    assert counters.snapshot() == {}


def test_counters_lose_no_update_under_many_threads():
    counters = Counters()
    env = RenderEnv(clock=lambda: CLOCK, rng=random.Random(1), counters=counters)
    template = compile_template("{{ counter('hits') }}")
    seen, lock = [], threading.Lock()
    start = threading.Barrier(8)

    def work():
        start.wait()
        mine = [template.render_value({}, env) for _ in range(500)]
        mine += [counters.next("direct") for _ in range(500)]
        with lock:
            seen.extend(mine[:500])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.get("hits") == 4000 and counters.get("direct") == 4000
    assert sorted(seen) == list(range(1, 4001))


def test_one_template_renders_correctly_from_many_threads():
    template = compile_template("{% for i in range(n) %}{{ i * k }},{% endfor %}")
    results, errors = {}, []

    def work(k):
        try:
            results[k] = [template.render({"n": 50, "k": k}) for _ in range(20)]
        except Exception as exc:  # pragma: no cover - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for k, outputs in results.items():
        assert set(outputs) == {"".join(f"{i * k}," for i in range(50))}


# ---------------------------------------------------------------- docs/templates.md is true

INLINE = re.compile(r"^- `(?P<t>.+?)` → (?:`(?P<o>[^`]*)`|\*\(empty\)\*)\s*$", re.MULTILINE)
BLOCKS = re.compile(r"```(?P<tk>jinja|json)\n(?P<t>(?:(?!```).)*)```\nrenders:\n```(?P<ok>text|json)\n(?P<o>.*?)```",
                    re.DOTALL)
ERROR_ROW = re.compile(r"^\| `(?P<t>[^`]+)` \| `(?P<line>\d+):(?P<col>\d+): (?P<m>.+)` \|$", re.MULTILINE)


def _docs():
    if not DOCS.is_file():  # pragma: no cover - the docs ship with the repo
        pytest.skip(f"{DOCS} not found")
    return DOCS.read_text(encoding="utf-8")


def test_docs_inline_examples_render_as_documented():
    examples = INLINE.findall(_docs())
    assert len(examples) > 100
    wrong = []
    for source, expected in examples:
        got = compile_template(source, "docs").render(docs_context(), make_env())
        if got != expected:
            wrong.append((source, expected, got))
    assert wrong == []


def test_docs_block_examples_render_as_documented():
    blocks = list(BLOCKS.finditer(_docs()))
    assert len(blocks) >= 8
    for block in blocks:
        if block["tk"] == "json":
            got = compile_body(json.loads(block["t"]), "docs").render(docs_context(), make_env())
            assert got == json.loads(block["o"])
        else:
            got = compile_template(block["t"][:-1], "docs").render(docs_context(), make_env())
            assert got == block["o"][:-1]


def test_docs_error_tables_are_exact():
    rows = ERROR_ROW.findall(_docs())
    assert len(rows) >= 12
    for source, line, col, message in rows:
        source, message = source.replace(r"\|", "|"), message.replace(r"\|", "|")
        with pytest.raises(TemplateError) as info:
            compile_template(source, "docs").render(docs_context(), make_env())
        assert (info.value.line, info.value.col, info.value.message) == (int(line), int(col), message)


def test_docs_render_time_errors_with_and_without_page():
    template = compile_template("{{ request.query.page + 1 }}")
    for target, message in [("/x", "'request.query.page' is undefined; give it a fallback with | default(...)"),
                            ("/x?page=2", "cannot use '+' on string and int; convert first with | int, | float "
                                          "or | string (use ~ to join text)")]:
        with pytest.raises(TemplateError) as info:
            template.render({"request": request_view(make_request(target))})
        assert info.value.message == message and _docs().count(message.replace("|", r"\|")) == 1


def test_docs_show_every_filter_function_and_fake_field():
    text = _docs()
    examples = " ".join(source for source, _ in INLINE.findall(text))
    assert [f for f in FILTER_NAMES if not re.search(rf"\|\s*{f}\b", examples)] == []
    assert [h for h in HELPER_NAMES if f"{h}(" not in examples] == []
    assert [f for f in FAKE_FIELDS if f"fake.{f}" not in examples] == []
    assert "MAX_LOOP_ITERATIONS" in text and "MAX_OUTPUT_CHARS" in text and "MAX_NESTING" in text


def test_docs_python_api_example():
    env = make_env()
    greeting = compile_template("Hello {{ name | title }}, it is {{ now('%H:%M') }}")
    assert greeting.render({"name": "ada"}, env) == "Hello Ada, it is 03:04"
    body = compile_body({"total": "{{ items | sum }}", "items": "{{ items }}"})
    assert body.render({"items": [1, 2]}, env) == {"total": 3, "items": [1, 2]}


def test_module_doctests():
    result = doctest.testmod(templates)
    assert result.attempted >= 10 and result.failed == 0


def test_public_names():
    assert set(templates.__all__) >= {"compile_template", "compile_body", "has_template_syntax", "request_view",
                                      "Template", "BodyTemplate", "RenderEnv", "Counters"}
    assert all(hasattr(templates, name) for name in templates.__all__)
    assert isinstance(compile_template("{{ x }}"), Template)
