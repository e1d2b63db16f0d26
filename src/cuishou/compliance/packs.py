"""Policy packs: the rules of a jurisdiction as data (``policies/<code>.toml``), versioned.

Each rule has an id, a type (what the engine checks, ``cuishou.compliance.check``), its
parameters, whether it is law or house policy, and the source it comes from. A client
chooses its pack (``portfolio.Client.policy_pack``). State overlays (US) add rules for a
debtor living in that state; an overlay rule of the same type as a pack rule applies
besides it, so the stricter of the two decides.

A rule may say ``overridable = true`` with ``override_when`` (the circumstance in which an
override is legitimate, shown on the compliance page): an approved override
(``compliance.overrides``) then lifts it on one case for a window. Only the counting rules
(``OVERRIDABLE_TYPES``) can be overridable; quiet hours, third parties, language, visits,
cease and disclosure never are, whatever a pack file says.

A rule's ``applies_to`` says whom it binds: ``all`` (the default) or ``debt_collector``
— a rule of a law that covers debt collectors only (the FDCPA, Regulation F), skipped for
a client that collects its own accounts (``Client.first_party_creditor``). The engine's
house rules bind everyone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

PACK_DIR = Path(__file__).with_name("policies")
CHANNEL_ORDER = ("call", "sms", "email", "letter", "visit")
ALL_CHANNELS = frozenset(CHANNEL_ORDER)
CONSENT_CHANNELS = ("call", "sms", "email")  # the channels consent and opt-outs are kept for
KINDS = frozenset({"law", "house"})
# The rule types a pack may mark overridable: how often the debtor is called. An override
# never lifts a time, third-party, language, visit, cease or disclosure rule.
OVERRIDABLE_TYPES = frozenset(
    {"answered_calls_per_day", "calls_in_days", "call_after_conversation"}
)
APPLIES_TO = ("all", "debt_collector")


class PackError(ValueError):
    """A pack file that cannot be used; the message names the file, the rule and why."""


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    kind: str  # "law" or "house"
    source: str
    channels: frozenset[str] = ALL_CHANNELS
    params: dict[str, Any] = field(default_factory=dict)
    overridable: bool = False
    override_when: str = ""  # when an override is legitimate (overridable rules only)
    applies_to: str = "all"  # or "debt_collector": skipped for a first-party creditor

    def param(self, name: str) -> Any:
        return self.params[name]

    @property
    def channel_list(self) -> list[str]:
        return [c for c in CHANNEL_ORDER if c in self.channels]


@dataclass(frozen=True)
class Pack:
    code: str
    version: str
    name: str
    timezone: str
    rules: tuple[Rule, ...]
    overlays: dict[str, tuple[Rule, ...]]

    def rules_for(self, state: str = "") -> tuple[Rule, ...]:
        return self.rules + self.overlays.get(state.upper(), ())

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """The pack's rules and every overlay's, in order."""
        return self.rules + tuple(r for rs in self.overlays.values() for r in rs)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.all_rules if r.id == rule_id), None)

    @property
    def overridable_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.all_rules if r.overridable)


# The keys a rule of a pack file may have: a misspelt one ("overidable") is refused, not
# silently ignored.
RULE_KEYS = frozenset(
    {
        "id",
        "type",
        "kind",
        "source",
        "channels",
        "params",
        "applies_to",
        "overridable",
        "override_when",
    }
)


def _rule(path: Path, raw: dict[str, Any], known_types: frozenset[str]) -> Rule:
    rule_id = str(raw.get("id", ""))
    where = f"{path.name}: rule {rule_id or '?'}"
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise PackError(
            f"{where}: unknown keys {', '.join(unknown)}"
            f" (a rule has {', '.join(sorted(RULE_KEYS))})"
        )
    for key in ("id", "type", "kind", "source"):
        if not raw.get(key):
            raise PackError(f"{where}: {key} is missing")
    if raw["kind"] not in KINDS:
        raise PackError(f"{where}: kind is law or house, not {raw['kind']!r}")
    if raw["type"] not in known_types:
        raise PackError(f"{where}: no check of type {raw['type']!r}")
    if raw["type"] == "quiet_hours" and any(
        minutes_of((raw.get("params") or {}).get(k)) is None for k in ("from", "until")
    ):
        raise PackError(f"{where}: quiet hours need from and until as HH:MM")
    channels = frozenset(raw.get("channels") or ALL_CHANNELS)
    if channels - ALL_CHANNELS:
        raise PackError(f"{where}: unknown channels {sorted(channels - ALL_CHANNELS)}")
    overridable, override_when = _override(where, raw)
    applies_to = raw.get("applies_to", "all")
    if applies_to not in APPLIES_TO:
        raise PackError(f"{where}: applies_to is all or debt_collector, not {applies_to!r}")
    _check_params(where, raw["type"], dict(raw.get("params") or {}))
    return Rule(
        id=rule_id,
        type=raw["type"],
        kind=raw["kind"],
        source=raw["source"],
        channels=channels,
        params=dict(raw.get("params") or {}),
        overridable=overridable,
        override_when=override_when,
        applies_to=applies_to,
    )


def _override(where: str, raw: dict[str, Any]) -> tuple[bool, str]:
    """(overridable, override_when) of a rule, checked: a bool, a reason to say when,
    and a rule type an override may lift."""
    overridable = raw.get("overridable", False)
    when = raw.get("override_when", "")
    if not isinstance(overridable, bool):
        raise PackError(f"{where}: overridable is true or false, not {overridable!r}")
    if not isinstance(when, str):
        raise PackError(f"{where}: override_when is a sentence, not {when!r}")
    if not overridable:
        if when:
            raise PackError(f"{where}: override_when without overridable = true")
        return False, ""
    if raw["type"] not in OVERRIDABLE_TYPES:
        raise PackError(
            f"{where}: a rule of type {raw['type']!r} cannot be overridable "
            f"(only {', '.join(sorted(OVERRIDABLE_TYPES))})"
        )
    if not when.strip():
        raise PackError(
            f"{where}: overridable needs override_when (when an override is legitimate)"
        )
    return True, when.strip()


def _check_params(where: str, rule_type: str, params: dict[str, Any]) -> None:
    """The parameters of the rule types that read lists."""
    if rule_type == "prior_consent":
        channels = params.get("required_for")
        if not isinstance(channels, list) or set(channels) - set(CONSENT_CHANNELS):
            raise PackError(
                f"{where}: prior consent needs required_for, a list of call, sms, email"
            )
    if rule_type == "opt_out_instruction":
        phrases = params.get("phrases")
        if (
            not isinstance(phrases, list)
            or not phrases
            or not all(isinstance(x, str) and x.strip() for x in phrases)
        ):
            raise PackError(f"{where}: an opt-out instruction needs phrases, a list of texts")


def rule_applies(rule: Rule, *, first_party: bool) -> bool:
    """Does the rule bind this client (a first-party creditor is not a debt collector)?"""
    return not (first_party and rule.applies_to == "debt_collector")


def pack_read(path: Path, known_types: frozenset[str]) -> Pack:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"{path.name}: {exc}") from exc
    for key in ("code", "version", "name", "timezone"):
        if not data.get(key):
            raise PackError(f"{path.name}: {key} is missing")
    rules = tuple(_rule(path, r, known_types) for r in data.get("rules", []))
    overlays = {
        state.upper(): tuple(_rule(path, r, known_types) for r in entries)
        for state, entries in (data.get("overlays") or {}).items()
    }
    ids = [r.id for r in rules] + [r.id for rs in overlays.values() for r in rs]
    if len(ids) != len(set(ids)):
        raise PackError(f"{path.name}: rule ids repeat")
    return Pack(
        code=data["code"],
        version=str(data["version"]),
        name=data["name"],
        timezone=data["timezone"],
        rules=rules,
        overlays=overlays,
    )


@lru_cache(maxsize=8)
def pack_get(code: str) -> Pack:
    """The pack with this code (``CN``, ``US``), read once."""
    from cuishou.compliance.check import CHECKS  # the rule types the engine knows

    path = PACK_DIR / f"{code.lower()}.toml"
    if not path.is_file():
        raise PackError(f"no policy pack {code!r}")
    return pack_read(path, frozenset(CHECKS))


# Which way is stricter for each parameter a client may set, per rule type.
STRICTER: dict[str, dict[str, str]] = {
    "quiet_hours": {"from": "earlier", "until": "later"},
    "answered_calls_per_day": {"max": "lower"},
    "unanswered_per_number_per_day": {"max": "lower"},
    "third_party_unreachable": {"failed_attempts": "higher"},
    "visit_visitors": {"min": "higher"},
    "calls_in_days": {"max": "lower", "days": "higher"},
    "call_after_conversation": {"days": "higher"},
    "prior_consent": {"required_for": "more"},
}
MAX_FAILED_ATTEMPTS = 10  # the engine looks back on the debtor's last 10 own attempts


def minutes_of(value: Any) -> int | None:
    """Minutes since midnight of an ``"HH:MM"`` time (the packs' quiet hours), else None."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 23 or int(minutes) > 59:
        return None
    return int(hours) * 60 + int(minutes)


def stricter_errors(rule: Rule, params: Any) -> list[str]:
    """Why ``params`` would not make ``rule`` stricter (empty: they do), in words."""
    from django.utils.translation import gettext as _

    if not isinstance(params, dict) or not params:
        return [_('Set at least one parameter, as an object such as {"max": 2}.')]
    allowed = STRICTER.get(rule.type, {})
    errors = []
    for name, value in params.items():
        way = allowed.get(name)
        if way is None:
            errors.append(
                _("%(name)s: this rule has no parameter a client may set by that name (%(names)s).")
                % {"name": name, "names": ", ".join(allowed) or "—"}
            )
            continue
        base = rule.params[name]
        if way == "more":  # a list of channels: the pack's and more
            ok = (
                isinstance(value, list)
                and set(base) <= set(value)
                and set(value) <= set(CONSENT_CHANNELS)
            )
        elif way in ("earlier", "later"):
            v, b = minutes_of(value), minutes_of(base)
            noon = 12 * 60
            ok = (
                v is not None
                and b is not None
                and (noon <= v <= b if way == "earlier" else b <= v <= noon)
            )
        else:
            ok = (
                isinstance(value, int)
                and not isinstance(value, bool)
                and (0 <= value <= base if way == "lower" else base <= value)
            )
            if ok and name == "failed_attempts":
                ok = value <= MAX_FAILED_ATTEMPTS
        if not ok:
            errors.append(
                _("%(name)s: %(value)s is not stricter than the pack's %(base)s.")
                % {"name": name, "value": value, "base": base}
            )
    return errors


def rules_with(rules: tuple[Rule, ...], overrides: dict[str, dict[str, Any]]) -> tuple[Rule, ...]:
    """``rules`` with a client's stricter parameters applied (rule id → parameters)."""
    if not overrides:
        return rules
    return tuple(
        replace(r, params={**r.params, **overrides[r.id]}) if r.id in overrides else r
        for r in rules
    )
