from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "cosignatory.web.notices"
    label = "notices"
    verbose_name = "Email notices"
