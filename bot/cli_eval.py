"""``threadline eval FILE.csv``: how understanding plus policy handle labelled messages."""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from bot.evaluation import (
    MAX_EXAMPLES,
    NEUTRAL_MOMENT,
    EvalFileError,
    evaluate,
    format_report,
    read_rows,
)
from policies import PolicyError, decide, load_policy


@click.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--policies",
    "policies_path",
    type=click.Path(exists=True, path_type=Path),
    envvar="THREADLINE_POLICIES",
    default=None,
    help="Policy file or folder (default: $THREADLINE_POLICIES, else the shipped policy).",
)
@click.option(
    "--intents",
    "intents_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="THREADLINE_INTENTS",
    default=None,
    help="Intents file (default: $THREADLINE_INTENTS, else the shipped intents).",
)
@click.option(
    "--at",
    "moment",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]),
    default=None,
    help="The moment every message is decided at, with its UTC offset "
    "(default: a Wednesday afternoon, 2026-01-14T15:00+0000).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--show-misses",
    type=click.IntRange(min=0),
    default=MAX_EXAMPLES,
    show_default=True,
    help="How many missed and false escalations to list (text output).",
)
def eval_command(
    file: Path,
    policies_path: Path | None,
    intents_path: Path | None,
    moment: datetime | None,
    as_json: bool,
    show_misses: int,
) -> None:
    """Evaluate understanding + policy on FILE.csv (columns `text` and `decision`).

    Prints escalation precision and recall (rows labelled ESCALATE_EXPLICIT must escalate), the
    false-escalation rate on ANSWER_FAQ and ANSWER_ORDER_DATA rows (they must not), the answer
    rate and a label × action table. Every message is decided for a verified returning customer
    with no order in question and no history.
    """
    # Fitting the classifier (and importing scikit-learn) waits until the command runs.
    from bot.nlu import SHIPPED_INTENTS, IntentsFileError, OfflineUnderstanding

    try:
        rows = read_rows(file)
        policy = load_policy(policies_path)
        understanding = OfflineUnderstanding.from_file(intents_path or SHIPPED_INTENTS)
    except (EvalFileError, IntentsFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    except PolicyError as exc:
        raise click.ClickException(f"the policy is invalid:\n{exc}") from exc
    if not rows:
        raise click.ClickException(f"{file}: no rows with both text and decision")
    report = evaluate(
        rows,
        understanding.understand,
        functools.partial(decide, policy),
        now=moment or NEUTRAL_MOMENT,
    )
    if as_json:
        json.dump(report.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        click.echo(format_report(report, show_misses=show_misses))
