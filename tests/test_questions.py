"""Validators in copier.yml reject answers that would break the generated repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import render

BAD_ANSWERS = [
    ({"project_slug": "My_Service"}, "project_slug 'My_Service' must be a DNS-1123 label"),
    ({"project_slug": "service-"}, "must be a DNS-1123 label"),
    ({"project_slug": "9lives"}, "must be a DNS-1123 label"),
    ({"project_slug": "a" * 41}, "is 41 characters long; the maximum is 40"),
    ({"package_name": "class"}, "package_name 'class' is reserved"),
    ({"package_name": "json"}, "package_name 'json' is reserved"),
    ({"package_name": "openai"}, "package_name 'openai' is reserved"),
    ({"package_name": "Bad-Name"}, "must be a lowercase Python identifier"),
    ({"project_name": "   "}, "project_name must not be empty"),
    ({"project_name": "42 things"}, "project_name must start with a letter"),
    ({"owner": "Team Rocket"}, "must be a team id"),
    ({"default_model": "gpt 4"}, "must be a model id without spaces"),
    ({"daily_token_budget": 0}, "daily_token_budget must be a positive number"),
    ({"description": "two\nlines"}, "description must be a single line"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=lambda v: str(v)[:40])
def test_invalid_answers_are_rejected_with_the_reason(
    tmp_path: Path, answers: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match="Validation error") as caught:
        render(tmp_path / "out", answers)
    assert message in str(caught.value)


def test_a_40_character_slug_is_accepted(tmp_path: Path) -> None:
    project = render(tmp_path / "out", {"project_slug": "a" * 40})
    assert (project / "src" / ("a" * 40)).is_dir()


@pytest.mark.parametrize(
    ("question", "value"), [("llm_provider", "cohere"), ("state_backend", "memcached")]
)
def test_invalid_choice_is_rejected(tmp_path: Path, question: str, value: str) -> None:
    with pytest.raises(ValueError, match=question):
        render(tmp_path / "out", {question: value})
