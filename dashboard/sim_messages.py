"""The simulation's refusals in the UI language.

`sim` is pure and speaks English (its errors name the scenario path and the fix, for the CLI and
files); the Scenarios page shows them in the page's language. The sentences sim and pydantic
write are few and fixed, so each has a pattern here and its Chinese form; a message with no
pattern is shown as sim wrote it (a test walks every form field's refusals and fails on one
left in English).
"""

from __future__ import annotations

import re

# (English pattern, Chinese replacement): applied in order, the longer forms first
_ZH: tuple[tuple[str, str], ...] = (
    (r"Input should be greater than or equal to (\S+)", r"应不小于 \1"),
    (r"Input should be less than or equal to (\S+)", r"应不大于 \1"),
    (r"Input should be greater than (\S+)", r"应大于 \1"),
    (r"Input should be less than (\S+)", r"应小于 \1"),
    (r"Input should be a valid (number|integer)[^;]*", r"应为数字"),
    (r"Input should be a valid string[^;]*", r"应为文字"),
    (r"Input should be (?:a finite number|finite)[^;]*", r"应为有限的数"),
    (r"Field required", r"必填"),
    (r"Extra inputs are not permitted", r"不是此类情景的参数"),
    (r"'([^']*)' is not a (.+?): use seconds or e\.g\. .*?(?=;|$)",
     r"“\1”不是有效的\2：请填秒数，或如 30s、10m、6h、14d"),
    (r"(\S+ \(output_every\)) must not exceed (\S+ \(duration\))", r"\1不得超过\2"),
    (r"location \((\S+), (\S+)\) is outside the twin '([^']*)': choose a point inside it",
     r"位置 (\1, \2) 不在本孪生城市（\3）范围内：请选择范围内的点"),
    (r"location\.facility '([^']*)' is not in the twin's facilities \(ids like ([^)]*)\)",
     r"设施 “\1” 不在本孪生城市的设施中（编号如 \2）"),
    (r"no shelter of the twin lies outside the evacuation zone: add facilities of kind "
     r"'shelter' or shrink the zone", r"疏散区外没有避难场所：请增加避难场所或缩小疏散半径"),
    (r"run (\w+) is no longer stored \(only the last (\d+) are kept\): run the scenario again",
     r"推演结果 \1 已不在保存范围内（只保留最近 \2 次）：请重新运行该情景"),
)
_COMPILED = tuple((re.compile(p), r) for p, r in _ZH)


def error_text(message: str, lang: str) -> str:
    """A sim refusal in `lang` (zh: each known sentence translated; en: as written)."""
    if lang != "zh":
        return message
    for pattern, replacement in _COMPILED:
        message = pattern.sub(replacement, message)
    return message.replace("; ", "；")
