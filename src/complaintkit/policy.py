"""The policy: every domain default in one TOML file, overridable by the bank's own file.

The shipped defaults live in ``templates/complaintkit.toml``. A user file passed with
``--config`` is merged over them key by key, so it only needs what it changes.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from .errors import PolicyError
from .messages import register_messages

register_messages({
    "pol_not_found": ("{path}：找不到策略文件", "{path}: policy file not found"),
    "pol_not_utf8": ("{path}：策略文件不是 UTF-8 文本（请用 UTF-8 编码另存）", "{path}: policy file is not UTF-8 text"),
    "pol_bad_toml": ("{path}：不是有效的 TOML（{detail}）", "{path}: not valid TOML ({detail})"),
    "pol_bad_severity": ("rules.{rule}.severity 应为 'error' 或 'warning'，而不是 {value!r}",
                         "rules.{rule}.severity must be 'error' or 'warning', not {value!r}"),
    "pol_unknown_required": ("fields.required 中有未知字段：{fields}", "fields.required names unknown fields: {fields}"),
    "pol_unknown_key": ("{path}：未知的设置项 {key}，不会生效（可用：{known}）", "{path}: unknown setting {key}, it would not apply (known: {known})"),
})

DEFAULT_POLICY_NAME = "complaintkit.toml"


def default_policy_text() -> str:
    """The shipped default policy file, as text (comments included)."""
    return resources.files("complaintkit").joinpath("templates").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")


def _merge(base: dict, override: dict) -> dict:
    """Deep-merge ``override`` into a copy of ``base``; tables merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class Policy:
    """The effective policy: the raw merged table plus typed accessors used by the core."""

    data: dict[str, Any]
    sources: list[str] = field(default_factory=list)

    def get(self, dotted: str, default: Any = None) -> Any:
        """Look up ``a.b.c``; missing keys give ``default``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def section(self, name: str) -> dict[str, Any]:
        """A top-level table (empty dict when absent)."""
        value = self.data.get(name, {})
        return value if isinstance(value, dict) else {}

    def rule(self, code: str) -> tuple[bool, str]:
        """(enabled, severity) of a validation rule; unknown rules are on, severity error."""
        spec = self.get(f"rules.{code}", {}) or {}
        return bool(spec.get("enabled", True)), str(spec.get("severity", "error"))

    def with_overrides(self, override: dict[str, Any]) -> "Policy":
        """A new policy with ``override`` merged over this one."""
        return Policy(_merge(self.data, override), list(self.sources))


def load_policy(config: str | Path | None = None) -> Policy:
    """Load the default policy and merge the file ``config`` (if given) over it."""
    data = tomllib.loads(default_policy_text())
    sources = ["(defaults)"]
    if config is not None:
        path = Path(config)
        try:
            user = tomllib.loads(path.read_text("utf-8-sig"))
        except FileNotFoundError:
            raise PolicyError("pol_not_found", path=path) from None
        except UnicodeDecodeError:
            raise PolicyError("pol_not_utf8", path=path) from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError("pol_bad_toml", path=path, detail=str(exc)) from None
        _check_names(data, user, path)
        data = _merge(data, user)
        sources.append(str(path))
    _check(data)
    return Policy(data, sources)


#: Where the keys are the bank's own names (spellings, labels, words), not settings: any key goes.
#: A place is the tuple of keys from the top of the file; "*" stands for any one key.
_OWN_NAMES = {("values", "aliases", "*"), ("classify", "category_aliases"), ("classify", "label_maps"), ("classify", "label_maps", "*"),
              ("classify", "rules", "*"), ("classify", "rules", "*", "*", "keywords"), ("classify", "rules", "*", "*", "patterns")}
#: Settings tables whose keys the shipped file does not all show (a rule's settings, a bank's own
#: reason); and tables keyed by field, whose keys are those of fields.aliases.
_SETTINGS = {("rules", "*"): ("enabled", "severity"), ("classify", "rules", "*", "*"): ("en", "keywords", "patterns")}
_FIELD_KEYED = {("fields", "aliases"), ("values", "allowed"), ("values", "aliases")}
#: Tables whose check reads every key and names a mistake itself, in its own words.
_SELF_CHECKED = {("risk",), ("deadlines", "overrides")}


def _place(where: tuple[str, ...], places: Iterable[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first of ``places`` (with "*" for any key) that ``where`` is, else None."""
    return next((p for p in places if len(p) == len(where) and all(k in ("*", w) for k, w in zip(p, where))), None)


def _check_names(defaults: dict[str, Any], user: dict[str, Any], path: Path, where: tuple[str, ...] = ()) -> None:
    """A misspelt section, setting or rule anywhere in the bank's file (``[feilds]``,
    ``[dedupe.repeat] window_day = 90``, ``phone_invalide``, ``severty``) would be ignored without a
    word and the bank's setting would never apply: every key is checked against the keys the
    shipped file has at its place, except where keys are the bank's own names (``_OWN_NAMES``)
    and in the tables whose check names a mistake itself (``_SELF_CHECKED``)."""
    shipped = defaults
    for key in where:
        shipped = shipped.get(key) if isinstance(shipped, dict) else None
    known: Sequence[str] | None
    settings = _place(where, _SETTINGS)
    if _place(where, _OWN_NAMES):
        known = None
    elif settings is not None:
        known = _SETTINGS[settings]
    elif _place(where, _FIELD_KEYED):
        known = list(defaults["fields"]["aliases"])
    else:
        known = list(shipped) if isinstance(shipped, dict) else None
    for key, value in user.items():
        if known is not None and key not in known:
            raise PolicyError("pol_unknown_key", path=path, key=".".join((*where, key)), known=", ".join(known))
        inner = (*where, key)
        if isinstance(value, dict) and not _place(inner, _SELF_CHECKED):
            _check_names(defaults, value, path, inner)


def _check(data: dict[str, Any]) -> None:
    """Catch the policy mistakes that would otherwise surface as odd results much later."""
    for code, spec in (data.get("rules") or {}).items():
        if isinstance(spec, dict) and spec.get("severity", "error") not in ("error", "warning"):
            raise PolicyError("pol_bad_severity", rule=code, value=spec.get("severity"))
    required = data.get("fields", {}).get("required", [])
    aliases = data.get("fields", {}).get("aliases", {})
    unknown = [f for f in required if f not in aliases]
    if unknown:
        raise PolicyError("pol_unknown_required", fields=", ".join(unknown))
