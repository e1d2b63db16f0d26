"""The prohibited-language matcher: insults, threats, false legal threats, shaming and
obscenity in Chinese and English, in any outgoing text and in notes.

The reviewed lexicon (``lexicon/prohibited.tsv``, category and term per line) is compiled
once into an Aho-Corasick automaton (pyahocorasick). Text is normalised before matching
and every match is reported with its span in the original text:

- NFKC (full-width letters, digits and punctuation to half-width), lower case;
- traditional characters to simplified for the characters the lexicon uses;
- Chinese terms match with spaces and separators removed (``弄 死 你``, ``弄*死*你``);
  Latin terms match on whole words with runs of spaces and separators read as one space
  (``k i l l`` is not caught, ``kill  you`` and ``KILL-YOU`` are; ``closer`` is not
  ``loser``).

A third-party text must not disclose the debt either: ``DEBT_TERMS`` are the words that
would (used by the compliance engine for contacts with third parties). The same machinery
finds threats of suit (``lexicon/suit_threat.tsv``, refused for a time-barred debt) and a
pack's opt-out phrases (``phrases_found``: does an e-mail or SMS tell how to opt out?).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick

LEXICON = Path(__file__).with_name("lexicon") / "prohibited.tsv"
SUIT_LEXICON = Path(__file__).with_name("lexicon") / "suit_threat.tsv"

# Traditional → simplified for the characters of the lexicon and the debt terms.
_SIMPLIFIED = str.maketrans(
    {
        "殺": "杀",
        "讓": "让",
        "門": "门",
        "們": "们",
        "補": "补",
        "報": "报",
        "貼": "贴",
        "網": "网",
        "單": "单",
        "領": "领",
        "導": "导",
        "鄰": "邻",
        "訊": "讯",
        "錄": "录",
        "騙": "骗",
        "獄": "狱",
        "廢": "废",
        "賴": "赖",
        "臉": "脸",
        "媽": "妈",
        "後": "后",
        "負": "负",
        "寧": "宁",
        "斷": "断",
        "潑": "泼",
        "紅": "红",
        "體": "体",
        "橫": "横",
        "懸": "悬",
        "賞": "赏",
        "債": "债",
        "務": "务",
        "還": "还",
        "貸": "贷",
        "帳": "账",
        "賬": "账",
        "錢": "钱",
        "給": "给",
        "發": "发",
        "訴": "诉",
        "責": "责",
        "詐": "诈",
        "構": "构",
        "馬": "马",
        "經": "经",
        "裡": "里",
        "裏": "里",
        "話": "话",
        "說": "说",
        "轟": "轰",
        "訟": "讼",
        "強": "强",
        "執": "执",
        "決": "决",
    }
)
_SEPARATORS = frozenset(" \t\r\n\u3000*-_.·•~|/\\,，。、!！?？:：;；'\"“”‘’()（）[]【】<>《》")

# Words that would tell a third party about the debt.
DEBT_TERMS: tuple[str, ...] = (
    "欠款",
    "欠钱",
    "欠债",
    "债务",
    "逾期",
    "还款",
    "借款",
    "贷款",
    "催收",
    "催款",
    "账单",
    "debt",
    "owe",
    "owes",
    "overdue",
    "past due",
    "payment",
    "loan",
    "collection",
    "balance",
)


@dataclass(frozen=True)
class LanguageHit:
    category: str  # threat, false_legal, shaming, insult, obscenity, disclosure
    term: str
    start: int  # span in the original text
    end: int

    def found_in(self, text: str) -> str:
        return text[self.start : self.end]


def _is_latin(term: str) -> bool:
    return all(ord(c) < 0x3000 for c in term)


# Each character's normalised form, computed once (the same per-character NFKC, lower case
# and simplification as before; a campaign checks a hundred thousand texts).
_CHARS: dict[str, str] = {}


def _normalise(text: str, *, keep_spaces: bool) -> tuple[str, list[int]]:
    """The normalised text and, per character of it, its index in ``text``."""
    out: list[str] = []
    where: list[int] = []
    chars = _CHARS
    for i, ch in enumerate(text):
        mapped = chars.get(ch)
        if mapped is None:
            mapped = chars[ch] = unicodedata.normalize("NFKC", ch).lower().translate(_SIMPLIFIED)
        for c in mapped:
            if c in _SEPARATORS:
                if keep_spaces and out and out[-1] != " ":
                    out.append(" ")
                    where.append(i)
                continue
            out.append(c)
            where.append(i)
    return "".join(out), where


class _Matcher:
    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self.cjk = ahocorasick.Automaton()
        self.latin = ahocorasick.Automaton()
        for category, term in entries:
            latin = _is_latin(term)
            key, _ = _normalise(term, keep_spaces=latin)
            key = key.strip()
            if not key:
                continue
            (self.latin if latin else self.cjk).add_word(key, (category, term, len(key)))
        self.has_cjk = len(self.cjk) > 0
        self.has_latin = len(self.latin) > 0
        if self.has_cjk:
            self.cjk.make_automaton()
        if self.has_latin:
            self.latin.make_automaton()

    def find(self, text: str) -> list[LanguageHit]:
        hits: list[LanguageHit] = []
        if not text:
            return hits
        if self.has_cjk:
            flat, where = _normalise(text, keep_spaces=False)
            for end, (category, term, n) in self.cjk.iter(flat):
                hits.append(LanguageHit(category, term, where[end - n + 1], where[end] + 1))
        if self.has_latin:
            spaced, where = _normalise(text, keep_spaces=True)
            for end, (category, term, n) in self.latin.iter(spaced):
                start = end - n + 1
                before = spaced[start - 1] if start > 0 else " "
                after = spaced[end + 1] if end + 1 < len(spaced) else " "
                if before.isalnum() or (after.isalnum() and after != "s"):
                    continue  # inside a word: "closer" is not "loser"
                hits.append(LanguageHit(category, term, where[start], where[end] + 1))
        hits.sort(key=lambda h: (h.start, -h.end))
        kept: list[LanguageHit] = []
        for hit in hits:  # "owes" contains "owe": report the longer one only
            if any(k.start <= hit.start and hit.end <= k.end for k in kept):
                continue
            kept.append(hit)
        return kept


def _read_lexicon(path: Path) -> list[tuple[str, str]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        category, _, term = line.partition("\t")
        entries.append((category.strip(), term.strip()))
    return entries


@lru_cache(maxsize=1)
def _prohibited() -> _Matcher:
    return _Matcher(_read_lexicon(LEXICON))


@lru_cache(maxsize=1)
def _disclosure() -> _Matcher:
    return _Matcher([("disclosure", term) for term in DEBT_TERMS])


def prohibited_language(text: str) -> list[LanguageHit]:
    """Every prohibited term in ``text``, with its span (empty: the text may go out)."""
    return _prohibited().find(text)


def debt_disclosure(text: str) -> list[LanguageHit]:
    """Words in ``text`` that would tell a third party about the debt."""
    return _disclosure().find(text)


@lru_cache(maxsize=1)
def _suit_threats() -> _Matcher:
    return _Matcher(_read_lexicon(SUIT_LEXICON))


def suit_threat(text: str) -> list[LanguageHit]:
    """Words in ``text`` that threaten a lawsuit (refused for a time-barred debt)."""
    return _suit_threats().find(text)


@lru_cache(maxsize=32)
def _phrases(phrases: tuple[str, ...]) -> _Matcher:
    return _Matcher([("phrase", p) for p in phrases])


def phrases_found(text: str, phrases: tuple[str, ...]) -> list[LanguageHit]:
    """Which of ``phrases`` (a pack's parameter, e.g. the opt-out instructions) ``text``
    has, matched like the lexicon (normalised; English on whole words)."""
    return _phrases(tuple(phrases)).find(text)
