from django.apps import AppConfig


class LogConfig(AppConfig):
    name = "cosignatory.web.log"
    label = "tlog"
    verbose_name = "Transparency log"
