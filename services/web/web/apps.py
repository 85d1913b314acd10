from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"
    label = "web"
    verbose_name = "Confide front door"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from web import signals

        signals.connect()
