"""One definition of an ambassador (listeners.ambassadors), and its users agree on the same data:
the console's /ambassadors page and `webcare mentions ambassadors` list the same authors in the
same order, with the threshold and weights of config.yml's listeners.ambassadors."""

from __future__ import annotations

import json
import re

import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from emulators.console_kit import add_user, fast_argon2, login  # noqa: F401 - fast_argon2: autouse fixture
from webcare.cli import cli
from webcare.config import Settings
from webcare.console import create_app
from webcare.store import Store

MIN_POSITIVE = 2  # not the default (3): both users must read it from config


def mention(i: int, author_id: str, sentiment: str, reach: int) -> dict:
    return {"source": "x", "external_id": f"m{i}", "author_id": author_id, "author": f"h{author_id}",
            "author_name": None, "author_reach": reach, "url": None, "text": f"post {i}", "language": "en",
            "sentiment": sentiment, "sentiment_score": 0.0, "complaint": 0, "complaint_score": 0.0,
            "urgency": "normal", "priority": 0.1, "flagged": 0}


def test_the_console_page_and_the_cli_list_the_same_ambassadors_in_the_same_order(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    section = {"store": {"url": url}, "console": {"secret_key": "test-secret", "language": "en"},
               "listeners": {"ambassadors": {"min_positive": MIN_POSITIVE}}}
    (tmp_path / "config.yml").write_text(yaml.safe_dump(section))
    authors = {"1": ("positive",) * 2, "2": ("positive",) * 4, "3": ("positive",),  # 3: one post only
               "4": ("positive", "negative", "negative"), "5": ("positive",) * 2}  # 4: too negative
    reach = {"1": 10, "2": 5, "3": 10**6, "4": 100, "5": 100_000}
    store = Store.open(url)
    rows = [(author, s) for author, posts in authors.items() for s in posts]
    store.ingest_mentions([mention(i, a, s, reach[a]) for i, (a, s) in enumerate(rows)])

    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "config.yml"), "mentions", "ambassadors", "--json"])
    assert result.exit_code == 0, result.output
    from_cli = [a["author"] for a in json.loads(result.output)]

    app = create_app(store, Settings.model_validate(section))
    add_user(store, "sam", "social")
    client = TestClient(app)
    login(client, "sam")
    page = client.get("/ambassadors").text
    from_console = re.findall(r"@(h\d+)</td>", page)

    assert from_cli == from_console
    assert set(from_cli) == {"h1", "h2", "h5"}  # at least MIN_POSITIVE positive posts, few negative
    assert from_cli[0] == "h5"  # reach weighs in: two posts with a large reach beat four with a small one
    assert f"at least {MIN_POSITIVE} positive mentions" in page
    store.close()
