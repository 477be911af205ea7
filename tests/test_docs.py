"""The docs are checked: their code runs, every hook is documented, every page is linked.

1. Every ```python block in docs/*.md runs. A page's blocks run in order in one namespace
   (a module registered in ``sys.modules``, so makes defined in a page can be sent to
   worker processes), with a fresh temporary folder as the working directory. A block
   whose first line is ``# file: PATH`` is the content of that file: it is written there
   (and runs when later blocks load it). A block right after a ``<!-- no-run ... -->``
   comment is skipped. An ```output block right after a python block is what that block
   must print.
2. Every hook in djflow/hookspecs.py is in docs/plugins.md with its exact signature, and
   the hook reference there documents no hook that does not exist.
3. docs/index.md links to every page of docs/.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from djflow import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE_RE = re.compile(
    r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL
)
NO_RUN_RE = re.compile(r"<!--\s*no-run\b(?:(?!-->).)*-->\s*\Z", re.DOTALL)
HOOK_HEADING_RE = re.compile(r"^### `(?P<name>\w+)`", re.MULTILINE)
FILE_RE = re.compile(r"\A# file: (?P<path>\S+)[ \t]*\n")


@dataclass
class Block:
    """One ```python block of a page: its code, where it starts, whether and what it prints."""

    code: str
    line: int
    run: bool
    expected_output: str | None = None

    @property
    def file(self) -> str | None:
        """The path this block is the content of (``# file: PATH`` on its first line), if any."""
        match = FILE_RE.match(self.code)
        return match["path"] if match else None


def python_blocks(page: Path) -> list[Block]:
    """The page's python blocks in order, each with the output block that follows it, if any."""
    text = page.read_text(encoding="utf-8")
    blocks: list[Block] = []
    previous_end = None
    for fence in FENCE_RE.finditer(text):
        between = text[previous_end : fence.start()] if previous_end is not None else None
        previous_end = fence.end()
        if fence["lang"] == "output":
            if (
                blocks
                and between is not None
                and not between.strip()
                and blocks[-1].expected_output is None
            ):
                blocks[-1].expected_output = fence["body"]
                continue
            raise AssertionError(
                f"{page.name}, line {text.count(chr(10), 0, fence.start()) + 1}: an output block must "
                "follow a python block directly"
            )
        if fence["lang"] != "python":
            previous_end = None
            continue
        line = text.count("\n", 0, fence.start("body")) + 1
        run = not NO_RUN_RE.search(text[: fence.start()].rstrip() + "\n")
        blocks.append(Block(fence["body"], line, run))
    return blocks


def same_output(printed: str, expected: str) -> bool:
    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip("\n").splitlines()]

    return lines(printed) == lines(expected)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in ("DJFLOW_DB", "DJFLOW_PIPEFILE"):
        monkeypatch.delenv(variable, raising=False)
    module = types.ModuleType(f"djflow_docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in python_blocks(page):
        if not block.run:
            continue
        if block.file is not None:
            path = tmp_path / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.code, encoding="utf-8")
            continue
        # blank lines in front, so a traceback names the line of the page
        code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, module.__dict__)
        except Exception as error:
            error.add_note(f"in the python block at {page.name} line {block.line}")
            raise
        if block.expected_output is not None:
            assert same_output(printed.getvalue(), block.expected_output), (
                f"{page.name}, the python block at line {block.line} printed:\n{printed.getvalue()}\n"
                f"but the page shows:\n{block.expected_output}"
            )


def hook_specs() -> dict[str, object]:
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if hasattr(function, "djflow_spec")
    }


def signature_text(name: str, function) -> str:
    """``name(param: type, ...) -> type`` exactly as written in hookspecs.py."""

    def shown(annotation) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    signature = inspect.signature(function)
    parameters = ", ".join(
        f"{p.name}: {shown(p.annotation)}" for p in signature.parameters.values()
    )
    return f"{name}({parameters}) -> {shown(signature.return_annotation)}"


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_documented_with_signature(name: str) -> None:
    plugins_page = (DOCS / "plugins.md").read_text(encoding="utf-8")
    documented = set(HOOK_HEADING_RE.findall(plugins_page))
    assert name in documented, f"docs/plugins.md has no '### `{name}`' section"
    expected = signature_text(name, hook_specs()[name])
    assert expected in plugins_page, f"docs/plugins.md does not show the signature {expected}"


def test_documented_hooks_exist() -> None:
    plugins_page = (DOCS / "plugins.md").read_text(encoding="utf-8")
    unknown = set(HOOK_HEADING_RE.findall(plugins_page)) - set(hook_specs())
    assert not unknown, (
        f"docs/plugins.md documents hooks that djflow/hookspecs.py lacks: {sorted(unknown)}"
    )


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)", index))
    missing = [page.name for page in PAGES if page.name != "index.md" and page.name not in linked]
    assert not missing, f"docs/index.md does not link to {missing}"
