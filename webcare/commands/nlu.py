"""`webcare nlu`: train, analyse, evaluate, and move training data in and out (Rasa YAML, staff labels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from webcare.commands import echo_json, json_option
from webcare.core.errors import NLUError

if TYPE_CHECKING:
    from webcare.app import App

_JSONL = click.Path(exists=True, dir_okay=False, path_type=Path)


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.group("nlu")
def nlu() -> None:
    """Natural-language understanding: train, analyse, evaluate, import and export training data."""


@nlu.command()
@click.option("--sentiment", "sentiment_files", multiple=True, type=_JSONL,
              help="Extra sentiment labels, JSONL {\"text\", \"label\"} (negative/neutral/positive).")
@click.option("--complaint", "complaint_files", multiple=True, type=_JSONL,
              help="Extra complaint labels, JSONL {\"text\", \"label\"} (yes/no).")
@click.option("--urgency", "urgency_files", multiple=True, type=_JSONL,
              help="Extra urgency labels, JSONL {\"text\", \"label\"} (low/normal/high).")
@click.pass_obj
def train(app: App, sentiment_files: tuple[Path, ...], complaint_files: tuple[Path, ...],
          urgency_files: tuple[Path, ...]) -> None:
    """Train the NLU models on the content in data_dir (plus your own labels) and save them."""
    from webcare.nlu import Analyzer

    labels = [("sentiment", str(p)) for p in sentiment_files] + [("complaint", str(p)) for p in complaint_files]
    labels += [("urgency", str(p)) for p in urgency_files]
    analyzer = Analyzer.train(app.settings.nlu, progress=_say, label_files=labels)
    meta = analyzer.meta
    click.echo(f"Trained {len(meta['intents'])} intents on {meta['examples']} examples, {meta['articles']} "
               f"articles, {meta['affect_rows']} affect texts in {meta['train_seconds']} s "
               f"→ {app.settings.nlu.model_dir}")


@nlu.command()
@click.argument("text")
@click.option("--language", help="The conversation's language (used for very short texts).")
@json_option
@click.pass_obj
def analyze(app: App, text: str, language: str | None, as_json: bool) -> None:
    """Analyse one TEXT: language, intent, entities, sentiment, complaint, urgency, knowledge."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    result = app.analyzer(_say).analyze(text, {"language": language} if language else None)
    if as_json:
        echo_json(result.to_dict())
        return
    table = Table("field", "value", show_header=False)
    scope = " (out of scope)" if result.out_of_scope else ""
    table.add_row("language", f"{result.language} ({result.language_confidence:.2f})")
    table.add_row("intent", f"{result.intent or '—'} ({result.confidence:.2f}){scope}")
    table.add_row("ranking", ", ".join(f"{n} {c:.2f}" for n, c in result.ranking[:3]))
    table.add_row("entities", escape(", ".join(f"{e.type}={e.value}" for e in result.entities)) or "—")
    table.add_row("sentiment", f"{result.sentiment} ({result.sentiment_score:+.2f})")
    table.add_row("complaint", f"{'yes' if result.complaint else 'no'} ({result.complaint_score:.2f})")
    table.add_row("urgency", f"{result.urgency} ({result.urgency_score:.2f})")
    for hit in result.knowledge:
        table.add_row("knowledge", escape(f"{hit.article_id} [{hit.language}] {hit.title} ({hit.score:.2f})"))
    Console().print(table)


def _print_report(report: dict[str, Any], as_json: bool, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if as_json:
        echo_json(report)
        return
    table = Table("metric", "value", title=title)
    for key, value in report.items():
        if isinstance(value, (int, float, str)) or value is None:
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table)
    if report.get("per_class") and len(report["per_class"]) <= 12:
        per = Table("class", "precision", "recall", "f1", "support")
        for name, m in report["per_class"].items():
            per.add_row(name, str(m["precision"]), str(m["recall"]), str(m["f1"]), str(m["support"]))
        console.print(per)
    if report.get("confusion"):
        worst = Table("gold", "predicted", "count", title="most frequent confusions")
        for row in report["confusion"]:
            worst.add_row(row["gold"], row["predicted"], str(row["count"]))
        console.print(worst)


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = report.get("confusion") or []
    labels = sorted({r["gold"] for r in confusion} | {r["predicted"] for r in confusion})
    index = {name: i for i, name in enumerate(labels)}
    grid = [[0] * len(labels) for _ in labels]
    for r in confusion:
        grid[index[r["gold"]]][index[r["predicted"]]] = r["count"]
    fig, ax = plt.subplots(figsize=(max(4, len(labels) * 0.6), max(3, len(labels) * 0.5)))
    ax.imshow(grid or [[0]], cmap="Reds")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("confusions of the worst intents")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@nlu.command()
