"""The bad-input catalogue of ``bench/bad_inputs.py`` (400 cases, each with the answer it must get) against the
session's real service: no 5xx, no hang, no wrong status, every error in the documented shape."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

CATALOGUE = Path(__file__).resolve().parents[2] / "bench" / "bad_inputs.py"


@pytest.fixture(scope="module")
def bad_inputs():
    spec = importlib.util.spec_from_file_location("shopml_bench_bad_inputs", CATALOGUE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_bad_input_gets_its_stated_answer(server, needs, bad_inputs):
    needs("customers", "recommender", "forecast")
    cases = bad_inputs.catalogue(bad_inputs.known_sku(server.url))
    assert len(cases) >= 200
    result = bad_inputs.run_catalogue(server.url, cases, timeout=20, workers=2)
    assert result["server_errors"] == 0 and result["hung"] == 0, result["failures"]
    assert result["wrong_answers"] == 0, result["failures"]
