"""Redaction of personal data from public text (CAP, Open311), over Chinese and English samples.

Each sample names what must disappear and what must stay, so the rule is both "no personal data
out" and "the report still reads".
"""

from __future__ import annotations

import pytest

from layers.protocols.redact import language, redact, redact_fields

# (text, personal parts that must be gone, words that must stay)
PHONES = [
    ("居民反映电话13800138000无人接听", ["13800138000"], ["居民反映", "无人接听"]),
    ("手机 138 0013 8000", ["138 0013 8000", "0013"], ["手机"]),
    ("联系 138-0013-8000 王", ["138-0013-8000"], ["联系"]),
    ("电话１３９１２３４５６７８", ["１３９１２３４５６７８"], ["电话"]),
    ("+86 139 1234 5678 called", ["139 1234 5678", "5678"], ["called"]),
    ("0086-13912345678", ["13912345678"], []),
    ("（+86）13912345678", ["13912345678"], []),
    ("座机022-2345 6789转123", ["2345 6789", "123"], ["座机"]),
    ("landline (022)23456789 ext. 12", ["23456789"], ["landline"]),
    ("office +86 22 2345 6789", ["2345 6789"], ["office"]),
    ("tel: 2345 6789", ["2345 6789"], ["tel"]),
    ("Call me at 555-0199", ["555-0199"], ["Call me"]),
    ("Shenzhen 0755 8888 6666 please", ["8888 6666"], ["Shenzhen", "please"]),
]
IDS_AND_MORE = [
    ("身份证120101199001011234丢了", ["120101199001011234"], ["身份证", "丢了"]),
    ("ID 11010519491231002X lost", ["11010519491231002X"], ["lost"]),
    ("ID 110105 19491231 002x", ["19491231"], []),
    ("old card 120101900101123", ["120101900101123"], ["old card"]),
    ("邮箱 zhang.san@example.com 请回复", ["zhang.san@example.com", "example"], ["请回复"]),
    ("mail me: a_b+c@mail.gov.cn", ["a_b+c@mail.gov.cn"], ["mail me"]),
    ("bank card 6222 0212 3456 7890 123", ["6222 0212 3456 7890"], ["bank card"]),
    ("微信 zhangsan_88 联系", ["zhangsan_88"], ["联系"]),
    ("QQ: 12345678", ["12345678"], ["QQ"]),
]
PLATES = [
    ("津A12345占用消防通道", ["津A12345", "12345"], ["占用消防通道"]),
    ("京B·D1234 parked on the lane", ["京B·D1234", "D1234"], ["parked on the lane"]),
    ("新能源车粤B D12345违停", ["粤B D12345", "D12345"], ["新能源车", "违停"]),
    ("教练车津A1234学", ["津A1234学"], ["教练车"]),
    ("津AF12345", ["AF12345"], []),
    ("车牌号是津b8m888", ["b8m888"], ["车牌号"]),
    ("white van, plate AB12CDE", ["AB12CDE"], ["white van"]),
]
NAMES = [
    ("王先生反映楼道堆物", ["王"], ["先生反映楼道堆物"]),
    ("联系王小明先生", ["王小明"], ["联系", "先生"]),
    ("李女士和阚先生", ["李", "阚"], ["女士", "先生"]),
    ("姓名：张三，住址不详", ["张三"], ["住址不详"]),
    ("联系人: 欧阳娜娜", ["欧阳娜娜"], ["联系人"]),
    ("报案人：李四反映", ["李四"], ["报案人"]),
    ("我叫李小红，在小区门口", ["李小红"], ["在小区门口"]),
    ("Name: John Smith, complaint about noise", ["John", "Smith"], ["complaint about noise"]),
    ("contact: mary lee", ["mary", "lee"], []),
    ("Mrs. Li called twice", ["Li"], ["Mrs.", "called twice"]),
    ("Dr Sun Wei checked", ["Sun Wei"], ["checked"]),
    ("my name is Wang Wei and I live here", ["Wang", "Wei"], ["and I live here"]),
]
ROOMS = [
    ("3号楼2单元302室漏水", ["302", "3号楼"], ["漏水"]),
    ("住在1502室", ["1502"], ["住在"]),
    ("suspect lives in room 302", ["302"], ["suspect lives in"]),
    ("Apt 5B has no water", ["5B"], ["has no water"]),
    ("住12-3-402", ["12-3-402"], []),
]


@pytest.mark.parametrize("text, gone, kept", PHONES + IDS_AND_MORE + PLATES + NAMES + ROOMS)
def test_personal_data_is_removed_and_the_rest_of_the_text_stays(text, gone, kept):
    out = redact(text)
    assert not any(g in out for g in gone), out
    assert all(k in out for k in kept), out


@pytest.mark.parametrize("text", [
    "道路积水 0.3 m，持续 2 小时，共 12 条上报", "pH 7.25 at 14:30 on 2026-01-01",
    "regulations about hotels: 5 cases", "这位先生说", "一位女士反映", "新iPhone15", "12345热线",
    "G0006 网格 3 个单元", "waterlogging 2.8 m on 3 cells", "Call the fire brigade",
])
def test_text_without_personal_data_is_unchanged(text):
    assert redact(text) == text


def test_the_replacement_says_what_was_there_in_the_texts_language():
    assert redact("电话13800138000") == "电话[电话]"
    assert redact("phone 13800138000") == "phone [phone]"
    assert redact("Contact: John Smith, plate 津A12345") == "Contact: [name], plate [plate]"
    assert redact("王女士") == "某女士"


def test_the_language_is_the_texts_own_unless_given():
    assert language("楼道堆物") == "zh" and language("plate 津A12345 blocks the lane") == "en"
    assert redact("13800138000", lang="zh") == "[电话]"


def test_empty_text_stays_empty():
    assert redact(None) is None and redact("") == ""


def test_only_the_named_fields_of_a_record_are_redacted():
    record = {"description": "电话13800138000", "service_code": "noise", "lat": 39.0}
    assert redact_fields(record, ("description",)) == {
        "description": "电话[电话]", "service_code": "noise", "lat": 39.0}


def test_hostile_text_cannot_make_redaction_backtrack_for_long():
    """A report is at most a few KB, but a crafted one must not tie up a worker: every rule is
    anchored so that a long run is tried once (a quadratic rule took 25 s on this text)."""
    import time

    text = ("1" * 5000 + " ") * 20 + "a@" * 5000 + "津A" * 5000 + "电话 " + "1-" * 5000 \
        + "a." * 5000 + "@" + "Name: " + "Ab " * 3000 + "tel " * 3000 + "王" * 10000
    start = time.perf_counter()
    out = redact(text)
    assert "11111111" not in out
    assert time.perf_counter() - start < 10  # generous: the anchored rules take well under 1 s
