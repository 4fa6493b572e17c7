from django.apps import AppConfig


class RegisterConfig(AppConfig):
    name = "cosignatory.web.register"
    label = "register"
    verbose_name = "Register"
