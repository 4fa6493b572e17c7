from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "cosignatory.web.signing"
    label = "signing"
    verbose_name = "Signing"
