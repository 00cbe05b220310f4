"""Settings: read from QA_ variables and the working folder's .env, each a clear error when
wrong, and the README's table generated from them. Fast tier."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.config import PROJECT_ROOT, Settings, settings_table
from core.errors import InvalidSetting


def test_the_readme_settings_table_is_the_generated_one():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- settings -->\n", 1)[1].split("\n<!-- /settings -->", 1)[0]
    assert block == settings_table()


def test_a_dot_env_in_the_working_folder_holds_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("QA_PORT=9123\nQA_MAX_QUOTE_CHARS=700\nQA_COLLECTION=ours\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_COLLECTION"] = "theirs"
    out = subprocess.run([sys.executable, "-m", "core.config"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60,
                         ).stdout.splitlines()
    assert {"QA_PORT=9123", "QA_MAX_QUOTE_CHARS=700", "QA_COLLECTION=theirs"} <= set(out)


@pytest.mark.parametrize(("values", "message"), [
    ({"port": "http"}, "QA_PORT='http'"),
    ({"max_upload_mb": 0}, "QA_MAX_UPLOAD_MB=0"),
    ({"embed_backend": "cuda"}, "QA_EMBED_BACKEND='cuda' is not a backend"),
    ({"collection": "a"}, "QA_COLLECTION='a' is not a valid collection name"),
    ({"auth": "nocolon"}, "user:password"),
])
def test_a_bad_value_is_one_clear_error_naming_the_variable(values, message):
    with pytest.raises(InvalidSetting, match=message.replace("(", r"\(")):
        Settings(**values)
