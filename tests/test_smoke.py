import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from cuishou.accounts.choices import Role
from cuishou.core.validators import normalize_id_number, normalize_phone
from tests.factories import make_id_number


@pytest.mark.django_db
def test_every_role_is_a_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_generated_id_numbers_pass_the_gb11643_check():
    for n in (0, 1, 14999, 15000, 123456):
        assert normalize_id_number(make_id_number(n)) == make_id_number(n)


def test_id_numbers_under_retired_region_codes_are_accepted_and_bad_ones_refused():
    # 440106 did not exist in 1984 in stdnum's region table, but the check digit is right.
    assert normalize_id_number("440106198408083332") == "440106198408083332"
    cases = {
        "440106198408083333": "id_checksum",
        "44010619840808333": "id_length",
        "110105198613011116": "id_date",  # month 13, right check digit
    }
    for bad, code in cases.items():
        with pytest.raises(ValidationError) as raised:
            normalize_id_number(bad)
        assert raised.value.code == code


def test_phones_are_kept_as_dialled_in_china():
    assert normalize_phone("138 0013 8000") == "13800138000"
    assert normalize_phone("+86 138-0013-8000") == "13800138000"
    assert normalize_phone("021-6321 2345") == "02163212345"  # Shanghai landline keeps its 0
    assert normalize_phone("+852 9123 4567") == "+85291234567"
