"""``payments.gateways.http.query_string``: the same text as ``urllib.parse.urlencode``."""

from urllib.parse import parse_qsl, urlencode

import pytest

from payments.gateways.http import query_string

HOSTILE = [
    "",
    " ",
    "plain-Value_1.2~3",
    "a b  c ",
    "&=+%/?#",
    "100%+sure? yes&no=maybe#frag",
    "https://learn.example.com/payments/result/K261202ABC/?x=1&y=2",
    "Python 入门课程 第一期",
    "emoji 🎓 and ZWJ 👩‍💻",
    "é vs e\u0301",
    "tab\tnewline\ncr\rnul\x00del\x7f",
    "quotes \"' <angle> [brackets] {braces} |pipe| \\back`tick^",
    "%20%2B already-escaped",
    "Zm9vYmFy+/Zm9v/YmFy+/==",
    "\u00a0non-breaking\u3000ideographic space",
    "\ufeffbom",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_each_value_encodes_as_urlencode(value):
    params = {"key": value, value: "as a key", "empty": ""}
    assert query_string(params) == urlencode(params)


def test_a_whole_signed_request_encodes_as_urlencode_and_reads_back():
    params = {f"k{i} {value}": value for i, value in enumerate(HOSTILE)}
    params["sign"] = "A" * 300 + "+/+/abc=="
    encoded = query_string(params)
    assert encoded == urlencode(params)
    assert dict(parse_qsl(encoded, keep_blank_values=True)) == params


def test_no_params_is_an_empty_string():
    assert query_string({}) == urlencode({}) == ""


def test_a_lone_surrogate_is_refused_as_urlencode_refuses_it():
    with pytest.raises(UnicodeEncodeError):
        urlencode({"k": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        query_string({"k": "\ud800"})
