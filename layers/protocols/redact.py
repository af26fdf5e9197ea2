"""Redaction of personal data from text that leaves the system (CAP, Open311): pure functions.

Citizens write phone numbers, names, plates and addresses into their reports ("王先生反映…，电话
138 0013 8000"); the public outputs must not repeat them. `redact(text)` replaces, in Chinese and
English text alike:

- e-mail addresses;
- ID card numbers (18 digits with a valid date, last X; the old 15-digit form) and bank cards;
- phone numbers: mainland mobiles 1[3-9]x (plain, spaced, dashed, dotted, with +86/0086/(+86)),
  landlines with an area code (022-2345 6789, (022)23456789, +86 22 2345 6789, extensions),
  and any number written after a phone word (电话/手机/tel/phone/call...);
- messaging handles after 微信/QQ/WeChat;
- licence plates: 津A12345, 京B·D1234, 粤B D12345 (new energy), 津A1234学, and any plate written
  after 车牌/plate;
- names given as "姓名/联系人/报案人/name/contact...: X", "X先生/X女士/X小姐", "Mr/Ms X", "我叫X",
  "my name is X";
- flat and room numbers (3号楼2单元302室, room 302, Apt 5B, 12-3-402);
- and, last, any other run of seven or more digits.

Each is replaced by a bracketed word saying what was there, in the language of the text ("[电话]"
in text with Chinese characters, "[phone]" otherwise; a name before 先生/女士 becomes 某, as in
"某先生"). Redaction errs on the side of removing too much: a public sentence missing a number is
better than one carrying a citizen's phone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

HAN = "\u4e00-\u9fff"
D = "[0-9\uff10-\uff19]"                      # a digit, ASCII or full-width
SEP = "[ \u3000.\\-\u2010-\u2015]"            # a separator inside a number
NOT_DIGIT_BEFORE, NOT_DIGIT_AFTER = r"(?<![0-9\uff10-\uff19])", r"(?![0-9\uff10-\uff19])"
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
SURNAMES = ("欧阳|司马|上官|诸葛|王|李|张|刘|陈|杨|赵|黄|周|吴|徐|孙|胡|朱|高|林|何|郭|马|罗|梁|"
            "宋|郑|谢|韩|唐|冯|董|萧|程|曹|袁|邓|许|傅|沈|曾|彭|吕|苏|卢|蒋|蔡|贾|丁|魏|薛|叶|"
            "阎|余|潘|杜|戴|夏|钟|汪|田|任|姜|范|方|石|姚|谭|廖|邹|熊|陆|郝|孔|白|崔|康|毛|邱|"
            "秦|江|史|顾|侯|邵|孟|段|雷|钱|汤|尹|黎|易|常|武|乔|贺|赖|龚|庞|樊|殷|施|陶|洪|翟|"
            "颜|倪|严|牛|温|季|俞|章|葛|伍|韦|申|尤|毕|聂|焦|柳|邢|岳|齐|梅|莫|庄|辛|祝|涂|祁|"
            "舒|耿|詹|苗|凌|费|纪|靳|盛|童|甄|项|曲|游|裴|席|卫|鲍|覃|霍|翁|隋|薄|柏|柯|阮|闵|"
            "柴|冉|辜|饶|刁|瞿|戚|滕|苑|邬|臧|宫|褚|廉|娄|符|穆|党|燕|郎|姬|屠|栾|郁|窦|迟|敖|"
            "鄢|冷|卓|仇|艾|蓝|巩|仲|虞|卞|封|竺|冼|佟|栗|匡|鞠|荆|谌|岑|胥|蔺")  # common, unambiguous
TITLES = "先生|女士|小姐|同志|师傅|阿姨|大爷|大妈"
EN_WORD = "[A-Z][A-Za-z'\u2019-]*"

WORDS = {  # kind -> (zh, en)
    "phone": ("[电话]", "[phone]"), "id": ("[证件号]", "[ID number]"),
    "card": ("[卡号]", "[card number]"), "email": ("[邮箱]", "[e-mail]"),
    "plate": ("[车牌]", "[plate]"), "name": ("[姓名]", "[name]"), "handle": ("[账号]", "[account]"),
    "room": ("[门牌]", "[flat]"), "number": ("[号码]", "[number]"),
}


def _cue(zh: str, en: str) -> str:
    """Words that announce a personal value: Chinese ones anywhere, English ones as whole words,
    then an optional 是/为/is/: before the value."""
    return (rf"(?:(?:{zh})|(?i:\b(?:{en})\b))\.?\s*(?:号码|number|no\.?)?\s*"
            rf"(?:是|为|(?i:is|at|on)\b|[:：#])?\s*")


def _digits(n: int) -> str:
    """n digits, each optionally preceded by one separator (138 0013 8000, 138-0013-8000)."""
    return f"{D}" + f"(?:{SEP}?{D})" * (n - 1)


_CC = r"(?:(?:\+|＋|00)\s?86[\s\-]?|[(（]\s?\+?86\s?[)）]\s?)"     # +86, 0086, (+86)
_EXT = r"(?:\s?(?:转|分机|ext\.?|x)\s?" + D + "{1,6})?"
_DATE = "(?:18|19|20)" + D + "{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]" + D + "|3[01])"

# (kind, pattern, group holding the personal part or 0 for all); applied in this order
_RULES: list[tuple[str, str, int]] = [
    ("email", r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+[@＠][A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", 0),
    ("id", NOT_DIGIT_BEFORE + "[1-9]" + D + "{5}" + SEP + "?" + _DATE + SEP + "?" + D
     + "{3}[0-9Xx\uff10-\uff19]" + r"(?![0-9A-Za-z])", 0),
    ("id", NOT_DIGIT_BEFORE + "[1-9]" + D + "{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]" + D + "|3[01])"
     + D + "{3}" + NOT_DIGIT_AFTER, 0),
    ("plate", f"[{PROVINCES}]" + r"[A-Za-z\uff21-\uff3a]\s?[·•・.\-]?\s?"
     r"(?:[A-Za-z0-9]{5,6}|[A-Za-z0-9]{4}[挂学警港澳领试超])(?![A-Za-z0-9])", 0),
    ("plate", _cue("车牌号?|牌照", r"licen[cs]e\s+plate|plate|registration")
     + r"([A-Za-z0-9" + HAN + r"·\-]{5,10})", 1),
    ("card", NOT_DIGIT_BEFORE + D + "{4}(?:" + SEP + "?" + D + "{4}){3}(?:" + SEP + "?" + D
     + "{1,3})?" + NOT_DIGIT_AFTER, 0),
    ("phone", NOT_DIGIT_BEFORE + _CC + "?" + "1[3-9]" + _digits(9) + NOT_DIGIT_AFTER + _EXT, 0),
    ("phone", NOT_DIGIT_BEFORE + r"(?:" + _CC + r"[(（]?[1-9]" + D + r"{1,2}[)）]?|[(（]?0"
     + D + r"{2,3}[)）]?)" + SEP + r"?" + D + r"{3,4}" + SEP + r"?" + D + r"{4}"
     + NOT_DIGIT_AFTER + _EXT, 0),
    ("phone", _cue("联系电话|电话|手机|座机|联系方式|传真|拨打|致电", r"tel|telephone|phone|mobile|"
                   r"cell|fax|call(?:\s+me)?|reach\s+me|text\s+me")
     + r"((?:\+|＋)?[0-9\uff10-\uff19(（][0-9\uff10-\uff19 ()（）.\-]{3,}[0-9\uff10-\uff19])", 1),
    ("handle", _cue("微信号?|QQ号?|qq号?", "wechat|weixin|vx|qq") + r"([A-Za-z0-9_\-@.]{4,30})", 1),
    ("name", r"(?:(?:姓名|名字|联系人|报案人|举报人|反映人|投诉人|来电人|求助人|当事人|业主|户主)"
     r"|(?i:\b(?:name|contact(?:\s+person)?|reporter|caller|complainant|reported\s+by)\b))"
     r"\s*[:：]\s*"
     r"((?:[" + HAN + r"·]{1,4}?(?=" + TITLES + r"|[^" + HAN + r"·]|$)|[" + HAN + r"]{3})"
     r"|" + EN_WORD + r"(?:\s+" + EN_WORD + r"){0,2}|[a-z][a-z'\u2019-]*(?:\s+[a-z][a-z'\u2019-]*)?)",
     1),
    ("name", r"(?:我叫|本人叫|我的名字是)\s*([" + HAN + r"·]{2,4}?)(?=[^" + HAN + r"]|$|，|,)", 1),
    ("name", r"(?i:my\s+name\s+is\s+|i\s+am\s+called\s+)(" + EN_WORD + r"(?:\s+" + EN_WORD
     + r")?|[a-z][a-z'\u2019-]*)", 1),
    ("title", r"((?:" + SURNAMES + r")[" + HAN + r"]{0,2}?)(?=" + TITLES + ")", 1),
    ("title", r"(?:^|(?<=[^" + HAN + r"])|(?<=[和与及跟同]))([" + HAN + r"])(?=" + TITLES + ")",
     1),
    ("name", r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Madam)\.?\s+(" + EN_WORD + r"(?:\s+" + EN_WORD + r")?)", 1),
    ("room", NOT_DIGIT_BEFORE + D + r"+\s?(?:号楼|栋|幢|座)(?:\s?" + D + r"+\s?(?:单元|门))?(?:\s?" + D
     + r"+\s?(?:室|号|户|房))?", 0),
    ("room", NOT_DIGIT_BEFORE + D + r"{2,5}\s?(?:室|户|房间)", 0),
    ("room", r"(?i:\b(?:room|rm\.?|apt\.?|apartment|flat|unit|suite)\s*(?:no\.?|number|#)?\s*)"
     r"(" + D + r"+[A-Za-z]?\b|[A-Za-z]" + D + r"+\b)", 1),
    ("room", NOT_DIGIT_BEFORE + D + r"{1,3}-" + D + r"{1,2}-" + D + r"{3,4}" + NOT_DIGIT_AFTER, 0),
    ("number", D + "{7,}", 0),
]
_COMPILED = [(kind, re.compile(pattern), group) for kind, pattern, group in _RULES]
_HAN = re.compile(f"[{HAN}]")
_LATIN = re.compile("[A-Za-z]")


def language(text: str) -> str:
    """'zh' for text mostly in Chinese (a plate or a name in English text does not count),
    else 'en': the language of the words that replace what is cut."""
    han = len(_HAN.findall(text))
    return "zh" if han and 4 * han >= len(_LATIN.findall(text)) else "en"


def _replacer(kind: str, group: int, lang: str) -> Callable[[re.Match], str]:
    word = "某" if kind == "title" else WORDS[kind][0 if lang == "zh" else 1]

    def replace(m: re.Match) -> str:
        if not group:
            return word
        start, end = m.span(group) if m.group(group) is not None else (m.end(), m.end())
        whole = m.group(0)
        return whole[:start - m.start()] + word + whole[end - m.start():]

    return replace


def redact(text: str | None, lang: str | None = None) -> str | None:
    """The text with personal data replaced (None stays None). `lang` chooses the replacement
    words ('zh'/'en'); by default the text's own language."""
    if not text:
        return text
    lang = lang or language(text)
    out = str(text)
    for kind, rx, group in _COMPILED:
        out = rx.sub(_replacer(kind, group, lang), out)
    return out


def redact_fields(record: dict, names: tuple[str, ...]) -> dict:
    """A copy of `record` with the text fields `names` redacted."""
    return {k: redact(v) if k in names and isinstance(v, str) else v for k, v in record.items()}
