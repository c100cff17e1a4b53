"""JSON Schemas for editors: generated from schema.py, committed, and agreeing with the build."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker

from backpain_site.cli import main
from backpain_site.frontmatter import parse_yaml, split_document
from backpain_site.problems import Problem
from backpain_site.schema import CLAIM, CONDITION, PAGE, SITE, STUDY, Schema, validate
from backpain_site.schema_export import SCHEMAS, json_schema, schema_files

from conftest import CONDITION as CONDITION_FILE
from conftest import PAGE as PAGE_FILE
from conftest import REPO, SITE_YAML
from conftest import STUDY as STUDY_FILE

FOLDERS = {"condition": "conditions", "study": "studies", "claim": "claims", "page": "pages"}


class _Yaml12Dates(yaml.SafeLoader):
    """PyYAML without YAML 1.1 timestamps: a date stays text, as editors' YAML 1.2 reads it."""


_Yaml12Dates.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def front_matter(text: str) -> Any:
    body = text.split("---\n")[1] if text.startswith("---") else text
    return yaml.load(body, Loader=_Yaml12Dates)


def validator(name: str) -> Draft7Validator:
    return Draft7Validator(json_schema(name), format_checker=FormatChecker())


def schema_errors(name: str, text: str) -> list[str]:
    return sorted(e.message for e in validator(name).iter_errors(front_matter(text)))


def build_errors(schema: Schema, text: str) -> list[Problem]:
    problems: list[Problem] = []
    if text.startswith("---"):
        document, found = split_document(text.encode(), "f.md")
        assert document is not None, found
        mapping = document.meta
    else:
        parsed, found = parse_yaml(text, "site.yaml")
        assert parsed is not None, found
        mapping = parsed
    validate(mapping, schema, "f.md", problems)
    return problems


def test_committed_schemas_are_what_schema_py_makes() -> None:
    committed = {p.name: p.read_bytes() for p in sorted((REPO / "schemas").iterdir())}
    assert committed == schema_files(), "run `backpain-site schema` and commit schemas/"


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_each_schema_is_valid_draft_07(name: str) -> None:
    Draft7Validator.check_schema(json_schema(name))


def test_every_field_and_allowed_value_is_in_the_schema() -> None:
    for name, (schema, _) in SCHEMAS.items():
        exported = json_schema(name)
        assert list(exported["properties"]) == [f.name for f in schema.fields]
        assert exported["required"] == [f.name for f in schema.fields if f.required]
        for field in schema.fields:
            if field.choices:
                assert exported["properties"][field.name]["enum"] == list(field.choices)


@pytest.mark.parametrize("name", list(FOLDERS))
def test_every_real_content_file_passes_its_schema(name: str) -> None:
    files = sorted((REPO / "content" / FOLDERS[name]).glob("*.md"))
    assert files
    failures = {
        f.name: errors
        for f in files
        if (errors := schema_errors(name, f.read_text(encoding="utf-8")))
    }
    assert failures == {}


def test_the_real_site_settings_pass_the_schema() -> None:
    assert schema_errors("site", (REPO / "content/site.yaml").read_text(encoding="utf-8")) == []


# Each case: a change to a valid file, and the build's message for it. The JSON Schema must
# reject every one the build rejects, so editors see the mistake before they build.
CASES: list[tuple[str, Schema, str, str, str, str]] = [
    ("study", STUDY, STUDY_FILE, "certainty: not-graded", "certanity: not-graded", "unknown field"),
    ("study", STUDY, STUDY_FILE, "design: rct", "design: rtc", "is 'rtc', which is not one of"),
    ("study", STUDY, STUDY_FILE, "subjects: people\n", "", "missing required field 'subjects'"),
    ("study", STUDY, STUDY_FILE, "population: Adults with back pain", 'population: " "', "empty"),
    ("study", STUDY, STUDY_FILE, "participants: 120", "participants: many", "whole number"),
    ("study", STUDY, STUDY_FILE, "participants: 120", "participants: -1", "whole number"),
    (
        "study",
        STUDY,
        STUDY_FILE,
        "title: A trial of acupuncture for back pain",
        "title: 2020",
        "text",
    ),
    ("study", STUDY, STUDY_FILE, "limits: [One small trial.]", "limits: []", "at least 1"),
    ("study", STUDY, STUDY_FILE, "outcomes: [Pain]", "outcomes: Pain", "must be a list"),
    ("study", STUDY, STUDY_FILE, "next_review: 2029-11-01", "next_review: 1/11/2029", "YYYY"),
    ("study", STUDY, STUDY_FILE, "next_review: 2029-11-01", "next_review: 2029-13-01", "YYYY"),
    ("study", STUDY, STUDY_FILE, "status: published", "status: published\ndraft: 1", "true"),
    ("condition", CONDITION, CONDITION_FILE, "certainty: low", "certainty: not-graded", "one of"),
    ("condition", CONDITION, CONDITION_FILE, "    certainty: low", "    level: low", "unknown"),
    ("condition", CONDITION, CONDITION_FILE, "studies: [smith-2020]", "studies: []", "at least"),
    ("condition", CONDITION, CONDITION_FILE, "order: 1", "order: first", "whole number"),
    ("page", PAGE, PAGE_FILE, "nav_order: 1", "nav_order: -3", "whole number"),
    ("page", PAGE, PAGE_FILE, "title: Disclaimer\n", "", "missing required field 'title'"),
    ("claim", CLAIM, "claim: A.\nverdict: true\norder: 1\n", "", "", "is 'true', which is not"),
    ("site", SITE, SITE_YAML, 'language: "en"', "languages: en", "unknown field 'languages'"),
    ("site", SITE, SITE_YAML, '  - name: "Ann Editor"\n', "  -\n", "missing required field 'name'"),
    (
        "site",
        SITE,
        SITE_YAML,
        'title: "Test site"',
        "title: Test site\nreading_grade_target: 0",
        "at least 1",
    ),
]


