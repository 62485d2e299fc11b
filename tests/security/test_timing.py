"""Timing-safe key checks, checked structurally (a timing measurement on a shared 2-core machine would be flaky).

* :meth:`serving.keys.KeyRing.identify` hashes the presented key once, then compares the digest with every stored
  digest by :func:`hmac.compare_digest`, with no ``break`` or ``return`` in the loop;
* every comparison it makes is between two 32-byte digests, whatever was presented (``compare_digest`` returns
  early on a length mismatch, so comparing the raw key would leak its length), and the number of comparisons
  is the number of keys, whichever key matched or none;
* the console's CSRF and login-token checks use ``compare_digest`` too;
* no source file of the service, the console, the key store or the CLI compares a secret-like value (a digest,
  key, token, secret, CSRF token) with ``==``, ``!=`` or ``in``, outside a short list of reviewed exceptions.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import serving.keys as keys_module
from serving.console import session as session_module
from serving.keys import KeyRing, KeyStore, ServiceKeys

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"(^|_)(digest|digests|sha256|secret|secrets|token|csrf|password|presented|api_key)($|_)",
                         re.IGNORECASE)
REVIEWED = {
    ("serving/keys.py", "k.sha256 in demo"): "the demo keys' digests are public (documented keys)",
    ("serving/keys.py", "k.sha256 not in demo"): "the demo keys' digests are public (documented keys)",
    ("serving/models.py", "actual.get(name) != digest"): "a model file's checksum (integrity), not a secret",
}
"""Comparisons of secret-like names that are not secrets, with the reason."""


def _function(obj) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def _calls(node: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(name)]


def test_identify_compares_every_digest_without_an_early_exit(cases):
    tree = _function(KeyRing.identify)
    loops = [n for n in ast.walk(tree) if isinstance(n, ast.For)]
    with cases.of("timing_safe") as check:
        check(len(loops) == 1, "identify has one loop over the stored digests")
        loop = loops[0]
        check(bool(_calls(loop, "hmac.compare_digest")), "the loop compares with hmac.compare_digest")
        exits = [type(n).__name__ for n in ast.walk(loop) if isinstance(n, ast.Break | ast.Return | ast.Raise)]
        check(not exits, f"no early exit inside the loop: {exits}")
        hashed = [n for n in tree.body if isinstance(n, ast.Assign) and _calls(n, "sha256")]
        check(bool(hashed) and tree.body.index(hashed[0]) < tree.body.index(loop),
              "the presented key is hashed once, before the loop")
        check(not [n for n in ast.walk(tree) if isinstance(n, ast.Compare) and
                   any(isinstance(op, ast.Eq | ast.NotEq) for op in n.ops)], "no == or != in identify")


def test_every_comparison_is_of_two_32_byte_digests(monkeypatch, settings, cases):
    store = KeyStore(settings)
    issued = [store.create(["marketing"], actor="cli:t")[1] for _ in range(3)]
    store.revoke(store.load()[0].id, actor="cli:t")
    ring = ServiceKeys(settings).current()
    seen: list[tuple[type, int, type, int]] = []
    real = keys_module.hmac.compare_digest
    monkeypatch.setattr(keys_module.hmac, "compare_digest",
                        lambda a, b: seen.append((type(a), len(a), type(b), len(b))) or real(a, b))
    presented = [*issued, "demo-admin-key", "", "x", "k" * 100_000, "démo-ключ-🔑", issued[0][:-1], issued[0] + "x",
                 "\x00" * 64, "a" * 64]
    with cases.of("timing_safe") as check:
        for key in presented:
            seen.clear()
            ring.identify(key)
            check(len(seen) == len(ring) and all(s == (bytes, 32, bytes, 32) for s in seen),
                  f"a key of {len(key)} characters: {len(seen)} comparisons of {set(seen)}")


def test_the_console_compares_its_tokens_in_constant_time(cases):
    with cases.of("timing_safe") as check:
        for function in (session_module.csrf_ok, session_module.SessionCodec.check_login_token):
            tree = _function(function)
            compared = [n for n in ast.walk(tree) if isinstance(n, ast.Compare) and
                        any(isinstance(op, ast.Eq | ast.NotEq) for op in n.ops)]
            check(bool(_calls(tree, "hmac.compare_digest")) and not compared,
                  f"{function.__qualname__} uses hmac.compare_digest and no ==")


def _named(node: ast.AST) -> str | None:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def test_no_secret_is_compared_with_eq_or_in(cases):
    files = [*sorted((ROOT / "serving").rglob("*.py")), ROOT / "cli" / "keys.py", ROOT / "shopml" / "audit.py"]
    with cases.of("timing_safe") as check:
        for path in files:
            relative = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Compare):
                    continue
                if not any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
                    continue
                operands = [node.left, *node.comparators]
                if any(isinstance(o, ast.Constant) and o.value is None for o in operands):
                    continue
                if any(isinstance(o, ast.Constant) and isinstance(o.value, str) for o in operands):
                    continue  # a form field's or a scheme's name, not a secret
                names = [n for n in map(_named, operands) if n]
                if not any(SECRET_NAME.search(n) for n in names):
                    continue
                text = ast.unparse(node)
                check((relative, text) in REVIEWED, f"{relative}:{node.lineno} compares a secret: {text}")
            check(True, f"{relative} scanned")
