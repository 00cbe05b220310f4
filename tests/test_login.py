"""The page's login: the password from QA_AUTH or a file, and failed logins slowed per client.
The real page (gradio under uvicorn, as `python app.py` serves it) and real HTTP clients."""

from __future__ import annotations

import time

import httpx
import pytest

import app
from bench.live import Served
from core.errors import InvalidSetting
from tests.conftest import SEED_QUESTION


@pytest.fixture
def served(seed_engine):
    from core.config import Settings

    page = Served(seed_engine, Settings(login_delay=3.0), app.parse_auth("ana:s3cret"))
    yield page.url
    page.close()


def login(url: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/login", data={"username": "ana", "password": password},
                      timeout=30)


def test_failed_logins_back_off_per_client_and_the_right_one_gets_in(served):
    from gradio_client import Client

    assert httpx.get(f"{served}/gradio_api/info", timeout=30).status_code == 401
    first = login(served, "wrong")
    assert first.status_code == 400 and "Incorrect credentials" in first.text
    again = login(served, "wrong")  # within the 3 s back-off
    assert again.status_code == 429 and "Too many failed logins" in again.text
    assert login(served, "s3cret").status_code == 429  # the wait holds for any password
    time.sleep(3.2)
    assert login(served, "s3cret").status_code == 200
    result = Client(served, auth=("ana", "s3cret"), verbose=False).predict(
        SEED_QUESTION, api_name="/ask")
    assert "Wiesbaden" in result["text"]


def test_the_login_can_come_from_a_file(tmp_path):
    from core.config import Settings

    secret = tmp_path / "login"
    secret.write_text("ana:s3cret\n")
    assert Settings(auth_file=str(secret)).credentials() == [("ana", "s3cret")]
    with pytest.raises(InvalidSetting, match="QA_AUTH_FILE=.* cannot be read"):
        Settings(auth_file=str(tmp_path / "missing")).credentials()


@pytest.mark.parametrize("value", ["nocolon", ":pw", "user:"])
def test_malformed_auth_is_a_clear_error(value):
    with pytest.raises(InvalidSetting, match="user:password"):
        app.parse_auth(value)


def test_the_upload_route_refuses_files_over_the_limit(served):
    with httpx.Client(base_url=served, timeout=60) as client:
        assert client.post("/login", data={"username": "ana", "password": "s3cret"}
                           ).status_code == 200
        big = b"x" * (20 * 1024 * 1024 + 1)  # QA_MAX_UPLOAD_MB is 20
        refused = client.post("/gradio_api/upload", files={"files": ("big.txt", big)})
        assert refused.status_code == 413 and "20" in refused.text
        small = client.post("/gradio_api/upload", files={"files": ("ok.txt", b"A story.")})
        assert small.status_code == 200
