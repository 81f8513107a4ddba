"""The site's stylesheets parse cleanly: a CSS error silently disables every rule after it."""
from pathlib import Path

import pytest
import tinycss2

CSS_DIR = Path(__file__).resolve().parent.parent / "static" / "tfapp" / "css"
STYLESHEETS = sorted(CSS_DIR.glob("*.css"))
#: At-rules whose block holds style rules; any other block holds declarations only.
RULE_BLOCKS = {"media", "supports", "keyframes"}


def problems(css):
    """Every parse error, and every style rule nested inside another, as ``"line N: what"``."""
    return _check_rules(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))


def _check_rules(rules):
    found = []
    for rule in rules:
        if rule.type == "error":
            found.append(f"line {rule.source_line}: {rule.message}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in RULE_BLOCKS:
            found += _check_rules(tinycss2.parse_rule_list(rule.content or [], skip_comments=True,
                                                           skip_whitespace=True))
        elif rule.type in ("qualified-rule", "at-rule") and rule.content is not None:
            found += _check_declarations(rule)
    return found


def _check_declarations(rule):
    selector = tinycss2.serialize(rule.prelude).strip()
    found = []
    for node in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
        if node.type == "error":
            found.append(f"line {node.source_line}: {node.message} (in {selector})")
        elif node.type != "declaration":
            found.append(f"line {node.source_line}: a rule nested in {selector}; is a brace missing?")
    return found


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda path: path.name)
def test_stylesheet_parses_without_errors_or_nested_rules(path):
    """Each stylesheet parses with a real CSS parser: no error, and no style rule nested in another."""
    assert problems(path.read_text()) == []


def test_the_check_finds_a_missing_closing_brace():
    """A rule left open swallows the rules after it, and the check says where."""
    css = ".note {\n  color: grey;\n\n.nav-button {\n  border: 0;\n}\n"
    assert problems(css) == ["line 4: a rule nested in .note; is a brace missing?"]


def test_the_check_finds_a_malformed_declaration():
    """A declaration without its colon is reported, with the rule it is in."""
    [problem] = problems("a { color red; }\n")
    assert problem.startswith("line 1:") and problem.endswith("(in a)")


def test_media_queries_and_keyframes_hold_rules():
    """Rules inside @media and @keyframes are where they are meant to be, not nested by mistake."""
    css = "@media (max-width: 420px) { a { color: red; } }\n@keyframes spin { to { transform: rotate(1turn); } }\n"
    assert problems(css) == []


def test_there_are_stylesheets_to_check():
    """The site's stylesheets are found, so the parametrised test above runs on them."""
    assert {path.name for path in STYLESHEETS} >= {"site.css", "admin.css", "error.css"}
