"""The alternatives, over the same index, for `python -m qa.eval --compare`: the top chunk of a
keyword (BM25) search and the top chunk of a plain llama-index vector retriever (neither
abstains; each returns its top chunk as the reply, cited as one source), and newsqa's own
pipeline with its earlier hand-weighted sentence scorer in place of the trained reader."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, QueryBundle

from qa.models import Answer, Citation
from qa.retrieval import vector_index


def _top_chunk_answer(nodes: list[NodeWithScore]) -> tuple[Answer, list[str]]:
    if not nodes:
        return Answer("No results.", [], True, 0.0), []
    top = nodes[0]
    m = top.node.metadata
    quote = top.node.get_content()
    citation = Citation(1, m.get("article_id", ""), m.get("title", ""), quote, m.get("url"),
                        m.get("published"), float(top.score or 0.0))
    answer = Answer(f"{quote} [1]", [citation], False, float(top.score or 0.0))
    return answer, [n.node.metadata.get("article_id", "") for n in nodes]


class KeywordBaseline:
    """BM25 over the chunks (llama-index-retrievers-bm25), top chunk as the answer."""

    name = "keyword-only (BM25 top chunk)"
    withholds = False  # its own retrieval: `qa.eval --withhold` cannot leave articles out

    def __init__(self, engine):
        self.engine = engine

    def trace(self, question: str, **_: object) -> tuple[Answer, list[str]]:
        retriever = self.engine.keyword.retriever
        return _top_chunk_answer(retriever.retrieve(QueryBundle(question)))


class DenseBaseline:
    """A plain llama-index VectorStoreIndex retriever over the same Chroma collection."""

    name = "dense-only (llama-index top chunk)"
    withholds = False

    def __init__(self, engine, top_k: int = 10):
        self.engine = engine
        self.retriever = vector_index(engine.store, engine.embedder).as_retriever(
            similarity_top_k=top_k)

    def trace(self, question: str, **_: object) -> tuple[Answer, list[str]]:
        return _top_chunk_answer(self.retriever.retrieve(question))


class _Mode:
    """newsqa's own pipeline, traced with the given answering options."""

    name = ""
    options: dict[str, bool] = {}

    def __init__(self, engine):
        self.engine = engine

    def trace(self, question: str, **kw: object) -> tuple[Answer, list[str]]:
        return self.engine.trace(question, **self.options, **kw)


class HandWeightedBaseline(_Mode):
    """newsqa's retrieval with the hand-weighted scorer choosing the sentences and abstaining
    below its threshold, and no reader at all: the answering step before the reader."""

    name = "hand-weighted, no reader"
    options = {"use_reader": False, "short_answer": False}


class ReaderLed(_Mode):
    """QA_ANSWERING=reader: the trained reader re-scores the candidates (p + support), chooses
    the sentence and abstains under its calibrated threshold."""

    name = "reader-led"
    options = {"use_reader": True}


class HandLed(_Mode):
    """QA_ANSWERING=hand: the hand-weighted scorer chooses the sentence and abstains below its
    threshold; the reader only marks the short answer in it."""

    name = "hand-led"
    options = {"use_reader": False}


def other_mode(engine):
    """The answering mode the engine is not set to, to compare with."""
    return HandLed(engine) if engine.settings.answering == "reader" else ReaderLed(engine)
