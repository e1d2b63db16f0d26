import pytest
from django.contrib.auth.models import Group

from cuishou.accounts.choices import Role
from cuishou.core.validators import normalize_id_number
from tests.factories import make_id_number


@pytest.mark.django_db
def test_every_role_is_a_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_generated_id_numbers_pass_the_gb11643_check():
    for n in (0, 1, 14999, 15000, 123456):
        assert normalize_id_number(make_id_number(n)) == make_id_number(n)
