from django.apps import AppConfig


class ComplicationsConfig(AppConfig):
    name = "complications"
    verbose_name = "Complications (CTCAE v5.0)"

    def ready(self) -> None:
        # registry's writes re-derive complications and refresh the outcome
        # summary through these hooks: registry never imports complications.
        from complications import registry_hooks

        registry_hooks.connect()
