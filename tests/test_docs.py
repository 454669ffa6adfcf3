"""The documentation against the code: every `roomnote` command shown in README.md and docs/ (code
blocks and inline code) exists in the CLI with the options shown, every relative link and image
resolves inside the repository (anchors included), every test a page cites exists, and the
README stays a short front page. Fails only on real drift."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CITED_TEST = re.compile(r"\b(tests/[\w/]+\.py)::(\w+)")
# where a command starts in a shell line: first word, after a pipe or list operator, a prompt,
# sudo / runuser, or an absolute path to the executable (/opt/roomnote/bin/roomnote)
STARTS = {"|", "||", "&&", ";", "$", "sudo", "--", "exec", "time", "then", "do", "-m"}
ENDS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "#"}


def _parser():
    from roomnote.cli import _parser as make
    return make()


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def _options(p: argparse.ArgumentParser) -> set[str]:
    return {o for a in p._actions for o in a.option_strings}


def _text_without_fences(text: str) -> str:
    return FENCE.sub("", text)


def shell_lines(text: str) -> list[str]:
    """Lines of code blocks (backslash continuations joined) and inline code spans."""
    out = []
    for block in FENCE.findall(text):
        out += block.replace("\\\n", " ").splitlines()
    out += INLINE.findall(_text_without_fences(text))
    return out


def commands(line: str) -> list[list[str]]:
    """Each `roomnote ...` invocation on a line, as its words up to the end of that command."""
    toks = line.replace("[", " ").replace("]", " ").split()
    found = []
    for i, t in enumerate(toks):
        if t != "roomnote" and not t.endswith("/bin/roomnote"):
            continue
        prev = toks[i - 1] if i else ""
        if i and prev not in STARTS and not (i >= 2 and toks[i - 2] == "-u"):
            continue
        words = []
        for w in toks[i + 1:]:
            if w in ENDS or w.startswith("#"):
                break
            words.append(w)
        found.append(words)
    return found


def check_command(words: list[str], parser: argparse.ArgumentParser) -> str | None:
    """None when `roomnote <words>` names a real command with real options; else what is wrong."""
    p, path = parser, ["roomnote"]
    global_opts = _options(parser)
    rest = list(words)
    while rest and rest[0] in global_opts:  # roomnote -q process ...
        rest.pop(0)
    while rest:
        subs = _subparsers(p)
        if not subs:
            break
        w = rest[0]
        if w.startswith("-") or not re.fullmatch(r"[a-z][a-z0-9-]*", w):
            break
        if w not in subs:
            return f"{' '.join(path)} has no command {w!r} (it has {', '.join(sorted(subs))})"
        p, path = subs[w], path + [w]
        rest.pop(0)
    known = _options(p) | global_opts
    for w in rest:
        opt = w.split("=", 1)[0].rstrip(",")
        if opt.startswith("--") and re.fullmatch(r"--[a-z][a-z0-9-]*", opt) and opt not in known:
            return f"{' '.join(path)} has no option {opt}"
    return None


def slug(heading: str) -> str:
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _text_without_fences(page.read_text())
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.*)$", text, re.M)}


def test_the_command_checker_finds_real_drift():
    p = _parser()
    assert check_command(["inbox", "discard", "NOTE_ID", "--config", "x"], p) is None
    assert check_command(["models", "install", "B", "--root", "DIR"], p) is None
    assert "no command 'frobnicate'" in check_command(["frobnicate"], p)
    assert "no option --rooot" in check_command(["provision", "--office", "f", "--rooot", "d"], p)
    assert commands("sudo -u roomnote roomnote enroll --config /etc/roomnote/roomnote.toml") == \
        [["enroll", "--config", "/etc/roomnote/roomnote.toml"]]
    assert commands("cat /etc/roomnote/roomnote.toml | roomnote models list # x") == [["models", "list"]]
    assert commands("the roomnote user") == []
    assert commands(".venv/bin/python -m roomnote review --config ws.toml") == [["review", "--config", "ws.toml"]]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_shown_exists_with_its_options(page):
    parser = _parser()
    bad = []
    for line in shell_lines(page.read_text()):
        for words in commands(line):
            problem = check_command(words, parser)
            if problem:
                bad.append(f"{line.strip()!r}: {problem}")
    assert bad == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_inside_the_repository(page):
    bad = []
    for target in LINK.findall(_text_without_fences(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if REPO.resolve() not in dest.parents and dest != REPO.resolve():
            bad.append(f"{target}: outside the repository (a clone does not have it)")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert bad == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_cited_test_exists(page):
    bad = [f"{f}::{t}" for f, t in CITED_TEST.findall(page.read_text())
           if not (REPO / f).is_file() or not re.search(rf"^def {t}\(", (REPO / f).read_text(), re.M)]
    assert bad == []


def test_the_readme_is_a_short_front_page_that_links_every_audience():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    links = set(LINK.findall(text))
    for page in ("docs/review.md", "docs/practice-setup.md", "docs/provisioning.md", "docs/privacy.md",
                 "docs/figures.md", "docs/development.md"):
        assert page in links, page
    for drift in ("roomnote.note/1", "../shared/", "DESIGN.md"):
        assert drift not in text


def test_no_page_cites_a_stale_name():
    for page in PAGES:
        text = page.read_text()
        assert "roomnote.note/1" not in text, page
        assert not re.search(r"(?<![\w-])signing\.key\.pub\.pem", text), page  # it is device-signing.key.pub.pem
