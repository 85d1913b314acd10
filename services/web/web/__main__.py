"""``python -m web <django command>`` (migrate, check, ...), or ``python -m web serve``."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    if sys.argv[1:2] == ["serve"]:
        from web.serve import serve

        serve()
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], *sys.argv[1:]])


main()
