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
