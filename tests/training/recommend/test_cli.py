"""`shopml recommend` / `shopml similar` on a saved recommender folder."""

import json

from typer.testing import CliRunner

from cli import app


def test_recommend_and_similar_commands(fitted, tmp_path, settings):
    folder = fitted.recommender.save(tmp_path / "rec")
    known = str(fitted.recommender.customer_ids[0])
    runner = CliRunner()
    result = runner.invoke(app, ["recommend", known, "--k", "4", "--json", "--model-dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert [r["sku"] for r in json.loads(result.output)] == [r.sku for r in fitted.recommender.recommend(known, k=4)]
    result = runner.invoke(app, ["similar", "NOPE", "--k", "2", "--json", "--model-dir", str(folder)])
    assert result.exit_code == 0 and {r["source"] for r in json.loads(result.output)} == {"popular_global"}
