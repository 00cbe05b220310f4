"""Follow-up questions: read a question in the light of the conversation before it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import InvalidQuestion
from qa.terms import content_terms, words

# Words that point back to something said before.
_ANAPHORA = {"it", "its", "they", "them", "their", "theirs", "this", "that", "these", "those",
             "he", "him", "his", "she", "her", "hers", "there", "then", "same", "such", "also"}
MAX_HISTORY_MESSAGES = 50  # defaults of QA_MAX_HISTORY_MESSAGES and QA_MAX_MESSAGE_CHARS
MAX_MESSAGE_CHARS = 20_000  # of one message's text; a longer one is cut to its end


def message_text(content: Any, depth: int = 0, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The text of a message's content: a string, or chat-UI parts such as
    [{"type": "text", "text": "..."}]; anything else (images, files) has none. Parts nested
    deeper than chat UIs make them are ignored; the text is cut to its last `limit`
    characters."""
    if isinstance(content, str):
        return content[-limit:]
    if isinstance(content, dict):
        return content.get("text", "")[-limit:] if isinstance(content.get("text"), str) else ""
    if isinstance(content, (list, tuple)) and depth < 3:
        return " ".join(message_text(part, depth + 1, limit)
                        for part in content[:50]).strip()[-limit:]
    return ""


def validate_history(history: Any, max_messages: int = MAX_HISTORY_MESSAGES,
                     max_chars: int = MAX_MESSAGE_CHARS) -> list[dict[str, str]]:
    """The last max_messages of the history as {'role', 'content'} messages, or a clear
    error."""
    if not max_messages:
        return []
    if history is None:
        return []
    if not isinstance(history, Sequence) or isinstance(history, (str, bytes)):
        raise InvalidQuestion("history must be a list of {'role': ..., 'content': ...} messages")
    messages = []
    for i, m in enumerate(history[-max_messages:]):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "system"):
            raise InvalidQuestion(
                f"history message {i} must be a dict with role 'user', 'assistant' or 'system' "
                f"and a 'content' string, got {str(m)[:80]!r}"
            )
        content = message_text(m.get("content"), limit=max_chars)
        if content:
            messages.append({"role": m["role"], "content": content})
    return messages


def is_follow_up(question: str) -> bool:
    """True when the question leans on earlier turns: a pronoun, or almost no subject words."""
    return bool(set(words(question)) & _ANAPHORA) or len(set(content_terms(question))) <= 1


def contextualize(question: str, history: list[dict[str, str]]) -> str:
    """The query to retrieve with: a follow-up carries the user's previous question along."""
    previous = [m["content"] for m in history if m["role"] == "user" and m["content"].strip()]
    if not previous or not is_follow_up(question):
        return question
    return f"{previous[-1].strip()} {question}"
