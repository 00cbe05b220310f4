"""Settings: QA_ environment variables, or a `.env` file in the working folder, read by
pydantic-settings. Each field's description is the README's settings table
(`python -m core.config --markdown` prints it; a test keeps the README in step)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import InvalidSetting

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COLLECTION = "newsqa"
EMBED_BACKENDS = ("torch", "onnx-int8")
ANSWERING = ("hand", "reader")


def _default_index_dir() -> str:
    return str(PROJECT_ROOT / ".index")


def load_env_file() -> None:
    """Load `.env` from the working folder into the environment (never overriding what is
    set), for what reads the environment itself (the app's command-line defaults)."""
    from dotenv import find_dotenv, load_dotenv

    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


class Settings(BaseSettings):
    """Everything configurable, resolved once. Pass one to Engine to override the environment.
    An empty variable counts as unset."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore",
                                      frozen=True, env_ignore_empty=True)

    articles_dir: str = Field("articles", description="the folder of articles")
    index_dir: str = Field(default_factory=_default_index_dir, description=(
        "where the embedded Chroma store and the keyword-index cache live (default: `.index` "
        "in the project)"))
    chroma_url: str | None = Field(None, description=(
        "`http://host:port` of a Chroma server (`chroma run`) to use instead of the embedded "
        "store"))
    collection: str = Field(DEFAULT_COLLECTION, description="the Chroma collection's name")
    embed_model: str | None = Field(None, description=(
        "path of a sentence-transformers model folder (default: the packaged "
        "all-MiniLM-L6-v2); the index records the model, and a mismatch is an error that says "
        "how to rebuild"))
    embed_backend: str = Field("torch", description=(
        "`onnx-int8`: run the model as an int8 ONNX graph (exported on this machine the first "
        "time, under the index folder); the index records the backend too"))
    answering: str = Field("reader", description=(
        "`reader` (the default): the trained reader re-scores the candidate sentences, chooses "
        "the one to quote and abstains under its calibrated threshold; `hand`: the "
        "hand-weighted scorer chooses and abstains, and the reader only marks the short "
        "answer"))
    host: str = Field("127.0.0.1", description="the interface the chat page listens on")
    port: int = Field(7860, ge=1, le=65535, description="the chat page's port")
    auth: str | None = Field(None, description=(
        "`user:password` the chat page asks for (prefer `QA_AUTH_FILE` on a shared machine: "
        "a password on the command line shows in `ps`)"))
    auth_file: str | None = Field(None, description=(
        "a file whose first line is `user:password` for the chat page"))
    max_question_chars: int = Field(2000, ge=10, description=(
        "longest question accepted, in characters (refused with a message, never cut)"))
    max_history_messages: int = Field(50, ge=0, description=(
        "messages of a conversation's history read (the latest)"))
    max_message_chars: int = Field(20_000, ge=100, description=(
        "characters of one history message read (its end)"))
    max_upload_mb: int = Field(20, ge=1, description=(
        "largest upload on the page, in MB (the page's own limit and the server's)"))
    max_upload_records: int = Field(2000, ge=1, description=(
        "most articles one upload may add (a JSONL file holds many)"))
    max_quote_chars: int = Field(1000, ge=100, description=(
        "longest quote in an answer; a longer sentence is cut, marked with …"))
    articles_page_size: int = Field(50, ge=5, le=1000, description=(
        "rows a page of the Articles tab shows"))
    login_delay: float = Field(1.0, ge=0, description=(
        "seconds a client waits after a failed login, doubled for each further failure "
        "(up to a minute)"))

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise InvalidSetting(explain(e)) from None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """The environment (and the working folder's .env), with overrides on top."""
        return cls(**overrides)

    @field_validator("collection")
    @classmethod
    def _collection(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,48}[A-Za-z0-9]", name):
            raise ValueError(
                f"QA_COLLECTION={name!r} is not a valid collection name: use 3-50 letters, "
                "digits, '.', '-' or '_', starting and ending with a letter or digit")
        return name

    @field_validator("embed_backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        if value not in EMBED_BACKENDS:
            raise ValueError(f"QA_EMBED_BACKEND={value!r} is not a backend: use torch (the "
                             "default) or onnx-int8")
        return value

    @field_validator("answering")
    @classmethod
    def _answering(cls, value: str) -> str:
        if value not in ANSWERING:
            raise ValueError(f"QA_ANSWERING={value!r} is not a mode: use reader (the default) "
                             "or hand")
        return value

    @field_validator("chroma_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"QA_CHROMA_URL={value!r} is not a URL: use http://host:port")
        return value

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str | None) -> str | None:
        if value is not None:
            user, sep, password = value.partition(":")
            if not sep or not user or not password:
                raise ValueError("QA_AUTH / --auth must look like user:password")
        return value

    def credentials(self) -> list[tuple[str, str]] | None:
        """The page's login, from QA_AUTH or the first line of QA_AUTH_FILE; None: no login."""
        value = self.auth
        if value is None and self.auth_file:
            try:
                lines = Path(self.auth_file).read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise InvalidSetting(f"QA_AUTH_FILE={self.auth_file!r} cannot be read: "
                                     f"{e.strerror or e}") from None
            value = lines[0].strip() if lines else ""
            if not value:
                raise InvalidSetting(f"QA_AUTH_FILE={self.auth_file!r} is empty")
        if value is None:
            return None
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            raise InvalidSetting("the login must look like user:password")
        return [(user, password)]


def explain(error: ValidationError) -> str:
    """A pydantic error as one line a person can act on, naming the QA_ variable."""
    parts = []
    for err in error.errors():
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        field = str(err["loc"][0]) if err.get("loc") else ""
        if not msg.startswith("QA_") and field:
            msg = f"QA_{field.upper()}={err.get('input')!r}: {msg}"
        parts.append(msg)
    return "; ".join(parts)


def settings_table() -> str:
    """The README's settings table, from the fields' descriptions."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = ("`.index` in the project" if name == "index_dir"
                   else "unset" if field.default is None else f"`{field.default}`")
        rows.append(f"| `QA_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if "--markdown" in sys.argv:
        print(settings_table())
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for name, value in Settings().model_dump().items():
            print(f"QA_{name.upper()}={'***' if name == 'auth' and value else value}")
