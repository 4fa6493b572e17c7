from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "cosignatory.web.ui"
    label = "ui"
    verbose_name = "Interface"
