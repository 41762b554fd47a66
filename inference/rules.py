"""The rule-based baseline: cue lexicon + patterns + quotation marks -> attribution spans.

It produces the same output as the model tagger (attribution layer only; the
records come from the shared resolver), so the two can be scored side by side
(``araquote tag --model rules``, ``araquote evaluate --model rules``). It is
also the silver labeller: ``high_precision=True`` keeps only the patterns that
are rarely wrong (a cue followed by a complementiser or a marked quote).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .attribution import resolve
from .schema import ATTRIBUTION, Document, Span
from .text import TASHKEEL_RE, TATWEEL, Word, split_words

_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})

#: Reporting verbs (past, 3rd person) and participles, in folded spelling, without و/ف.
CUE_VERBS = frozenset(
    """قال قالت قالوا اضاف اضافت اكد اكدت اوضح اوضحت اشار اشارت لفت لفتت صرح صرحت اعلن اعلنت نفي نفت حذر حذرت
    طالب طالبت شدد شددت اعتبر اعتبرت راي رات كشف كشفت تابع تابعت ختم ختمت اختتم اختتمت ذكر ذكرت افاد افادت ابلغ
    ابلغت اردف اردفت استطرد استطردت زعم زعمت ادعي ادعت اقر اقرت اعترف اعترفت نوه نوهت بين بينت توقع توقعت رجح رجحت
    اورد اوردت روي روت نقل نقلت اكدوا اشاروا اوضحوا اضافوا اعلنوا افادوا ذكروا قالا اعرب اعربت استدرك استدركت""".split()
)
CUE_PARTICIPLES = frozenset(
    """مضيفا مضيفه مؤكدا مؤكده موكدا مشيرا مشيره موضحا موضحه لافتا لافته معتبرا معتبره محذرا محذره قائلا قائله
    منوها منوهه مشددا مشدده متابعا متابعه مبينا مبينه كاشفا كاشفه معلنا معلنه""".split()
)
ACCORDING = frozenset({"بحسب", "حسب", "وفقا", "وفق", "حسبما", "طبقا"})
COMPLEMENTISERS = re.compile(r"^(?:[وف])?(?:ب)?(?:ان|انه|انها|انهم|انهما|اننا|انني|اني|انكم|انك)$")
SPEAKER_STOPS = frozenset(
    """في خلال امام لدي اليوم امس مساء صباح عقب الي علي عن ان انه انها بان خلاله ضمن اثناء حيث عبر لوسائل
    لصحيفه لوكاله لقناه للصحفيين""".split()
)
_OPEN = "«“\"„"
_CLOSE = "»”\""
_SENT_END = frozenset(".!?؟\n")
MAX_SPEAKER_WORDS = 8
MAX_CONTENT_WORDS = 80  # بحسب-content reaches back at most this far (keeps the rules linear on unpunctuated text)


def fold(word: str) -> str:
    """Spelling-insensitive form: no tashkeel/tatweel, unified alef/ya/ta marbuta."""
    return TASHKEEL_RE.sub("", word).replace(TATWEEL, "").translate(_FOLD)


def _strip_conj(w: str) -> str:
    return w[1:] if len(w) > 3 and w[0] in "وف" else w


def is_cue(word: str) -> bool:
    f = _strip_conj(fold(word))
    return f in CUE_VERBS or f in CUE_PARTICIPLES


class RuleTagger:
    """Rule-based quote tagger with the ``Tagger`` interface (``tag``, ``tag_documents``)."""

    layers = [ATTRIBUTION]

    def __init__(self, high_precision: bool = False) -> None:
        self.high_precision = high_precision

    def tag(self, texts: str | list[str]) -> Any:
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        docs = list(self.tag_documents((f"doc-{i + 1}", t) for i, t in enumerate(items)))
        return docs[0] if single else docs

    def tag_documents(self, items: Iterable[tuple[Any, ...]], chunk_docs: int = 64) -> Iterator[Document]:
        for item in items:
            meta = dict(item[2]) if len(item) > 2 else {}
            yield self.tag_one(item[0], item[1], meta)

    def tag_one(self, doc_id: str, text: str, meta: dict[str, Any] | None = None) -> Document:
        words = split_words(text)
        spans = find_spans(text, words, self.high_precision)
        spans.sort(key=lambda s: s.start)
        for k, s in enumerate(spans):
            s.id = f"s{k + 1}"
        doc = Document(doc_id, text, [ATTRIBUTION], spans, [], meta or {})
        doc.quotes = resolve(doc)
        return doc


def _sentence_end(words: list[Word], i: int) -> int:
    """Index of the first sentence-final punctuation word at or after ``i`` (or len)."""
    while i < len(words) and words[i].text not in _SENT_END:
        i += 1
    return i


def _gap_has_newline(text: str, words: list[Word], i: int) -> bool:
    return i > 0 and "\n" in text[words[i - 1].end : words[i].start]


def _clause_end(text: str, words: list[Word], i: int) -> int:
    """End of an indirect quote starting at word ``i``: sentence end, or before '، مضيفا …' or a new paragraph."""
    j = i
    depth = 0
    while j < len(words):
        w = words[j].text
        if j > i and _gap_has_newline(text, words, j):
            break
        if w in _OPEN and (w != '"' or depth == 0):
            depth += 1
        elif w in _CLOSE and depth:
            depth -= 1
        elif depth == 0 and w in _SENT_END:
            break
        if depth == 0 and w in ("،", ",") and j + 1 < len(words) and is_cue(words[j + 1].text):
            break
        j += 1
    while j > i and not words[j - 1].text[0].isalnum():
        j -= 1
    return j


def _marked_quote(words: list[Word], i: int) -> int | None:
    """If ``words[i]`` opens a quotation, return the index of its closing mark."""
    w = words[i].text
    if w not in _OPEN:
        return None
    closing = {"«": "»", "“": "”", '"': '"', "„": "“"}.get(w, "»")
    for j in range(i + 1, min(len(words), i + 400)):
        if words[j].text == closing or (closing == "”" and words[j].text == '"'):
            return j if j > i + 1 else None
    return None


def _speaker_words(words: list[Word], lo: int, hi: int) -> tuple[int, int] | None:
    """The speaker phrase among words ``[lo, hi)``: up to the first stop word, at most 8 words."""
    j = lo
    while j < hi and j - lo < MAX_SPEAKER_WORDS:
        w = words[j].text
        if not w[0].isalnum() or fold(w) in SPEAKER_STOPS or is_cue(w):
            break
        j += 1
    return (lo, j) if j > lo else None


def _span(words: list[Word], first: int, last: int, label: str) -> Span:
    return Span("", words[first].start, words[last - 1].end, ATTRIBUTION, label)


def find_spans(text: str, words: list[Word], high_precision: bool = False) -> list[Span]:
    """SPEAKER/CUE/QUOTE spans found by the patterns; quotes never overlap."""
    spans: list[Span] = []
    taken = [False] * len(words)

    def free(a: int, b: int) -> bool:
        return a < b and not any(taken[a:b])

    def add(a: int, b: int, label: str) -> None:
        spans.append(_span(words, a, b, label))
        for k in range(a, b):
            taken[k] = True

    i = 0
    while i < len(words):
        w = words[i].text
        if w[0].isalnum() and is_cue(w) and not taken[i]:
            i = _after_cue(text, words, i, add, free, high_precision)
            continue
        if not high_precision and w in _OPEN:
            i = _postposed(words, i, add, free)
            continue
        if not high_precision and fold(w) in ACCORDING and not taken[i]:
            i = _according(words, i, add, free)
            continue
        i += 1
    return spans


def _after_cue(text: str, words: list[Word], i: int, add: Any, free: Any, hp: bool) -> int:
    """Cue at ``i``: look for a complementiser (indirect) or a colon + marks (direct) within the clause."""
    limit = min(len(words), i + 1 + MAX_SPEAKER_WORDS + 3)
    for j in range(i + 1, limit):
        wj = words[j].text
        if wj in _SENT_END:
            break
        if COMPLEMENTISERS.match(fold(wj)):
            end = _clause_end(text, words, j)
            if end - j < 3 or not free(j, end):
                return i + 1
            add(i, i + 1, "CUE")
            sp = _speaker_words(words, i + 1, j)
            if sp and free(*sp):
                add(sp[0], sp[1], "SPEAKER")
            add(j, end, "QUOTE")
            return end
        if wj == ":" and j + 1 < len(words):
            close = _marked_quote(words, j + 1)
            if close is None or not free(j + 2, close):
                return i + 1
            add(i, i + 1, "CUE")
            sp = _speaker_words(words, i + 1, j)
            if sp and free(*sp):
                add(sp[0], sp[1], "SPEAKER")
            add(j + 2, close, "QUOTE")
            return close + 1
    return i + 1


def _postposed(words: list[Word], i: int, add: Any, free: Any) -> int:
    """«…»، قال X"""
    close = _marked_quote(words, i)
    if close is None:
        return i + 1
    k = close + 1
    if k < len(words) and words[k].text in ("،", ","):
        k += 1
    if k < len(words) and is_cue(words[k].text) and free(i + 1, close) and close - i > 3:
        add(i + 1, close, "QUOTE")
        add(k, k + 1, "CUE")
        sp = _speaker_words(words, k + 1, min(len(words), k + 1 + MAX_SPEAKER_WORDS))
        if sp and free(*sp):
            add(sp[0], sp[1], "SPEAKER")
        return (sp[1] if sp else k + 1)
    return close + 1


def _according(words: list[Word], i: int, add: Any, free: Any) -> int:
    """CONTENT بحسب X: content from the sentence start (or last comma) to the cue."""
    start = i
    while start > max(0, i - MAX_CONTENT_WORDS) and words[start - 1].text not in _SENT_END and words[start - 1].text not in ("،", ",", ":"):
        start -= 1
    if i - start < 4 or not free(start, i):
        return i + 1
    cue_end = i + 1
    if cue_end < len(words) and fold(words[cue_end].text) in ("ما",) and cue_end + 1 < len(words):
        cue_end += 2  # بحسب ما أعلنت
    elif cue_end < len(words) and fold(words[cue_end].text) in ("ل", "لـ", "ل\u0640"):
        cue_end += 1
    sp = _speaker_words(words, cue_end, min(len(words), cue_end + MAX_SPEAKER_WORDS))
    if not sp or not free(i, cue_end):
        return i + 1
    add(start, i, "QUOTE")
    add(i, cue_end, "CUE")
    if free(*sp):
        add(sp[0], sp[1], "SPEAKER")
    return sp[1]