@pytest.mark.parametrize(("name", "schema", "text", "old", "new", "message"), CASES)
def test_the_schema_rejects_what_the_build_rejects(
    name: str, schema: Schema, text: str, old: str, new: str, message: str
) -> None:
    original = textwrap.dedent(text)
    if old:
        assert original.count(old) == 1, old
    changed = original.replace(old, new) if old else original
    if name != "claim":
        assert build_errors(schema, original) == []
        assert schema_errors(name, original) == []
    found = build_errors(schema, changed)
    assert found and message in " ".join(p.message for p in found), found
    assert schema_errors(name, changed) != []


def test_optional_text_may_be_left_empty_in_both() -> None:
    claim = (
        "---\nclaim: A.\nverdict: supported\ncheck_id:\norder: 1\n"
        "last_reviewed: 2026-11-01\nnext_review: 2029-11-01\n---\n"
    )
    assert build_errors(CLAIM, claim) == []
    assert schema_errors("claim", claim) == []


def test_the_schema_command_writes_and_then_keeps_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schemas"
    assert main(["schema", "--source", str(tmp_path), "--out", str(out)]) == 0
    names = [f"{name}.schema.json" for name in SCHEMAS]
    assert capsys.readouterr().out.splitlines() == [f"wrote {out / n}" for n in names]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == schema_files()
    assert main(["schema", "--source", str(tmp_path), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"unchanged {out / n}" for n in names]
    assert main(["schema", "--source", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == sorted(names)


def test_vs_code_maps_the_site_settings_schema() -> None:
    settings = json.loads((REPO / ".vscode/settings.json").read_text(encoding="utf-8"))
    assert settings["yaml.schemas"] == {"./schemas/site.schema.json": "content/site.yaml"}
    extensions = json.loads((REPO / ".vscode/extensions.json").read_text(encoding="utf-8"))
    assert extensions["recommendations"] == ["redhat.vscode-yaml", "unifiedjs.vscode-remark"]


def test_remark_config_maps_every_content_schema() -> None:
    config = (REPO / ".remarkrc.mjs").read_text(encoding="utf-8")
    mapped = dict(
        re.findall(r"'\./schemas/(\w+)\.schema\.json': \['\./content/(\w+)/\*\.md'\]", config)
    )
    assert mapped == FOLDERS


REMARK = REPO / "node_modules" / ".bin" / "remark"


def test_remark_underlines_front_matter_mistakes_on_their_lines(
    project: Callable[..., Path],
) -> None:
    """What VS Code's remark extension shows as you type: the same config, run in a terminal."""
    broken = STUDY_FILE.replace("design: rct", "design: rtc").replace(
        "participants: 120", "participants: many"
    )
    root = project({"content/studies/smith-2020.md": broken})
    for name in (".remarkrc.mjs", "schemas", "package.json"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    (root / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)
    done = subprocess.run(
        [str(REMARK), "content", "--quiet", "--frail", "--no-stdout", "--no-color"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    lines = [line.split() for line in done.stderr.splitlines() if re.match(r"\s*\d+:\d+", line)]
    assert [(words[0], words[2:5]) for words in lines] == [
        ("3:9-3:12", ["Must", "be", "equal"]),
        ("7:15-7:19", ["Must", "be", "integer"]),
    ]
    assert done.stderr.splitlines()[0] == "content/studies/smith-2020.md"


def test_the_setup_guide_shows_the_projects_own_settings() -> None:
    guide = (REPO / "docs/editor-setup.md").read_text(encoding="utf-8")
    shown_json = re.search(r"```json\n(.*?)```", guide, re.DOTALL)
    assert shown_json is not None
    settings = (REPO / ".vscode/settings.json").read_text(encoding="utf-8")
    assert json.loads(textwrap.dedent(shown_json.group(1))) == json.loads(settings)
    shown_js = re.search(r"```js\n(.*?)```", guide, re.DOTALL)
    assert shown_js is not None
    config = (REPO / ".remarkrc.mjs").read_text(encoding="utf-8")
    assert " ".join(textwrap.dedent(shown_js.group(1)).split()) in " ".join(config.split())
    for name in SCHEMAS:
        assert f"`schemas/{name}.schema.json`" in guide
