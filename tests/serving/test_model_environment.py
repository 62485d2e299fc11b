"""Every served champion is self-contained: loaded and used in a clean environment built from its own
``requirements.txt``, outside the project, it predicts exactly what the project predicts.

One virtualenv (uv, from its cache when it can; CI's cache is warm after ``uv sync``) is shared by the
families: their requirements are the same list, which the test checks first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.serving.conftest import ROOT

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
import mlflow, pandas as pd
for job in json.loads(open(sys.argv[1]).read()):
    model = mlflow.pyfunc.load_model(job["model"])
    out = model.predict(pd.read_parquet(job["input"]), params=job["params"] or None)
    out.to_parquet(job["output"])
    job["training"] = sys.modules["training"].__file__  # where the model's code came from
    print(json.dumps(job))
"""


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".uv" / "bin" / "uv")
    if not Path(found).is_file():
        pytest.fail("uv is needed to build the clean environment (it is on PATH in CI after `uv sync`)")
    return found


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SHOPML_")}


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def champions(shop, tmp_path_factory):
    """``{registry name: (family, local model folder)}`` for every trained champion of the session's shop."""
    import mlflow

    from serving.models import default_specs
    from shopml.settings import load_settings
    from training.registry import load_champion
    from training.tracking import configure_mlflow

    settings = load_settings(data_home=shop.home)
    configure_mlflow(settings)
    root = tmp_path_factory.mktemp("models")
    out = {}
    for spec in default_specs():
        if shop.trained.get(spec.name) != "ok":
            continue
        champion = load_champion(spec.family, settings)
        for name, version in champion.versions.items():
            out[name] = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=str(root / name)))
    if len(out) < 2:
        pytest.fail(f"fewer than two families trained: {shop.trained}")
    return out


def test_models_carry_their_code_and_pinned_requirements_not_the_project(champions):
    from training.packaging import CODE_PACKAGES, pinned_requirements

    for name, folder in champions.items():
        requirements = (folder / "requirements.txt").read_text().split()
        assert requirements == pinned_requirements(), name
        assert any(r.startswith("pydantic-settings==") for r in requirements)
        assert not (folder / "uv.lock").exists() and not (folder / "pyproject.toml").exists(), name
        code = folder / "code"
        assert sorted(p.name for p in code.iterdir()) == sorted(CODE_PACKAGES), name
        assert not list(code.rglob("__pycache__")), name


@pytest.fixture(scope="module")
def venv(champions, tmp_path_factory) -> Path:
    """A virtualenv outside the project with only the (shared) requirements of the champions installed."""
    where = tmp_path_factory.mktemp("clean-env")
    requirements = next(iter(champions.values())) / "requirements.txt"
    uv = _uv()
    made = _run([uv, "venv", "--quiet", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
                 str(where / "venv")], cwd=where)
    assert made.returncode == 0, made.stderr
    python = where / "venv" / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)]
    done = _run([*install, "--offline"], cwd=where)
    if done.returncode != 0:  # a cache without this exact set: fetch what is missing
        done = _run(install, cwd=where)
    assert done.returncode == 0, done.stderr[-3000:]
    return python


def _inputs(shop, champions) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Input frames (and params) per registered model, from the session's data and champions."""
    from features.customers import CUSTOMER_FEATURES
    from features.pipeline import latest_feature_dir
    from shopml.settings import load_settings
    from training.forecast import Forecaster
    from training.recommend import Recommender
    from training.registry import load_champion

    settings = load_settings(data_home=shop.home)
    inputs: dict[str, tuple[pd.DataFrame, dict]] = {}
    if "churn" in champions:
        table = pd.read_parquet(latest_feature_dir(settings.features_dir) / "customers.parquet")
        features = table[list(CUSTOMER_FEATURES)].head(200).reset_index(drop=True)
        inputs["churn"] = inputs["customer_value"] = (features, {})
    if "recommender" in champions:
        model = load_champion(Recommender, settings).model
        ids = [*model.customer_ids[:20].tolist(), "never-seen"]
        inputs["recommender"] = (pd.DataFrame({"customer_id": ids, "k": [5] * len(ids)}), {"k": 5})
    if "demand_forecast" in champions:
        model = load_champion(Forecaster, settings).model
        regional = model.keys[model.keys["region"] != "ALL"].head(3)
        frame = pd.DataFrame({"sku": [*model.skus[:3], *regional["sku"]],
                              "region": [None, None, None, *regional["region"]]})
        inputs["demand_forecast"] = (frame, {"horizon": 3})
    return inputs


def test_champions_predict_identically_in_a_clean_environment(shop, champions, venv, tmp_path):
    from training.customers import ChurnModel, ValueModel
    from training.forecast import Forecaster
    from training.recommend import Recommender

    families = {"churn": ChurnModel, "customer_value": ValueModel, "recommender": Recommender,
                "demand_forecast": Forecaster}
    jobs, expected = [], {}
    for name, (frame, params) in _inputs(shop, champions).items():
        folder = champions[name]
        frame.to_parquet(tmp_path / f"{name}.in.parquet")
        jobs.append({"model": str(folder), "input": str(tmp_path / f"{name}.in.parquet"), "params": params,
                     "output": str(tmp_path / f"{name}.out.parquet"), "name": name})
        project = families[name].load(folder / "artifacts" / "model")
        expected[name] = project.predict(frame, params)
    (tmp_path / "run.py").write_text(SCRIPT)
    for job in jobs:  # one process per model: each imports the code it carries
        (tmp_path / "job.json").write_text(json.dumps([job]))
        done = _run([str(venv), str(tmp_path / "run.py"), str(tmp_path / "job.json")], cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        ran = json.loads(done.stdout.splitlines()[-1])
        assert Path(ran["training"]).is_relative_to(Path(job["model"])), ran  # the model's code, not the checkout's
        got = pd.read_parquet(job["output"])
        pd.testing.assert_frame_equal(got, expected[job["name"]].reset_index(drop=True), check_exact=True)
