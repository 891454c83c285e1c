"""`complaintkit config`: see the effective policy, or start a bank's own policy file."""

from __future__ import annotations

import click
import tomli_w

from ..messages import register_messages, t
from ..operations import check_policy
from ..outputs import to_json
from ..policy import default_policy_text, load_policy
from .common import friendly_errors, lang_option, write_text_output

register_messages({
    "config_ok": ("策略无误：{sources}", "the policy is sound: {sources}"),
})


@click.group("config")
def config_group() -> None:
    """The policy: fields, aliases, allowed values, rules, deadlines, taxonomy, risk weights."""


@config_group.command("show")
@click.option("--config", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_CONFIG", help="Policy file merged over the defaults.")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@lang_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def config_show(config, fmt, lang, debug):
    """Print the effective policy (defaults with --config merged over them), once every check has
    read it: a mistake in any section exits 2 here, not when that check first runs."""
    policy = load_policy(config)
    check_policy(policy)
    if fmt == "json":
        click.echo(to_json(policy.data))
    else:
        click.echo(f"# effective policy: {' + '.join(policy.sources)}")
        click.echo(tomli_w.dumps(policy.data), nl=False)


@config_group.command("check")
@click.option("--config", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_CONFIG", help="Policy file merged over the defaults.")
@lang_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def config_check(config, lang, debug):
    """Check a policy file as every check will read it (exit 0 sound, 2 with the first mistake):
    run it after editing the bank's policy, before the night's batch."""
    policy = load_policy(config)
    check_policy(policy)
    click.echo(t("config_ok", lang, sources=" + ".join(policy.sources)))


@config_group.command("init")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="complaintkit.toml", show_default=True)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def config_init(output, force, debug):
    """Write the default policy, with its comments, as a starting point for your own."""
    write_text_output(output, default_policy_text(), force)
    click.echo(output)
