"""The policy packs are data: each rule names its type, law or house, and its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from cuishou.compliance.check import CHECKS
from cuishou.compliance.packs import PackError, pack_get, pack_read


@pytest.mark.parametrize("code", ["CN", "US"])
def test_every_rule_of_the_shipped_packs_is_known_and_cited(code: str) -> None:
    pack = pack_get(code)
    rules = pack.all_rules
    assert rules and all(r.type in CHECKS and r.kind in {"law", "house"} for r in rules)
    assert all(r.source.strip() for r in rules)
    assert len({r.id for r in rules}) == len(rules)


def test_a_broken_pack_is_refused_naming_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "xx.toml"
    path.write_text(
        'code = "XX"\nversion = "1"\nname = "x"\ntimezone = "UTC"\n'
        '[[rules]]\nid = "xx.loud"\ntype = "loudspeaker"\nkind = "law"\nsource = "none"\n',
        encoding="utf-8",
    )
    with pytest.raises(PackError, match=r"xx\.loud.*loudspeaker"):
        pack_read(path, frozenset(CHECKS))


def test_only_the_call_counting_rules_the_law_excuses_are_overridable() -> None:
    # Given the shipped packs, the rules a compliance officer may lift are exactly these,
    # each saying when an override is legitimate.
    lifted = {
        code: {r.id: r.override_when for r in pack_get(code).overridable_rules}
        for code in ("CN", "US")
    }
    assert set(lifted["CN"]) == {"cn.answered_calls_per_day"}
    assert set(lifted["US"]) == {"us.call_frequency", "us.call_after_conversation"}
    assert "called back" in lifted["CN"]["cn.answered_calls_per_day"]
    assert all("1006.14(b)(3)" in when for when in lifted["US"].values())
    # Quiet hours, third parties, language, visits, cease, disclosure: never.
    for code in ("CN", "US"):
        assert not any(r.overridable for r in pack_get(code).all_rules if r.id not in lifted[code])


_HEAD = 'code = "XX"\nversion = "1"\nname = "x"\ntimezone = "UTC"\n[[rules]]\n'


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (
            'id = "xx.night"\ntype = "quiet_hours"\nkind = "law"\nsource = "s"\n'
            'params = { from = "22:00", until = "08:00" }\n'
            'overridable = true\noverride_when = "the debtor asked"\n',
            r"xx\.night.*quiet_hours.*cannot be overridable",
        ),
        (
            'id = "xx.calls"\ntype = "answered_calls_per_day"\nkind = "law"\nsource = "s"\n'
            "params = { max = 3 }\noverridable = true\n",
            r"xx\.calls.*needs override_when",
        ),
        (
            'id = "xx.calls"\ntype = "answered_calls_per_day"\nkind = "law"\nsource = "s"\n'
            'params = { max = 3 }\noverride_when = "the debtor asked"\n',
            r"xx\.calls.*override_when without overridable",
        ),
        (
            'id = "xx.calls"\ntype = "answered_calls_per_day"\nkind = "law"\nsource = "s"\n'
            'params = { max = 3 }\noverridable = "yes"\noverride_when = "the debtor asked"\n',
            r"xx\.calls.*overridable is true or false",
        ),
        (
            'id = "xx.calls"\ntype = "answered_calls_per_day"\nkind = "law"\nsource = "s"\n'
            "params = { max = 3 }\noveridable = true\n",
            r"xx\.calls.*unknown keys overidable",
        ),
    ],
)
def test_a_pack_that_misdeclares_an_override_is_refused_naming_the_rule(
    tmp_path: Path, rule: str, why: str
) -> None:
    path = tmp_path / "xx.toml"
    path.write_text(_HEAD + rule, encoding="utf-8")
    with pytest.raises(PackError, match=why):
        pack_read(path, frozenset(CHECKS))
