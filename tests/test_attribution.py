"""The resolver links each QUOTE to its CUE and SPEAKER as the gold markup does, one pattern per case."""

import copy

import pytest

from araquote.inference.attribution import quote_kind, resolve
from araquote.training.authoring import parse_source

CASES = {
    "verb-subject": "[CUE:1 قال] [SPEAKER:1 الوزير] [QUOTE:1:indirect إن المحادثات ستستأنف غدا].",
    "subject-verb": "[SPEAKER:1 الوزير] [CUE:1 قال] [QUOTE:1:indirect إن المحادثات ستستأنف غدا].",
    "postposed": "«[QUOTE:1:direct لن نتراجع عن القرار]»، [CUE:1 قال] [SPEAKER:1 الوزير].",
    "according-to": "[QUOTE:1:indirect ارتفعت الأسعار بنسبة خمسة في المئة] [CUE:1 بحسب ما أعلنت] [SPEAKER:1 الوزارة].",
    "headline": "[SPEAKER:1 الخارجية]: [QUOTE:1:direct لا تفاوض قبل وقف إطلاق النار]\n\nنص الخبر.",
    "channel-source": "[CUE:1 ونقلت] الوكالة عن [SPEAKER:1 الوزير] قوله [QUOTE:1:indirect إن الاتفاق نهائي].",
    "pro-drop": "[CUE:1 قال] [SPEAKER:1 الوزير] [QUOTE:1:indirect إن الاتفاق نهائي]. [CUE:2 وأضاف] [QUOTE:2:indirect:^1 أن التوقيع سيتم الأحد].",
    "continuation-direct": "[CUE:1 قال] [SPEAKER:1 الوزير] [QUOTE:1:indirect إن الاتفاق نهائي]. [CUE:2 وتابع]: «[QUOTE:2:direct:^1 هذا يوم تاريخي]».",
    "participle": "[CUE:1 قال] [SPEAKER:1 الوزير] [QUOTE:1:indirect إن الاتفاق نهائي]، [CUE:2 مشيرا] إلى [QUOTE:2:indirect:^1 أن التوقيع سيتم الأحد].",
    "pronoun": "[CUE:1 قالت] [SPEAKER:1 الوزيرة] [QUOTE:1:indirect إن الاتفاق نهائي]. [CUE:2 وقالت] [QUOTE:2:indirect:^1 إنها ستوقع الأحد].",
    "mixed": "[CUE:1 وقال] [SPEAKER:1 الوزير] [QUOTE:1:mixed إن الحكومة «لن تتراجع عن قرارها]».",
    "two-speakers": "[CUE:1 قال] [SPEAKER:1 الوزير] [QUOTE:1:indirect إن الاتفاق نهائي]. في المقابل، [CUE:2 قالت] [SPEAKER:2 المعارضة] [QUOTE:2:indirect إن الاتفاق باطل]. [CUE:3 وأضافت] [QUOTE:3:indirect:^2 أنها ستطعن فيه].",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_resolver_matches_gold_records(name):
    gold = parse_source(f"id: {name}\n---\n{CASES[name]}", name)
    pred = copy.deepcopy(gold)
    pred.quotes = resolve(pred)
    strip = lambda recs: [(r.quote, r.speaker, r.cue, r.kind, r.implicit_speaker) for r in recs]  # noqa: E731
    assert strip(pred.quotes) == strip(gold.quotes)


def test_speaker_names_group_mentions():
    src = ("[CUE:1 قال] [SPEAKER:1 الرئيس الأمريكي [PER جو بايدن]] [QUOTE:1:indirect إن الاتفاق نهائي]. "
           "[CUE:2 وقال] [SPEAKER:2 [PER بايدن]] [QUOTE:2:indirect إن التوقيع قريب]. [CUE:3 وأضاف] [QUOTE:3:indirect:^2 أن الكونغرس سيصادق].")
    doc = parse_source(f"id: n\n---\n{src}", "n")
    recs = resolve(doc)
    assert [r.speaker_name for r in recs] == ["جو بايدن"] * 3


@pytest.mark.parametrize(
    "text,span,kind",
    [
        ("قال: «نحن هنا»", (6, 13), "direct"),
        ("قال إن الحكومة «لن تتراجع»", (4, 25), "mixed"),
        ("قال إن الحكومة لن تتراجع.", (4, 24), "indirect"),
        ("الوزارة: لا تفاوض", (9, 17), "direct"),
    ],
)
def test_kind_from_marks(text, span, kind):
    from araquote.inference.schema import Span

    assert quote_kind(text, Span("q", span[0], span[1], "attribution", "QUOTE")) == kind


def test_speaker_name_prefers_the_person_over_the_employer():
    src = "[CUE:1 قال] [SPEAKER:1 المحلل في [ORG بنك الخليج الأول] [PER طارق يوسف]] [QUOTE:1:indirect إن الأسواق هادئة]."
    doc = parse_source(f"id: p\n---\n{src}", "p")
    assert [r.speaker_name for r in resolve(doc)] == ["طارق يوسف"]


def test_cue_of_marks_only_has_no_gender():
    # found by the fuzz test: a cue span holding only tatweel/tashkeel used to raise IndexError
    from araquote.inference.attribution import _is_feminine
    from araquote.inference.schema import Span

    assert _is_feminine("ـــ\u064e", Span("c", 0, 4, "attribution", "CUE")) is None
    assert _is_feminine("قالت", Span("c", 0, 4, "attribution", "CUE")) is True
