from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "cosignatory.web.desk"
    label = "desk"
    verbose_name = "Registrar's desk"