@click.argument("task", type=click.Choice(["intent", "sentiment", "complaint", "urgency"]))
@click.option("--train", "train_file", type=_JSONL, help="Train on this JSONL {\"text\", \"label\"} only.")
@click.option("--test", "test_file", type=_JSONL, help="Evaluate on this JSONL {\"text\", \"label\"}.")
@click.option("--validation", "validation_file", type=_JSONL, help="Intent only: calibrate on this JSONL.")
@click.option("--dataset", help="A public set in the data dir instead of files: clinc150, banking77, "
              "xsid-nl, xsid-en (intent); tweeteval, bol, political (sentiment); ours (our affect test split).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The shared data folder (default: $WEBCARE_DATA_DIR or ../shared/data).")
@click.option("--oos-label", default="oos", show_default=True, help="Intent only: the out-of-scope label.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Intent only: confusion plot PNG.")
@json_option
@click.pass_obj
def evaluate(app: App, task: str, train_file: Path | None, test_file: Path | None, validation_file: Path | None,
             dataset: str | None, data_dir: Path | None, oos_label: str, plot: Path | None, as_json: bool) -> None:
    """Evaluate TASK: train on TRAIN only, score on TEST (or the shipped models when --train is absent)."""
    from rich.console import Console

    from webcare.nlu import datasets
    from webcare.nlu.data import AFFECT_FIELDS, load_affect
    from webcare.nlu.evaluate import evaluate_affect, evaluate_intents, train_affect

    config = app.settings.nlu
    read = datasets.read_jsonl_rows
    train_rows = read(train_file) if train_file else None
    test_rows = read(test_file) if test_file else None
    validation = read(validation_file) if validation_file else None
    if dataset:
        root = datasets.data_dir(data_dir)
        if task == "intent" and dataset in datasets.INTENT_SETS:
            splits = datasets.INTENT_SETS[dataset](root)
            train_rows = train_rows or splits["train"]
            test_rows = test_rows or splits["test"]
            validation = validation or splits.get("val")
        elif task != "intent" and dataset in datasets.SENTIMENT_SETS and task == "sentiment":
            test_rows = test_rows or datasets.SENTIMENT_SETS[dataset](root)
        elif task != "intent" and dataset == "ours":
            rows = load_affect(Path(config.data_dir), config.languages, "test")
            test_rows = [{"text": r["text"], "label": r[task], "lang": r.get("lang")} for r in rows
                         if task in AFFECT_FIELDS and r.get(task) is not None]
        else:
            raise click.BadParameter(f"{dataset!r} is not a {task} dataset", param_hint="--dataset")
    if not test_rows:
        raise click.UsageError("give --test FILE or --dataset NAME")
    if task == "intent":
        if not train_rows:
            raise click.UsageError("intent evaluation needs --train FILE (or --dataset)")
        with Console(stderr=True).status("training the intent pipeline…") if not as_json else _null():
            report = evaluate_intents(config, train_rows, test_rows, oos_label, validation,
                                      progress=None if as_json else _say)
        if plot:
            _plot(report, plot)
    else:
        sentiment_model = None
        if train_rows:
            features, heads, seconds = train_affect(config, task, train_rows)
        else:
            analyzer = app.analyzer(_say)
            features, heads, seconds = analyzer.features, analyzer.affect, None
            sentiment_model = analyzer.sentiment_model
        try:
            report = evaluate_affect(task, test_rows, features, heads, seconds, sentiment_model)
        except NLUError as e:
            raise click.ClickException(str(e)) from e
    _print_report(report, as_json, f"{task} evaluation")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@nlu.command("finetune-sentiment")
@click.option("--base", required=True, help="Hugging Face model name or folder to start from (e.g. MiniLM's).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the fine-tuned model (replaced when it exists).")
@click.option("--sentiment", "sentiment_files", multiple=True, type=_JSONL,
              help="Your own sentiment labels, JSONL {\"text\", \"label\"} (negative/neutral/positive).")
