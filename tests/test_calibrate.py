"""`python -m qa.calibrate`: the threshold set on calibration questions, what it makes of other
question sets (--check), and another reader file measured without touching the shipped card."""

from __future__ import annotations

import json
import shutil

from qa.reader import CARD_FILE, MODEL_FILE
from tests.conftest import ARTICLES


def _questions(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return f"{path}:{ARTICLES}"


def test_threshold_is_set_on_calibration_questions_and_checked_on_others(tmp_path, monkeypatch,
                                                                         capsys):
    from qa.calibrate import main

    monkeypatch.chdir(tmp_path)  # the kept index goes under tmp_path/build
    calibration = _questions(tmp_path / "cal.jsonl", [
        {"question": "Where will the Ukraine support command be based?",
         "answer_contains": ["Wiesbaden"]},
        {"question": "How many personnel will the NATO operation for Ukraine involve?",
         "answer_contains": ["700"]},
        {"question": "What is the price of natural gas in Germany?", "answer_contains": [],
         "abstain": True}])
    check = _questions(tmp_path / "check.jsonl", [
        {"question": "When will NATO leaders launch the new plan for Ukraine?",
         "answer_contains": ["July"]},
        {"question": "Who won the 2024 US presidential election?", "answer_contains": [],
         "abstain": True}])
    model = tmp_path / "run" / MODEL_FILE.name
    model.parent.mkdir()
    shutil.copy(MODEL_FILE, model)
    shutil.copy(CARD_FILE, model.with_name(CARD_FILE.name))
    shipped = CARD_FILE.read_text()

    assert main([calibration, "--model", str(model), "--check", check]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] == 3 and out["right"] == 1.0
    assert out["check"]["questions"] == 2 and out["check"]["threshold"] == out["threshold"]
    assert 0.0 <= out["check"]["right"] <= 1.0 and out["check"]["ranked_right"] == 1.0
    card = json.loads(model.with_name(CARD_FILE.name).read_text())
    assert card["threshold"] == out["threshold"]  # the run's card, beside its model
    assert card["news_calibration"]["model"] == str(model)
    assert CARD_FILE.read_text() == shipped  # the shipped card is untouched
