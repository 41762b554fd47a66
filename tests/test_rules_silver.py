"""The rules baseline on each pattern, and the silver labeller on a handful of raw paragraphs."""

import json

import pytest

from araquote.inference.rules import RuleTagger
from araquote.training.silver import make_silver

RAW = [
    "وقال وزير النقل سامر الحداد إن العمل في الطريق الدائري سينتهي قبل الصيف.",
    "وأضاف أن الوزارة خصصت ميزانية إضافية للصيانة.",
    "وتابع: «لن نقبل بأي تأخير بعد اليوم».",
    "وافتتح الوزير أمس معرض الكتاب في العاصمة بحضور عدد من السفراء.",
    "وأكد المدير جاهزية الفرق الميدانية للموسم.",
    "اقرأ أيضا: ارتفاع أسعار الذهب في الأسواق المحلية",
]


def _spans(doc):
    return [(doc.text[s.start : s.end], s.label) for s in doc.spans]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("قال الوزير إن المحادثات ستستأنف غدا.", [("قال", "CUE"), ("الوزير", "SPEAKER"), ("إن المحادثات ستستأنف غدا", "QUOTE")]),
        ("وقال المتحدث: «لن نتراجع عن القرار».", [("وقال", "CUE"), ("المتحدث", "SPEAKER"), ("لن نتراجع عن القرار", "QUOTE")]),
        ("«لن نتراجع عن القرار أبدا»، قال الوزير.", [("لن نتراجع عن القرار أبدا", "QUOTE"), ("قال", "CUE"), ("الوزير", "SPEAKER")]),
        ("ارتفعت الصادرات بنسبة كبيرة هذا العام بحسب الوزارة.", [("ارتفعت الصادرات بنسبة كبيرة هذا العام", "QUOTE"), ("بحسب", "CUE"), ("الوزارة", "SPEAKER")]),
        ("وأضاف أن التوقيع سيتم الأحد المقبل.", [("وأضاف", "CUE"), ("أن التوقيع سيتم الأحد المقبل", "QUOTE")]),
        ("وأعلن الوزير افتتاح المعرض.", []),
        ("وحذر المدير من التصعيد.", []),
    ],
)
def test_rule_patterns(text, expected):
    assert _spans(RuleTagger().tag(text)) == expected


def test_rules_link_continuations_to_the_last_speaker():
    doc = RuleTagger().tag(" ".join(RAW[:3]))
    assert [q.implicit_speaker for q in doc.quotes] == [False, True, True]
    assert {q.speaker for q in doc.quotes} == {doc.quotes[0].speaker}
    assert [q.kind for q in doc.quotes] == ["indirect", "indirect", "direct"]


def test_silver_labels_raw_paragraphs_with_high_precision(tmp_path):
    src = tmp_path / "raw.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(RAW)), encoding="utf-8")
    out = tmp_path / "silver.jsonl"
    counts = make_silver([str(src)], str(out))
    docs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert counts["documents"] == len(RAW) == len(docs)
    assert all(d["layers"] == ["attribution"] for d in docs)  # entities unknown, not empty
    with_quotes = {d["id"] for d in docs if d["quotes"]}
    assert with_quotes == {"r0", "r1", "r2"}  # events, nominal complements and link lines stay unlabelled
    q0 = docs[0]
    quote = next(s for s in q0["spans"] if s["label"] == "QUOTE")
    assert q0["text"][quote["start"] : quote["end"]] == "إن العمل في الطريق الدائري سينتهي قبل الصيف"
