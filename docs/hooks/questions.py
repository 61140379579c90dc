"""MkDocs hook: render the questions table of docs/questions.md from copier.yml.

copier.yml is the only place questions are defined, so the page is generated when the
site is built rather than retyped. Defaults that are Jinja templates are rendered the
way copier renders them (with the ansible filters copier enables), from the defaults of
the questions before them; one that depends on a choice question is shown per choice.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["on_page_markdown", "questions_table"]

MARKER = "<!-- questions-table -->"
_JINJA_EXTENSIONS = ["jinja2_ansible_filters.AnsibleCoreFiltersExtension"]


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:  # noqa: ANN401
    """Replace the marker on the questions page with the table built from copier.yml."""
    if page.file.src_uri != "questions.md":
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/questions.md lost its {MARKER} marker")
    copier_yml = Path(config["config_file_path"]).parent / "copier.yml"
    return markdown.replace(MARKER, questions_table(copier_yml))


def questions_table(copier_yml: Path) -> str:
    """Return an HTML table of every question: name, type, help, default, choices."""
    data = yaml.safe_load(copier_yml.read_text(encoding="utf-8"))
    env = SandboxedEnvironment(extensions=_JINJA_EXTENSIONS)
    specs = {
        name: spec if isinstance(spec, dict) else {"default": spec}
        for name, spec in data.items()
        if not name.startswith("_")
    }
    context: dict[str, Any] = {}
    rows = []
    for name, spec in specs.items():
        context[name] = _render(env, spec.get("default"), context)
        if spec.get("when") is False:
            continue  # a computed value, never asked
        rows.append(
            "<tr>"
            f"<td><code>{name}</code><br>{_esc(spec.get('type', 'str'))}</td>"
            f"<td>{_esc(spec['help'])}{_asked_when(spec)}</td>"
            f"<td>{_default_cell(env, name, spec, context, specs)}</td>"
            f"<td>{_choices_cell(spec)}</td>"
            "</tr>"
        )
    head = "<tr><th>question</th><th>help</th><th>default</th><th>choices</th></tr>"
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def _shown(value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"<code>{_esc(text)}</code>"


def _is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _render(env: SandboxedEnvironment, value: object, context: dict[str, Any]) -> object:
    if not _is_template(value):
        return value
    return env.from_string(str(value)).render(**context).strip()


def _choice_values(spec: dict[str, Any]) -> list[Any]:
    choices = spec.get("choices") or []
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def _default_cell(
    env: SandboxedEnvironment,
    name: str,
    spec: dict[str, Any],
    context: dict[str, Any],
    specs: dict[str, dict[str, Any]],
) -> str:
    default = spec.get("default")
    if not _is_template(default):
        return _shown(default)
    used = sorted(meta.find_undeclared_variables(env.parse(str(default))) & set(specs))
    by_choice = [var for var in used if specs[var].get("choices")]
    if len(by_choice) == 1:
        var = by_choice[0]
        # The value for the default choice first: it is what --defaults gives.
        lines = [f"{_shown(context[name])} ({_esc(context[var])})"]
        for choice in _choice_values(specs[var]):
            if choice != context[var]:
                value = _render(env, default, {**context, var: choice})
                lines.append(f"{_shown(value)} ({_esc(choice)})")
        return "<br>".join(lines)
    source = ", ".join(f"<code>{var}</code>" for var in used)
    return f"{_shown(context[name])}<br>(from {source})" if used else _shown(context[name])


def _choices_cell(spec: dict[str, Any]) -> str:
    choices = spec.get("choices")
    if isinstance(choices, dict):
        return "<br>".join(f"{_shown(value)}: {_esc(label)}" for label, value in choices.items())
    return ", ".join(_shown(value) for value in choices or [])


def _asked_when(spec: dict[str, Any]) -> str:
    when = spec.get("when")
    if not isinstance(when, str):
        return ""
    condition = when.strip().removeprefix("{{").removesuffix("}}").strip()
    return f"<br><em>Asked only when <code>{_esc(condition)}</code>.</em>"
