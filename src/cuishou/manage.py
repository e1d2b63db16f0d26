"""The `cuishou` console script: Django's manage.py for this project."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cuishou.settings")
    from django.core.management import execute_from_command_line

    # `cuishou plan-visits` runs the command module plan_visits (a module name has no hyphen).
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = sys.argv[1].replace("-", "_")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
