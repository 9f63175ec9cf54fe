from django.apps import AppConfig


class ComplicationsConfig(AppConfig):
    name = "complications"
    verbose_name = "Complications (CTCAE v5.0)"
