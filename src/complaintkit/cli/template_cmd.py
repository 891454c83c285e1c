"""`complaintkit template`: the blank register that prevents the classic mistakes."""

from __future__ import annotations

import click

from ..outputs import atomic_write, check_writable, require_xlsx
from ..policy import load_policy
from ..register_template import build_template
from .common import friendly_errors, lang_option


@click.command("template")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Where to write the .xlsx.")
@click.option("--config", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_CONFIG", help="Policy whose fields and allowed values the template uses.")
@lang_option
@click.option("--rows", type=click.IntRange(10, 100000), default=2000, show_default=True, help="Rows prepared with formats and dropdowns.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def template_cmd(output, config, lang, rows, force, debug):
    """Write a blank complaint register: ID and phone columns as text, dropdowns for allowed
    values, date formats, frozen header and an instructions sheet."""
    require_xlsx(output, "template")
    target = check_writable(output, force)
    wb = build_template(load_policy(config), lang, rows)
    atomic_write(target, lambda tmp: wb.save(tmp))
    click.echo(str(target))
