"""`python -m bench.names`: does the reader tell the thing a question names from another thing of
the same kind, and still accept a sentence that names it differently?

    python -m bench.names                                  # the shipped reader
    python -m bench.names --model OTHER/reader-int8.onnx --model qa/models/reader-int8.onnx

Over the synthetic articles of bench.corpus (invented town names, so nothing was seen in
training), each planted question "How many people will the Kelburg repair depot employ?" is read
against its own sentence and against the same sentence about four other towns. A reader that
takes "The Novulstad repair depot is expected to employ 2965 people" as an answer about Kelburg
makes newsqa quote the wrong place and report "The sources differ" where nothing differs.
Paraphrase checks the other way: seed-article questions whose answering sentence words the
thing otherwise ("the Ukraine support command" / "a dedicated NATO command ... will oversee the
effort"), which a reader that only matches names rejects.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from bench.corpus import make_corpus, town_names
from qa.reader import MODEL_FILE, Reader

# (question, the sentence that answers it, title, sentence before): the seed articles' wording
PARAPHRASES = [
    ("Where will the Ukraine support command be based?",
     "A dedicated NATO command, headquartered at a U.S. facility in Wiesbaden, Germany, will "
     "oversee the effort.", "NATO Defence Ministers Meeting",
     "A new plan establishes NATO as the leader in coordinating security assistance and "
     "training for Ukraine."),
    ("How many people will the NATO mission for Ukraine involve?",
     "The entire operation is expected to involve nearly 700 personnel from NATO and partner "
     "nations.", "NATO Defence Ministers Meeting",
     "Logistical nodes in Eastern Europe will further support the program."),
    ("Which fighter jet makes up most of the planned aircraft purchases?",
     "He cited a planned acquisition of thousands of air defence and artillery systems, along "
     "with 850 modern aircraft – primarily the 5th generation F-35s – across Europe and Canada "
     "over the next five years.", "NATO Defence Ministers Meeting",
     "Stoltenberg emphasized the need for these enhanced capabilities across various areas."),
    ("How much of Ukraine is covered by landmines?",
     "Estimates suggest that landmines now contaminate a staggering third of Ukrainian "
     "territory.", "NATO Defence Ministers Meeting",
     "The topic is of particular importance to Ukraine as it is now one of the world's most "
     "heavily mined countries."),
]


def cases(n: int, seed: int = 5):
    records, planted = make_corpus(n, seed=seed)
    rng = random.Random(seed)
    others = town_names(n + 40, random.Random(seed + 1))
    for rec, p in zip(records, planted, strict=True):
        sentence = next(s for s in re.split(r"(?<=\.) ", rec["text"].replace("\n\n", " "))
                        if "employ" in s)
        town = re.search(r"the (\w+) ", p.question).group(1)
        wrong = [sentence.replace(town, t) for t in rng.sample(
            [t for t in others if t != town], 4)]
        yield p.question, sentence, rec["title"], wrong


def measure(model: Path, n: int) -> dict:
    reader = Reader(model)
    right, wrong, ranked_first = [], [], 0
    for question, sentence, title, others in cases(n):
        # the title names the right town: the wrong sentences are read without it, as a
        # sentence of another article would be
        readings = reader.read(question, [(sentence, title, "", "")]
                               + [(s, "", "", "") for s in others])
        right.append(readings[0].p_answer)
        wrong += [r.p_answer for r in readings[1:]]
        ranked_first += readings[0].p_answer > max(r.p_answer for r in readings[1:])
    para = [reader.read(q, [(s, t, b, "")])[0].p_answer for q, s, t, b in PARAPHRASES]
    return {
        "model": str(model), "questions": n,
        "right_sentence_accepted": round(sum(p >= 0.5 for p in right) / len(right), 3),
        "other_name_accepted": round(sum(p >= 0.5 for p in wrong) / len(wrong), 3),
        "right_ranked_above_all_others": round(ranked_first / n, 3),
        "paraphrase_p": [round(p, 3) for p in para],
        "paraphrase_accepted": sum(p >= 0.5 for p in para),
        "paraphrases": len(para),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.names", description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, action="append", help="a reader .onnx (repeatable; "
                    "its card beside it)")
    ap.add_argument("-n", type=int, default=200, help="planted questions")
    args = ap.parse_args(argv)
    for model in args.model or [MODEL_FILE]:
        print(json.dumps(measure(model, args.n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
