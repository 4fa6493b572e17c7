from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "cosignatory.web.public"
    label = "public"
    verbose_name = "Public register"
