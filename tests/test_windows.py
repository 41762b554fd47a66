from araquote.inference.text import normalise_none, split_words
from araquote.inference.windows import best_window_per_word, encode_documents, make_windows
from araquote.training.features import IGNORE, align_labels, word_tags
from araquote.training.scratch import train_wordpiece


def _tokenizer():
    texts = ["قال الوزير إن الاتفاق نهائي في الرياض", "أوكرانيا وب ولب والمحادثات"] * 5
    return train_wordpiece(texts, normalise_none, 120)


def test_alignment_puts_labels_on_first_subtoken_of_clitic_words(tiny_docs):
    tok = _tokenizer()
    text = "وبالرياض وبالمحادثات قال"  # unseen clitic words: split into several pieces
    enc = encode_documents([text], tok, normalise_none)[0]
    assert len(enc.pieces[0]) > 1 and len(enc.pieces[1]) > 1  # clitic words split into pieces
    win = make_windows(0, enc, 64, 8, 2, 3)[0]
    labels = align_labels(win.word_starts, [1, 2, 0], len(win))
    assert labels[win.word_starts[0]] == 1 and labels[win.word_starts[1]] == 2
    assert labels[0] == IGNORE and labels[-1] == IGNORE
    assert labels[win.word_starts[0] + 1] == IGNORE  # continuation piece


def test_word_tags_follow_spans(tiny_docs):
    doc = tiny_docs[0]
    words = split_words(doc.text)
    tags = word_tags(doc, words, "entities")
    per = [w.text for w, t in zip(words, tags) if t.endswith("PER")]
    assert per == ["أحمد", "سالم"] and tags[words.index(next(w for w in words if w.text == "أحمد"))] == "B-PER"


def test_windows_cover_every_word_and_merge_is_central():
    tok = _tokenizer()
    text = " ".join(["قال الوزير إن الاتفاق نهائي"] * 200)
    enc = encode_documents([text], tok, normalise_none)[0]
    wins = make_windows(0, enc, 32, 8, 2, 3)
    assert all(len(w) <= 32 for w in wins)
    assert wins[0].first == 0 and wins[-1].last == len(enc.words)
    for a, b in zip(wins, wins[1:]):
        assert b.first < a.last  # overlap, no gap
        assert b.first > a.first  # progress
    best = best_window_per_word(wins, len(enc.words))
    assert all(w >= 0 for w, _ in best)
    # deterministic: same input, same choice
    assert best == best_window_per_word(wins, len(enc.words))
    # a word in an overlap is taken from the window where it is further from the edge
    a, b = wins[0], wins[1]
    k = a.last - 1
    assert best[k][0] == 1 or (k - a.first) >= (b.last - 1 - k)


def test_overlong_word_is_capped():
    tok = _tokenizer()
    enc = encode_documents(["x" * 500 + " قال"], tok, normalise_none, max_subwords_per_word=4)[0]
    assert len(enc.pieces[0]) <= 4
