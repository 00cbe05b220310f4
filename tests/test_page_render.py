"""What the chat bubble and the export say for an answer (fast tier: no model)."""

from __future__ import annotations

import app
from qa.models import Answer, Citation

QUOTE = "A dedicated NATO command, headquartered at a U.S. facility in Wiesbaden, will lead it."
CITE = Citation(number=1, article_id="002_story", title="NATO sets up a command",
                quote=QUOTE, published="2024-06-14", source="Wire",
                answer_start=QUOTE.index("Wiesbaden"), answer_end=QUOTE.index("Wiesbaden") + 9)


def test_the_bubble_leads_with_the_answer_and_carries_its_own_sources():
    answer = Answer(f"Wiesbaden — {QUOTE} [1]", [CITE], False, 0.7, short_answer="Wiesbaden")
    bubble = app.reply_markdown(answer, turn=3)
    assert bubble.startswith("**Wiesbaden**\n\n")
    assert '<a class="marker" href="#src-3-1">[1]</a>' in bubble
    assert '<a id="src-3-1"></a>**[1]** NATO sets up a command · Wire · 2024-06-14' in bubble
    assert "<small>002\\_story</small>" in bubble
    assert "strong evidence" in bubble and "> A dedicated" in bubble and "**Wiesbaden**," in bubble
    weak = app.reply_markdown(Answer(f"{QUOTE} [1]", [CITE], False, 0.5), turn=0)
    assert "weak evidence" in weak and not weak.startswith("**")


def test_an_abstention_looks_plainly_different():
    bubble = app.reply_markdown(Answer("The articles don't cover this.", [], True, 0.1))
    assert bubble.startswith('<div class="abstained-reply">') and "Sources" not in bubble


def test_the_export_has_every_question_citation_and_quote():
    answer = Answer(f"{QUOTE} [1]", [CITE], False, 0.7)
    text = app.conversation_markdown([{"question": "Where is the command?",
                                       "answer": answer.to_dict()}])
    assert "## 1. Where is the command?" in text
    assert "[1] NATO sets up a command (2024-06-14) — 002_story" in text
    assert f"> {QUOTE}" in text
