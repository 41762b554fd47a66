"""Optional lexical word features for small encoders trained from scratch.

A from-scratch encoder sees a few hundred articles; it learns slowly what a
pretrained one already knows: which words report speech, where a quotation
mark opens and closes, what starts a complement clause. The ``lexical``
feature set gives every word one categorical id from three facts, embedded and
added to its subword embeddings (the model still decides what they mean):

* its class: cue verb/participle, complementiser (إن/أن …), attribution word
  (بحسب …), title word (الوزير، الرئيس …), preposition, gentilic-looking
  adjective (الروسي، المصرية), institution or place head noun (وزارة، جامعة،
  مدينة …), digit, or a punctuation class;
* whether it lies inside quotation marks;
* whether a complementiser occurred earlier in the same sentence.

The feature set used is stored in the checkpoint (``ModelMeta.word_features``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .rules import ACCORDING, COMPLEMENTISERS, fold, is_cue
from .text import Word

FEATURE_SETS = ("", "lexical")
N_CLASSES = 16
N_FEATURES = N_CLASSES * 4  # class x inside-marks x after-complementiser
SPECIAL_FEATURE = N_FEATURES  # [CLS]/[SEP]/padding

TITLES = frozenset(
    fold(w)
    for w in """الرئيس رئيس الوزير وزير وزيرة الوزيرة الدكتور الدكتورة د السيد السيدة الأمير الأميرة الشيخ الملك
    الملكة المتحدث المتحدثة متحدث مدير المدير مديرة رئيسة الرئيسة العميد اللواء العقيد النائب النائبة المستشار
    سفير السفير الأمين أمين المدرب مدرب اللاعب الناطق محافظ المحافظ عمدة القاضي المحامي الخبير الخبيرة الباحث
    البروفيسور المهندس المهندسة الفنان الفنانة الكاتب الكاتبة الروائي المخرج ولي العاهل سمو سموه معالي""".split()
)
PREPOSITIONS = frozenset(fold(w) for w in "في من إلى الى على عن مع بين لدى عند نحو حول داخل خارج قرب عبر".split())
HEAD_NOUNS = frozenset(
    fold(w)
    for w in """وزارة مدينة محافظة منطقة ولاية دولة جامعة شركة صحيفة قناة نادي فريق مستشفى مطار ميناء جمعية حزب هيئة
    مجلس بنك مصرف مؤسسة منظمة وكالة معهد مركز سجن محطة جزيرة إقليم بلدة قرية حي مخيم ملعب بطولة دوري كأس مهرجان
    معرض منتدى مؤتمر برنامج مشروع مبادرة جائزة اتحاد منتخب""".split()
)
_OPEN = "«“„‹"
_CLOSE = "»”‟›"
_SENT_END = frozenset(".!?؟\n…")


def _word_class(word: str) -> int:
    ch = word[0]
    if ch.isalpha():
        f = fold(word)
        if COMPLEMENTISERS.match(f):
            return 2
        if f in ACCORDING or f[1:] in ACCORDING:
            return 3
        if is_cue(word):
            return 1
        bare = f[1:] if len(f) > 3 and f[0] in "وفلب" else f
        if f in TITLES or bare in TITLES:
            return 4
        if f in PREPOSITIONS or bare in PREPOSITIONS:
            return 12
        if f in HEAD_NOUNS or bare in HEAD_NOUNS or bare.removeprefix("ال") in HEAD_NOUNS:
            return 14
        if "ال" in f[:3] and len(f) > 5 and f.endswith(("ي", "يه", "يون", "يين", "يه")):
            return 13
        return 0
    if ch.isdigit():
        return 11
    if word in _SENT_END:
        return 5
    if word == ":":
        return 6
    if word in "،,؛;":
        return 7
    if word in _OPEN:
        return 8
    if word in _CLOSE:
        return 9
    if word == '"':
        return 10
    return 10


def lexical_features(text: str, words: Sequence[Word]) -> list[int]:
    """One feature id per word (see the module docstring)."""
    out: list[int] = []
    depth = 0
    straight_open = False
    after_comp = False
    prev_end = 0
    for w in words:
        if "\n" in text[prev_end : w.start]:
            after_comp = False
        prev_end = w.end
        cls = _word_class(w.text)
        if cls == 9 or (w.text == '"' and straight_open):
            depth = max(0, depth - 1) if cls == 9 else depth
            if w.text == '"':
                straight_open = False
        inside = depth > 0 or straight_open
        out.append(cls + N_CLASSES * (int(inside) + 2 * int(after_comp)))
        if cls == 8:
            depth += 1
        elif w.text == '"' and not inside:
            straight_open = True
        if cls == 2:
            after_comp = True
        elif cls == 5 and not inside:
            after_comp = False
    return out


def word_features(name: str, text: str, words: Sequence[Word]) -> list[int] | None:
    """Feature ids of the named set, or None when the model uses none."""
    if not name:
        return None
    if name == "lexical":
        return lexical_features(text, words)
    raise ValueError(f"unknown word_features {name!r}; known: {', '.join(repr(f) for f in FEATURE_SETS)}")
