import numpy as np
import pytest

from araquote.inference.decode import decode_spans, viterbi
from araquote.inference.schema import bio_labels

TAGS = bio_labels(["QUOTE", "CUE"])  # O B-QUOTE I-QUOTE B-CUE I-CUE


def _probs(rows):
    p = np.full((len(rows), len(TAGS)), 0.01)
    for i, row in enumerate(rows):
        for tag, v in row.items():
            p[i, TAGS.index(tag)] = v
    return p / p.sum(axis=1, keepdims=True)


def test_viterbi_never_starts_with_inside_tag():
    probs = _probs([{"I-QUOTE": 0.9}, {"I-QUOTE": 0.9}, {"O": 0.9}])
    assert [TAGS[i] for i in viterbi(np.log(probs), TAGS)][0] != "I-QUOTE"
    assert decode_spans(probs, TAGS)[0][:3] == (0, 2, "QUOTE")


def test_no_adjacent_merges_fragments():
    probs = _probs([{"B-QUOTE": 0.9}, {"I-QUOTE": 0.8}, {"B-QUOTE": 0.6, "I-QUOTE": 0.4}, {"I-QUOTE": 0.9}])
    assert [s[:3] for s in decode_spans(probs, TAGS)] == [(0, 2, "QUOTE"), (2, 4, "QUOTE")]
    assert [s[:3] for s in decode_spans(probs, TAGS, no_adjacent=True)] == [(0, 4, "QUOTE")]


def test_scores_are_mean_tag_probability():
    probs = _probs([{"B-CUE": 0.9}, {"O": 0.9}])
    (first, last, label, score), = decode_spans(probs, TAGS)
    assert (first, last, label) == (0, 1, "CUE") and abs(score - probs[0, TAGS.index("B-CUE")]) < 1e-9


def test_merge_gaps_joins_across_one_word_only():
    from araquote.inference.decode import merge_gaps

    spans = [(0, 2, "QUOTE", 0.9), (3, 5, "QUOTE", 0.7), (6, 7, "QUOTE", 0.8), (9, 10, "QUOTE", 0.8)]
    is_word = [True] * 5 + [False] + [True] * 4
    merged = merge_gaps(spans, is_word)
    assert [s[:3] for s in merged] == [(0, 5, "QUOTE"), (6, 7, "QUOTE"), (9, 10, "QUOTE")]
    assert abs(merged[0][3] - 0.8) < 1e-9
    assert merge_gaps([(0, 1, "CUE", 1.0), (2, 3, "SPEAKER", 1.0)], [True] * 3) == [(0, 1, "CUE", 1.0), (2, 3, "SPEAKER", 1.0)]


def test_transition_pmi_rewards_seen_pairs_and_punishes_unseen():
    from araquote.inference.decode import transition_pmi

    seqs = [["O", "B-CUE", "O", "B-QUOTE", "I-QUOTE", "I-QUOTE", "O"]] * 5
    pmi = transition_pmi(seqs, TAGS)
    i = TAGS.index
    assert pmi.shape == (len(TAGS), len(TAGS))
    assert pmi[i("B-QUOTE"), i("I-QUOTE")] > 0 > pmi[i("B-QUOTE"), i("B-QUOTE")]
    assert pmi[i("B-CUE"), i("O")] > pmi[i("B-CUE"), i("I-CUE")]


def test_transition_prior_joins_a_name_the_encoder_split():
    # word 2 leans to a new B-QUOTE; the prior (B -> I likely, B -> B rare) joins it to the span
    probs = _probs([{"B-QUOTE": 0.9}, {"B-QUOTE": 0.55, "I-QUOTE": 0.4}, {"O": 0.9}])
    assert [s[:3] for s in decode_spans(probs, TAGS)] == [(0, 1, "QUOTE"), (1, 2, "QUOTE")]
    scores = np.zeros((len(TAGS), len(TAGS)))
    scores[TAGS.index("B-QUOTE"), TAGS.index("B-QUOTE")] = -1.0
    assert [s[:3] for s in decode_spans(probs, TAGS, transition_scores=scores)] == [(0, 2, "QUOTE")]
    with pytest.raises(ValueError, match="shape"):
        decode_spans(probs, TAGS, transition_scores=np.zeros((2, 2)))
