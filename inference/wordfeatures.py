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

The ``lexical+hash`` set adds, per word, hashed identities in the manner
of spaCy's hash embeddings: the folded word, its stem without the clitics
و ف ب ل ك and the article, the stem's first three and its last three letters.
Each hashes (CRC32, salted per field, so stable across runs and machines) into
one of ``HASH_BUCKETS`` rows of a table summed into the word's subword
embeddings. A fifth field says whether the stem is a common given name or a
well-known place (``gazetteer.py``), a hint for names never seen in training. A from-scratch encoder with an 8,000-piece vocabulary otherwise
sees a name as several pieces; the hashed identity lets it remember that
بيروت or وزارة is what it is, and the affixes generalise to unseen forms.

The feature set used is stored in the checkpoint (``ModelMeta.word_features``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch

from .gazetteer import gazetteer_class
from .rules import ACCORDING, COMPLEMENTISERS, fold, is_cue
from .text import Word

FEATURE_SETS = ("", "lexical", "lexical+hash", "lexical+entity-hash")
N_CLASSES = 16
N_FEATURES = N_CLASSES * 4  # class x inside-marks x after-complementiser
SPECIAL_FEATURE = N_FEATURES  # [CLS]/[SEP]/padding
HASH_FIELDS = 5  # folded word, stem, stem prefix, stem suffix, word-list class
HASH_BUCKETS = 1 << 15  # row 0 = no value
_CLITICS = ("وبال", "وكال", "ولل", "فبال", "فال", "وال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل")

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


def _bucket(field: int, value: str) -> int:
    return 1 + zlib.crc32(f"{field}\x1f{value}".encode()) % (HASH_BUCKETS - 1) if value else 0


def split_clitics(folded: str) -> tuple[str, str]:
    """(leading clitic group, stem): و ف ب ل ك and the article come off once, if 3+ letters remain."""
    for c in _CLITICS:
        if folded.startswith(c) and len(folded) - len(c) >= 3:
            return c, folded[len(c):]
    return "", folded


def stem(folded: str) -> str:
    """``folded`` without one leading clitic group (و ف ب ل ك, the article), if enough of the word remains."""
    return split_clitics(folded)[1]


def hash_features(word: str) -> tuple[int, ...]:
    """The hashed identities of one word (0 where a field does not apply); see the module docstring."""
    if word[0].isdigit():
        return (_bucket(0, "<digits>"),) + (0,) * (HASH_FIELDS - 1)
    if not word[0].isalpha():
        return (_bucket(0, word),) + (0,) * (HASH_FIELDS - 1)
    f = fold(word).lower()
    clitic, st = split_clitics(f)
    long = len(st) > 3
    return (_bucket(0, f), _bucket(1, st), _bucket(2, st[:3]) if long else 0, _bucket(3, st[-3:]) if long else 0,
            _bucket(4, gazetteer_class(st, clitic.endswith(("ال", "لل")))))


def word_features(name: str, text: str, words: Sequence[Word]) -> list[int] | list[tuple[int, ...]] | None:
    """Feature ids of the named set (one int per word, or one row per word with hashes), or None."""
    if not name:
        return None
    if name == "lexical":
        return lexical_features(text, words)
    if name in ("lexical+hash", "lexical+entity-hash"):
        return [(lex, *hash_features(w.text)) for lex, w in zip(lexical_features(text, words), words)]
    raise ValueError(f"unknown word_features {name!r}; known: {', '.join(repr(f) for f in FEATURE_SETS)}")


def special_row(name: str) -> int | tuple[int, ...]:
    """The feature value of [CLS], [SEP] and padding positions."""
    return (SPECIAL_FEATURE,) + (0,) * HASH_FIELDS if "hash" in name else SPECIAL_FEATURE


def empty_feature_tensor(name: str, rows: int, width: int) -> torch.Tensor:
    """A padded batch of feature ids: (rows, width) for ``lexical``, (rows, width, 1 + HASH_FIELDS) with hashes."""
    return torch.tensor(special_row(name), dtype=torch.long).expand(rows, width, *([1 + HASH_FIELDS] if "hash" in name else [])).clone()
