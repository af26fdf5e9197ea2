"""Synthetic, real-looking names of the demo's grid managers (labelled synthetic in SOURCES.md).

Common Chinese surnames and given-name characters, drawn deterministically per grid, so a grid
manager reads like a person ("王芳") rather than a number; the demo users' grids keep the names
their accounts carry (data/users.yaml).
"""

from __future__ import annotations

import numpy as np

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建文辉鹏宇晨浩婷雪琳欣")
DEMO_USERS = {5: "王芳", 6: "王芳", 7: "王芳", 8: "李强", 9: "李强", 10: "李强"}


def grid_managers(grids: np.ndarray, seed: int = 0) -> list[str]:
    """One synthetic name per grid number (the demo users' grids get their accounts' names)."""
    rng = np.random.default_rng(seed + 7919)
    out = []
    for g in np.asarray(grids).tolist():
        surname = SURNAMES[rng.integers(len(SURNAMES))]
        given = "".join(GIVEN[i] for i in rng.integers(len(GIVEN), size=rng.integers(1, 3)))
        out.append(DEMO_USERS.get(int(g), surname + given))
    return out
