"""The reader: does this sentence answer the question, and which words of it are the answer?

A cross-encoder with a span head, fine-tuned by `python -m qa.train` from the MiniLM weights the
project already ships, and shipped as one int8 ONNX file (`qa/models/reader-int8.onnx`, with its
model card beside it). One pass reads

    [CLS] question [SEP] candidate sentence [SEP] title | sentence before … sentence after [SEP]

and gives three things: the probability that the candidate sentence answers the question (a
classifier on [CLS], calibrated on held-out questions), and start/end scores over the candidate
sentence's tokens for the short answer, in the style of SQuAD 2.0 (a span must beat the [CLS]
"no span" score to be offered).

The input layout lives here and nowhere else: training (qa.train) and answering both build
their inputs with `encode_inputs`, so the two cannot drift apart. Written by hand because no
library builds a three-part input with character offsets for one of the parts; the tokenizer is
the model's own `tokenizers` file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import InvalidSetting

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = MODEL_DIR / "reader-int8.onnx"
CARD_FILE = MODEL_DIR / "reader.json"  # the threshold, the sha256 and the input limits

MAX_TOKENS = 128
MAX_QUESTION_TOKENS = 32
MAX_SENTENCE_TOKENS = 64
MAX_TITLE_TOKENS = 14
MAX_ANSWER_TOKENS = 24
# a short answer is offered when its span scores at least this much above the no-span score.
# Not 0: on the SQuAD/SelQA calibration split, the best span of an answering sentence whose
# margin lies in (-1, 0] is the gold answer 70 % of the time (80 % above 0, 54-64 % below -1)
SPAN_MIN_MARGIN = -1.0


@dataclass(frozen=True)
class Encoded:
    """One reader input, with where the candidate sentence's tokens lie and their character
    offsets inside the sentence."""

    ids: list[int]
    type_ids: list[int]
    sent_first: int  # index of the sentence's first token in ids
    offsets: list[tuple[int, int]]  # per sentence token: character span in the sentence


def encode_inputs(tokenizer, question: str, sentence: str, title: str = "",
                  before: str = "", after: str = "") -> Encoded:
    """The reader's input for one candidate. `tokenizer` is a `tokenizers.Tokenizer` with no
    padding and no truncation."""
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    q = tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
    s_enc = tokenizer.encode(sentence, add_special_tokens=False)
    k = _window(tokenizer, q, s_enc.ids)
    s_ids = s_enc.ids[k:k + MAX_SENTENCE_TOKENS]
    offsets = [tuple(o) for o in s_enc.offsets[k:k + MAX_SENTENCE_TOKENS]]
    room = MAX_TOKENS - len(q) - len(s_ids) - 4
    ctx: list[int] = []
    if room > 0:
        t_ids = tokenizer.encode(title, add_special_tokens=False).ids[:MAX_TITLE_TOKENS] \
            if title else []
        b_ids = tokenizer.encode(before, add_special_tokens=False).ids if before else []
        a_ids = tokenizer.encode(after, add_special_tokens=False).ids if after else []
        t_ids = t_ids[:room]
        rest = room - len(t_ids)
        half = rest // 2
        take_b = min(len(b_ids), max(half, rest - len(a_ids)))
        take_a = min(len(a_ids), rest - take_b)
        ctx = t_ids + (b_ids[len(b_ids) - take_b:] if take_b else []) + a_ids[:take_a]
    ids = [cls_id] + q + [sep_id] + s_ids + [sep_id] + ctx + [sep_id]
    first = len(q) + 2
    type_ids = [0] * first + [1] * (len(ids) - first)
    return Encoded(ids, type_ids, first, offsets)


_FUNCTION_WORDS = ("the a an of in on at to for by with from and or is are was were be been "
                   "what which who whom when where why how did does do has have had that this "
                   "it its as will").split()


@lru_cache(maxsize=4)
def _function_ids(tokenizer) -> frozenset[int]:
    return frozenset(tokenizer.encode(" ".join(_FUNCTION_WORDS), add_special_tokens=False).ids)


def _window(tokenizer, question_ids: list[int], sentence_ids: list[int]) -> int:
    """Where a sentence longer than the reader's window is read from: the MAX_SENTENCE_TOKENS
    tokens centred on the question's words in the stretch that holds the most of them (a
    run-on line of a badly exported article has its answer anywhere, before those words or
    after). Offsets stay the whole sentence's."""
    if len(sentence_ids) <= MAX_SENTENCE_TOKENS:
        return 0
    wanted = set(question_ids) - _function_ids(tokenizer)
    hits = np.cumsum([0] + [i in wanted for i in sentence_ids])
    counts = hits[MAX_SENTENCE_TOKENS:] - hits[:-MAX_SENTENCE_TOKENS]
    k = int(np.argmax(counts))
    inside = [j for j in range(k, k + MAX_SENTENCE_TOKENS) if sentence_ids[j] in wanted]
    if not inside:
        return 0
    mid = (inside[0] + inside[-1]) // 2
    return min(max(0, mid - MAX_SENTENCE_TOKENS // 2), len(sentence_ids) - MAX_SENTENCE_TOKENS)


def best_span(start: np.ndarray, end: np.ndarray, enc: Encoded) -> tuple[float, int, int]:
    """The best answer span inside the sentence: (its score minus the [CLS] null score,
    character start, character end). A span that does not beat the null score has a negative
    margin."""
    n = len(enc.offsets)
    if n == 0:
        return -1e9, 0, 0
    s = start[enc.sent_first:enc.sent_first + n]
    e = end[enc.sent_first:enc.sent_first + n]
    # scores[i, j] = s[i] + e[j] for i <= j < i + MAX_ANSWER_TOKENS
    scores = s[:, None] + e[None, :]
    i_idx, j_idx = np.indices(scores.shape)
    scores = np.where((j_idx >= i_idx) & (j_idx - i_idx < MAX_ANSWER_TOKENS), scores, -1e9)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    margin = float(scores[i, j] - (start[0] + end[0]))
    return margin, int(enc.offsets[i][0]), int(enc.offsets[j][1])


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one candidate sentence."""

    p_answer: float  # probability that the sentence answers the question
    span_margin: float  # best span score minus the no-span score (see SPAN_MIN_MARGIN)
    start: int  # the short answer's character offsets in the sentence (start == end: none)
    end: int

    @property
    def has_span(self) -> bool:
        return self.end > self.start and self.span_margin > SPAN_MIN_MARGIN


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_card(card: Path = CARD_FILE) -> dict:
    try:
        return json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidSetting(f"the reader's card {card.name} is missing or unreadable ({e}); "
                             "retrain with `python -m qa.train`") from e


class Reader:
    """The int8 ONNX reader, run with onnxruntime. Thread-safe: onnxruntime sessions may be
    run from several threads."""

    def __init__(self, onnx_path: Path = MODEL_FILE, card: dict | None = None,
                 tokenizer_dir: str | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from core.sentence_model import resolve_model_path

        if not Path(onnx_path).is_file():
            raise InvalidSetting(f"the reader model {Path(onnx_path).name} is missing; "
                                 "retrain it with `python -m qa.train`")
        self.card = card if card is not None else read_card(Path(onnx_path).with_name(
            CARD_FILE.name))
        self.threshold = float(self.card.get("threshold", 0.5))
        tok_dir = Path(tokenizer_dir or resolve_model_path(None))
        self.tokenizer = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        self._session = ort.InferenceSession(str(onnx_path), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def read(self, question: str, candidates: list[tuple[str, str, str, str]],
             batch_size: int = 1) -> list[Reading]:
        """One Reading per candidate (sentence, title, before, after), in order.

        One candidate per run by default: the int8 model quantizes its activations with one
        scale per tensor, so in a batch a row's probability moves with its batch mates and
        their padding (by up to a quarter on the seed articles). Read alone, a sentence gets the
        same verdict whatever else was retrieved, and on CPU it costs about as much (no
        padding); `python -m bench.reader` measures both."""
        encs = [encode_inputs(self.tokenizer, question, s, t, b, a) for s, t, b, a in candidates]
        out: list[Reading] = []
        order = np.argsort([-len(e.ids) for e in encs], kind="stable")
        results: dict[int, Reading] = {}
        for at in range(0, len(encs), batch_size):
            rows = [int(i) for i in order[at:at + batch_size]]
            width = max(len(encs[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                e = encs[i]
                ids[r, :len(e.ids)] = e.ids
                types[r, :len(e.ids)] = e.type_ids
                mask[r, :len(e.ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            start, end, cls = self._session.run(
                None, {k: v for k, v in feed.items() if k in self._inputs})
            for r, i in enumerate(rows):
                margin, a, b = best_span(start[r], end[r], encs[i])
                p = float(1.0 / (1.0 + np.exp(-float(cls[r]))))
                results[i] = Reading(p, margin, a, b)
        out = [results[i] for i in range(len(encs))]
        return out


_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _load(path: str) -> Reader:
    return Reader(Path(path))


def load_reader(path: Path | None = None) -> Reader:
    """The shipped reader, loaded once per process."""
    with _LOCK:
        return _load(str(path or MODEL_FILE))