@click.option("--no-affect-data", is_flag=True, help="Only the --sentiment files, not the affect/<lang>.jsonl train split.")
@click.option("--epochs", default=2, show_default=True, type=click.IntRange(1, 100))
@click.option("--learning-rate", default=5e-5, show_default=True, type=click.FloatRange(0, 1, min_open=True))
@click.pass_obj
def finetune_sentiment_command(app: App, base: str, out_dir: Path, sentiment_files: tuple[Path, ...],
                               no_affect_data: bool, epochs: int, learning_rate: float) -> None:
    """Fine-tune a Hugging Face model into a sentiment classifier for nlu.sentiment_model (minutes on a CPU)."""
    from webcare.nlu.data import load_affect
    from webcare.nlu.datasets import read_jsonl_rows
    from webcare.nlu.evaluate import affect_rows
    from webcare.nlu.finetune import finetune_sentiment

    config = app.settings.nlu
    rows = [] if no_affect_data else load_affect(Path(config.data_dir), config.languages, "train")
    try:
        rows += [r for path in sentiment_files for r in affect_rows(read_jsonl_rows(path), "sentiment")]
        stats = finetune_sentiment(base, rows, out_dir, epochs=epochs, learning_rate=learning_rate,
                                   max_length=config.hf_max_length,
                                   threads=config.threads, progress=_say)
    except NLUError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Fine-tuned {base} on {stats['examples']} texts {stats['per_class']} in {stats['seconds']} s → "
               f"{out_dir}\nUse it with nlu.sentiment_model: {out_dir} in config.yml")


@nlu.command("import-rasa")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--language", required=True, help="The language of these files (nl, en, …).")
@click.pass_obj
def import_rasa_command(app: App, files: tuple[Path, ...], language: str) -> None:
    """Merge a Rasa 3 project's FILES (or folders: every .yml in them) into webcare's content.

    Training data, responses and the domain are read; stories, rules and other files are skipped."""
    from webcare.nlu.rasa import import_rasa, project_files

    paths = project_files(list(files))
    if not paths:
        raise click.ClickException("no .yml files found in the given folders")
    added = import_rasa(paths, Path(app.settings.nlu.data_dir), language)
    click.echo("Imported " + ", ".join(f"{n} {k}" for k, n in added.items()) + f" into {app.settings.nlu.data_dir}."
               " Run `webcare nlu train` to use them.")


@nlu.command("export-rasa")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def export_rasa_command(app: App, directory: Path) -> None:
    """Write the content as a Rasa 3 project: DIRECTORY/<language>/nlu.yml and domain.yml."""
    from webcare.nlu.rasa import export_rasa

    written = export_rasa(Path(app.settings.nlu.data_dir), directory, app.settings.nlu.languages)
    if not written:
        raise click.ClickException(f"no NLU content in {app.settings.nlu.data_dir}/nlu/")
    click.echo("Wrote " + ", ".join(str(p) for p in written))


@nlu.command("export-labels")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path(".webcare/labels"))
@click.option("--with-affect-data", is_flag=True, help="Also include the labelled affect/<lang>.jsonl train split.")
@click.pass_obj
def export_labels(app: App, directory: Path, with_affect_data: bool) -> None:
    """Export staff corrections (the store's labels) as JSONL training data, one file per task."""
    from webcare.nlu.data import AFFECT_FIELDS, load_affect

    rows: dict[str, list[dict[str, Any]]] = {}
    if with_affect_data:
        for r in load_affect(Path(app.settings.nlu.data_dir), app.settings.nlu.languages, "train"):
            for task in AFFECT_FIELDS:
                if r.get(task) is not None:
                    rows.setdefault(task, []).append({"text": r["text"], "label": r[task], "lang": r.get("lang")})
    for label in app.store.labels():
        rows.setdefault(label["task"], []).append(
            {"text": label["text"], "label": label["label"], "lang": label.get("language"), "source": "staff"})
    directory.mkdir(parents=True, exist_ok=True)
    for task, items in sorted(rows.items()):
        path = directory / f"{task}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
        click.echo(f"{path}: {len(items)} labels")
    if not rows:
        click.echo("No labels in the store yet.")
    else:
        click.echo(f"Fold them in with: webcare nlu train --sentiment {directory}/sentiment.jsonl …")
