"""Stage order: a module may import only from stages before it (errors <- ... <- build)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "backpain_site"

# Each module with the modules it may import from the package.
LAYERS = [
    {"cache"},
    {"problems", "evidence", "urls", "citations", "paths", "markdown_checks", "csl_fixes"},
    {"output_tree", "progress", "forked"},
    {"frontmatter"},
    {"schema", "bibliography"},
    {"csl_data"},
    {"content", "csl", "fieldhelp", "bibliography_parts"},
    {"findings", "evidence_map", "jsonld", "readability", "scaffold", "page_memo"},
    {"load", "markdown_body", "exports"},
    {"remembered"},
    {"resolve"},
    {"discovery", "bibliography_pages", "edit_snapshot"},
    {"render"},
    {"search_index"},
    {"writer"},
    {"incremental", "prefetch"},
    {"edit_path"},
    {"build", "report", "preview"},
    {"watch"},
    {"new", "schema_export", "serve"},
    {"cli", "__init__"},
    {"__main__"},
]


def layer_of(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if module in names)


def test_imports_follow_the_stage_order() -> None:
    wrong = []
    for path in sorted(PACKAGE.glob("*.py")):
        module = path.stem
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                imported = node.module.split(".")[0]
                if layer_of(imported) >= layer_of(module) and imported != module:
                    wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_only_the_writer_writes_files() -> None:
    writers = [
        p.stem
        for p in sorted(PACKAGE.glob("*.py"))
        if any(
            call in p.read_text(encoding="utf-8")
            for call in ("write_bytes(", "write_text(", "open(", "rename(")
        )
    ]
    assert writers == ["writer"]


def test_livereload_only_in_serve() -> None:
    users = [
        p.stem
        for p in sorted(PACKAGE.glob("*.py"))
        if "import livereload" in p.read_text(encoding="utf-8")
        or "from livereload" in p.read_text(encoding="utf-8")
    ]
    assert users in ([], ["serve"])
