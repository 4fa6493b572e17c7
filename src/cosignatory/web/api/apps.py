from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "cosignatory.web.api"
    label = "api"
    verbose_name = "JSON API"
