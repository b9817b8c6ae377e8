"""Private helpers of :mod:`geo.synth`: integer allocation under bounds, and Chinese names.

:func:`allocate` is a small water-filling routine written here rather than taken from a
library because it must hit an exact total while honouring a lower and an upper bound per
entry (numpy's multinomial honours neither bound).
"""

from __future__ import annotations

import numpy as np

__all__ = ["allocate", "cn_number", "community_names", "compound_names", "place_names"]


def allocate(
    total: int,
    weights: np.ndarray,
    lo: np.ndarray | int,
    hi: np.ndarray | int,
) -> np.ndarray:
    """Integers ``x`` with ``lo <= x <= hi``, ``x.sum() == total``, roughly proportional to weights.

    Parameters
    ----------
    total : int
        The exact sum wanted.
    weights : array of float
        Non-negative weights, one per entry.
    lo, hi : int or array of int
        Inclusive bounds per entry (broadcast against ``weights``).

    Raises
    ------
    ValueError
        If ``sum(lo) > total`` or ``sum(hi) < total`` or a bound pair is inverted.
    """
    w = np.asarray(weights, dtype=float)
    n = len(w)
    lo_a = np.broadcast_to(np.asarray(lo, dtype=np.int64), (n,)).copy()
    hi_a = np.broadcast_to(np.asarray(hi, dtype=np.int64), (n,)).copy()
    if (lo_a > hi_a).any() or lo_a.sum() > total or hi_a.sum() < total:
        raise ValueError(
            f"cannot allocate {total} over {n} entries with bounds summing to "
            f"[{lo_a.sum()}, {hi_a.sum()}]"
        )
    x = lo_a.copy()
    rem = int(total - x.sum())
    while rem > 0:
        slack = hi_a - x
        active = slack > 0
        wa = np.where(active, np.maximum(w, 0.0), 0.0)
        if wa.sum() <= 0:
            wa = active.astype(float)
        share = rem * wa / wa.sum()
        add = np.minimum(np.floor(share).astype(np.int64), slack)
        if add.sum() == 0:
            order = np.argsort(-(share - np.floor(share)) - share * 1e-12, kind="stable")
            order = order[active[order]][:rem]
            add = np.zeros(n, dtype=np.int64)
            add[order] = 1
        x += add
        rem -= int(add.sum())
    return x


_DIGITS = "零一二三四五六七八九"


def cn_number(k: int) -> str:
    """Chinese numeral for ``1 <= k <= 999``: ``cn_number(17) == "十七"``."""
    if not 1 <= k <= 999:
        raise ValueError(f"cn_number handles 1..999, got {k}")
    hundreds, rest = divmod(k, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _DIGITS[hundreds] + "百"
        if rest and tens == 0:
            return out + "零" + _DIGITS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if ones:
        out += _DIGITS[ones]
    return out


_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯邓曹彭曾田董潘袁蔡蒋杜叶程魏苏"
    "吕丁任沈姚卢姜崔谭陆范汪石金贾夏付方白孟秦江薛段雷侯龙史陶贺顾郝邵万严武孔汤"
)
_MIDDLES = "家大小东西前后新老上下"
_PLACES = "庄营集湾寨岗堡沟井滩台洼店口坊屯园庙桥河湖坡梁塘圈窑岔峁渠"
_TOWN_FIRSTS = "东西南北大小新高青红白黄清长永太安双三柳石沙龙马杨花金"
_TOWN_SECONDS = "山河泉井堡桥集店营庄湖池坑沟岗阳平城镇湾"

_COMMUNITY_WORDS = [
    "南关",
    "北关",
    "东关",
    "西关",
    "新华",
    "建设",
    "文化",
    "人民",
    "幸福",
    "和平",
    "团结",
    "振兴",
    "朝阳",
    "光明",
    "育才",
    "花园",
    "长城",
    "民主",
    "胜利",
    "友谊",
    "东风",
    "兴盛",
    "富民",
    "滨河",
    "锦绣",
    "康宁",
    "安居",
    "鼓楼",
    "盛世",
    "阳光",
    "龙泉",
    "城南",
    "城北",
    "城东",
    "城西",
    "新区",
    "裕民",
    "和谐",
    "春晖",
    "金鼎",
    "红星",
    "解放",
    "中山",
    "迎宾",
    "福苑",
    "永安",
    "吉祥",
    "平安",
    "福泽",
    "西苑",
]
_COMPOUND_WORDS = [
    "阳光",
    "锦绣",
    "金色",
    "幸福",
    "华府",
    "御景",
    "翠苑",
    "康乐",
    "丽景",
    "书香",
    "盛世",
    "馨园",
    "欣苑",
    "帝景",
    "名都",
    "瑞祥",
    "世纪",
    "怡和",
    "嘉禾",
    "龙湾",
    "滨河",
    "府前",
    "学府",
    "湖畔",
    "东方",
    "紫荆",
    "玉兰",
    "桂园",
    "和顺",
    "鑫源",
]
_COMPOUND_TAILS = ("", "花园", "家园", "新村", "佳苑", "名苑", "雅居", "一期", "二期")


def place_names(rng: np.random.Generator, n: int, *, kind: str) -> list[str]:
    """``n`` distinct plausible place-name stems.

    ``kind="village"`` gives stems like 王庄 or 李家湾; ``kind="township"`` stems like 红泉.
    """
    if kind == "village":
        two = [a + c for a in _SURNAMES for c in _PLACES]
        three = [a + b + c for a in _SURNAMES for b in _MIDDLES for c in _PLACES]
        pool = np.array(two + three)
    elif kind == "township":
        pool = np.array([a + b for a in _TOWN_FIRSTS for b in _TOWN_SECONDS])
    else:
        raise ValueError(f"unknown kind {kind!r}; expected 'village' or 'township'")
    if n > len(pool):
        raise ValueError(f"cannot make {n} distinct {kind} names (at most {len(pool)})")
    return [str(s) for s in pool[rng.permutation(len(pool))[:n]]]


def community_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct community names ending with 社区 (南关社区, 新华社区, ...)."""
    words = list(_COMMUNITY_WORDS)
    pool = words + [a + b for a in ("东", "西", "南", "北", "新") for b in words]
    if n > len(pool):
        raise ValueError(f"cannot make {n} distinct community names (at most {len(pool)})")
    first = rng.permutation(len(words)).tolist()
    rest = (len(words) + rng.permutation(len(pool) - len(words))).tolist()
    return [pool[i] + "社区" for i in (first + rest)[:n]]


def compound_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct residential-compound names ending with 小区 (阳光花园小区, ...)."""
    pool = [w + t for t in _COMPOUND_TAILS for w in _COMPOUND_WORDS]
    order = rng.permutation(len(pool)).tolist()
    names = [pool[i] + "小区" for i in order[:n]]
    k = 1
    while len(names) < n:
        names.append(f"{pool[order[k % len(pool)]]}{cn_number(k // len(pool) + 3)}期小区")
        k += 1
    return names
